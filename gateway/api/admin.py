"""The admin API: keys, limits (budgets, rate limits, logging) and operator modes. Every change is
written to the `audit` table (who, what, before, after, when) before the caller is answered.

Operator switches (degraded mode): drain or disable a deployment, disable an alias or force it onto
its fallbacks. Effective at once on the replica that serves the call; per-process state.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from gateway.api.deps import ServiceDep, StoreDep, WriterDep
from gateway.auth.gate import PrincipalDep, allow
from gateway.auth.keys import TEAM_RE
from gateway.auth.principal import Principal, Role
from gateway.budgets import window
from gateway.errors import GatewayError
from gateway.limits import Limits, ScopeLimits
from gateway.store import queries

router = APIRouter(prefix="/admin/v1")
ADMIN = allow("admin")
ADMIN_OR_FINANCE = allow("admin", "finance")


def actor(principal: Principal) -> str:
    return {"key": f"key:{principal.key_id}", "jwt": f"jwt:{principal.subject}"}.get(principal.kind, principal.subject)


# -- keys ---------------------------------------------------------------------------------------------

class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    team: str = Field(pattern=TEAM_RE)
    role: Role = "consumer"
    plan: Literal["free", "basic", "premium"] = "free"
    user_id: str = Field("", max_length=128)
    expires_in_s: int | None = Field(None, gt=0, le=10 * 365 * 86_400,
                                     description="the key stops working after this many seconds")
    reason: str = Field("", max_length=500)


class RevokeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field("", max_length=500)


class RotateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    grace_s: int = Field(0, ge=0, le=30 * 86_400, description="the old key keeps working this long")
    reason: str = Field("", max_length=500)


@router.post("/keys", status_code=201, **ADMIN)
def create_key(body: KeyIn, request: Request, principal: PrincipalDep):
    expires = datetime.now(UTC) + timedelta(seconds=body.expires_in_s) if body.expires_in_s else None
    rec, raw = request.app.state.keys.create(name=body.name, team=body.team, role=body.role, plan=body.plan,
                                             user_id=body.user_id, expires_at=expires, actor=actor(principal),
                                             reason=body.reason)
    return {**rec.public(), "key": raw, "note": "the key is shown once: store it now"}


@router.get("/keys", **ADMIN)
def list_keys(request: Request, team: str | None = Query(None, max_length=128)):
    return {"keys": [r.public() for r in request.app.state.keys.list(team)]}


@router.get("/keys/{key_id}", **ADMIN)
def get_key(key_id: str, request: Request):
    return request.app.state.keys.get(key_id).public()


@router.post("/keys/{key_id}/revoke", **ADMIN)
def revoke_key(key_id: str, body: RevokeIn, request: Request, principal: PrincipalDep):
    return request.app.state.keys.revoke(key_id, actor(principal), reason=body.reason).public()


@router.post("/keys/{key_id}/rotate", status_code=201, **ADMIN)
def rotate_key(key_id: str, body: RotateIn, request: Request, principal: PrincipalDep):
    rec, raw = request.app.state.keys.rotate(key_id, actor(principal), body.grace_s, body.reason)
    return {**rec.public(), "key": raw, "note": "the key is shown once: store it now"}


# -- limits and budgets -------------------------------------------------------------------------------

class LimitsIn(Limits):
    reason: str = Field("", max_length=500)


@router.get("/limits", **ADMIN_OR_FINANCE)
def list_limits(request: Request):
    rows = sorted(request.app.state.limits.all(), key=lambda r: r.scope)
    return {"limits": [r.model_dump(mode="json", exclude_unset=True) for r in rows],
            "plans": {k: v.model_dump(mode="json") for k, v in request.app.state.chat.gov.plans.items()}}


@router.put("/limits/{scope}", **ADMIN)
def set_limits(scope: str, body: LimitsIn, request: Request, principal: PrincipalDep):
    data = body.model_dump(exclude_unset=True)
    reason = data.pop("reason", "")
    try:
        row = ScopeLimits(scope=scope, limits=Limits(**data))
    except ValueError as exc:
        raise GatewayError(422, "invalid_request", str(exc).splitlines()[0], param="scope") from None
    if row.limits.prompt_logging is not None and not scope.startswith("team:"):
        raise GatewayError(422, "invalid_request", "prompt_logging is set per team (scope team:<id>)",
                           param="prompt_logging")
    before = request.app.state.limits.put(scope, row, actor(principal), "limits.set", reason)
    return {"scope": scope, "before": before.limits.model_dump(mode="json", exclude_unset=True) if before else None,
            "limits": row.limits.model_dump(mode="json", exclude_unset=True)}


@router.delete("/limits/{scope}", **ADMIN)
def delete_limits(scope: str, request: Request, principal: PrincipalDep, reason: str = Query("", max_length=500)):
    if request.app.state.limits.get(scope) is None:
        raise GatewayError(404, "limits_not_found", "No limits are set on this scope")
    request.app.state.limits.put(scope, None, actor(principal), "limits.delete", reason)
    return {"scope": scope, "deleted": True}


@router.get("/budgets", **ADMIN_OR_FINANCE)
def budgets(request: Request, store: StoreDep, writer: WriterDep):
    """Every budget the store can see, with what its current window has spent (from `model_calls`)."""
    now, tz = datetime.now(UTC), request.app.state.chat.policy.budget.time_zone
    writer.flush(timeout=10)
    out = []
    for b in request.app.state.chat.gov.configured_budgets():
        w = window(b, now, tz)
        spent = queries.cost_since(store, w.starts, b.scope)
        out.append({"scope": b.scope, "period": b.period, "mode": b.mode, "limit_usd": str(b.limit_usd),
                    "spent_usd": queries.usd(spent), "resets_at": w.resets.isoformat()})
    return {"budgets": out}


@router.get("/audit", **ADMIN)
def audit(store: StoreDep, writer: WriterDep, limit: int = Query(100, ge=1, le=10_000)):
    writer.flush(timeout=10)
    rows = store.query("SELECT ts, actor, action, target, before, after, reason FROM {db}.audit FINAL "
                       "ORDER BY ts DESC LIMIT {n:UInt32}", {"n": limit})
    return {"rows": [{**r, "ts": r["ts"].isoformat()} for r in rows]}


# -- operator modes -----------------------------------------------------------------------------------

class DeploymentModeIn(BaseModel):
    mode: Literal["normal", "drain", "disabled"]
    reason: str = Field("", max_length=500)


class AliasModeIn(BaseModel):
    mode: Literal["normal", "force_fallback", "disabled"]
    reason: str = Field("", max_length=500)


@router.get("/modes", **ADMIN)
async def modes(service: ServiceDep):
    now = service.now()
    breakers = {d: await service.breakers.state(d, now) for d in service.deployment_names()}
    return {**service.modes.snapshot(), "breakers": breakers, "in_flight": dict(service.in_flight),
            "in_flight_total": service.in_flight_total}


@router.put("/deployments/{name}/mode", **ADMIN)
async def set_deployment_mode(name: str, body: DeploymentModeIn, service: ServiceDep, writer: WriterDep,
                              principal: PrincipalDep):
    if name not in service.deployment_names():
        raise GatewayError(404, "deployment_not_found", f"No deployment named '{name[:100]}'")
    before = service.modes.set_deployment(name, body.mode)
    _audit(writer, principal, "deployment.mode", name, before, body.mode, body.reason)
    return {"deployment": name, "before": before, "mode": body.mode}


@router.put("/aliases/{name}/mode", **ADMIN)
async def set_alias_mode(name: str, body: AliasModeIn, service: ServiceDep, writer: WriterDep,
                         principal: PrincipalDep):
    if name not in service.alias_names():
        raise GatewayError(404, "model_not_found", f"No alias named '{name[:100]}'")
    before = service.modes.set_alias(name, body.mode)
    _audit(writer, principal, "alias.mode", name, before, body.mode, body.reason)
    return {"alias": name, "before": before, "mode": body.mode}


def _audit(writer, principal: Principal, action: str, target: str, before: str, after: str, reason: str) -> None:
    writer.emit("audit", {"audit_id": uuid.uuid4().hex, "ts": datetime.now(UTC), "actor": actor(principal),
                          "action": action, "target": target, "before": json.dumps(before),
                          "after": json.dumps(after), "reason": reason})


# -- who am I -----------------------------------------------------------------------------------------

me_router = APIRouter()


@me_router.get("/api/v1/me", **allow("admin", "engineer", "finance", "consumer"))
def me(principal: PrincipalDep, request: Request):
    limits = request.app.state.chat.gov.scoped(principal)
    return {"kind": principal.kind, "subject": principal.subject, "team": principal.team,
            "roles": sorted(principal.roles), "user_id": principal.user_id, "plan": principal.plan,
            "key_id": principal.key_id,
            "limits": {scope: lim.model_dump(mode="json", exclude_none=True) for scope, lim in limits}}
