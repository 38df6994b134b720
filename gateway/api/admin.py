"""Operator switches (degraded mode): drain or disable a deployment, disable an alias or force it onto
its fallbacks. Effective at once, no restart; every change lands in the `audit` table."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from gateway.api.deps import ServiceDep, WriterDep
from gateway.errors import GatewayError

router = APIRouter(prefix="/admin/v1")


class DeploymentModeIn(BaseModel):
    mode: Literal["normal", "drain", "disabled"]
    reason: str = Field("", max_length=500)


class AliasModeIn(BaseModel):
    mode: Literal["normal", "force_fallback", "disabled"]
    reason: str = Field("", max_length=500)


@router.get("/modes")
async def modes(service: ServiceDep):
    now = service.now()
    breakers = {d: await service.breakers.state(d, now) for d in service.deployment_names()}
    return {**service.modes.snapshot(), "breakers": breakers, "in_flight": dict(service.in_flight),
            "in_flight_total": service.in_flight_total}


@router.put("/deployments/{name}/mode")
async def set_deployment_mode(name: str, body: DeploymentModeIn, request: Request, service: ServiceDep,
                              writer: WriterDep):
    if name not in service.deployment_names():
        raise GatewayError(404, "deployment_not_found", f"No deployment named '{name[:100]}'")
    before = service.modes.set_deployment(name, body.mode)
    _audit(writer, request, "deployment.mode", name, before, body.mode, body.reason)
    return {"deployment": name, "before": before, "mode": body.mode}


@router.put("/aliases/{name}/mode")
async def set_alias_mode(name: str, body: AliasModeIn, request: Request, service: ServiceDep, writer: WriterDep):
    if name not in service.alias_names():
        raise GatewayError(404, "model_not_found", f"No alias named '{name[:100]}'")
    before = service.modes.set_alias(name, body.mode)
    _audit(writer, request, "alias.mode", name, before, body.mode, body.reason)
    return {"alias": name, "before": before, "mode": body.mode}


def _audit(writer, request: Request, action: str, target: str, before: str, after: str, reason: str) -> None:
    # Until keys and roles exist (governance issue), the actor is what the caller declares.
    actor = request.headers.get("x-resumeopt-actor", "admin")[:128]
    writer.emit("audit", {"audit_id": uuid.uuid4().hex, "ts": datetime.now(UTC), "actor": actor,
                          "action": action, "target": target, "before": json.dumps(before),
                          "after": json.dumps(after), "reason": reason})
