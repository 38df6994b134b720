"""Data-subject requests: `resumeopt gdpr export|erase --user ID` (admin API `/admin/v1/gdpr/...`).

What the platform holds about a user, and what each request does with it:

| where | export | erase |
|---|---|---|
| job records (Redis or in-process) | every job of the user | deleted |
| artifacts (inputs: resume text, job; results) | every object of those jobs | deleted |
| `model_calls` (one row per model call; prompt/completion as the team's logging mode allows) | the user's rows | prompt and completion emptied, `user_id` replaced by a pseudonym |
| `model_calls_1d` (per-day cost rollup, keyed by user) | - | the user's rows deleted |

Cost rows are pseudonymised rather than deleted: finance's totals stay right (money reports read
`model_calls`), and the pseudonym cannot be turned back into the user id. Each request is audited.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import uuid
from datetime import UTC, datetime

from fastapi import APIRouter, Request

from gateway.api.deps import read_body
from gateway.auth.gate import PrincipalDep, allow
from gateway.auth.principal import Principal
from gateway.errors import GatewayError, json_object
from optimiser.jobs.service import JobService
from optimiser.jobs.store import JobNotFound, public_view

MAX_EXPORT_CALLS = 100_000


def pseudonym(user_id: str) -> str:
    return "erased-" + hashlib.sha256(f"resumeopt-gdpr\x00{user_id}".encode()).hexdigest()[:16]


def export_user(user_id: str, service: JobService, store, writer) -> dict:
    writer.flush(timeout=10)
    jobs = []
    for job_id in service.store.by_user(user_id):
        try:
            record = public_view(service.store.get(job_id))
        except JobNotFound:
            continue
        files = {}
        for info in service.runner.artifacts.list(f"jobs/{job_id}/"):
            data = service.runner.artifacts.get(info.key)
            name = info.key.rsplit("/", 1)[-1]
            files[name] = (json.loads(data) if name.endswith(".json") else
                           data.decode() if name.endswith(".md") else base64.b64encode(data).decode())
        if isinstance(files.get("input.json"), dict):
            files["input.json"].pop("gateway_key", None)  # the submitter's credential is not their data
        jobs.append({"job": record, "artifacts": files})
    calls = store.query("SELECT * FROM {db}.model_calls FINAL WHERE user_id = {u:String} ORDER BY ts "
                        f"LIMIT {MAX_EXPORT_CALLS}", {"u": user_id})
    return {"user_id": user_id, "exported_at": datetime.now(UTC).isoformat(), "jobs": jobs,
            "model_calls": [{k: _plain(v) for k, v in row.items()} for row in calls]}


def erase_user(user_id: str, service: JobService, store, writer) -> dict:
    writer.flush(timeout=10)
    jobs = service.store.by_user(user_id)
    objects = 0
    for job_id in jobs:
        objects += service.runner.artifacts.delete_prefix(f"jobs/{job_id}/")
        service.store.forget(job_id)
    calls = store.query("SELECT count() AS n FROM {db}.model_calls WHERE user_id = {u:String}", {"u": user_id})[0]["n"]
    store.command("ALTER TABLE {db}.model_calls UPDATE user_id = {p:String}, prompt = '', completion = '' "
                  "WHERE user_id = {u:String} SETTINGS mutations_sync = 2", {"u": user_id, "p": pseudonym(user_id)})
    store.command("ALTER TABLE {db}.model_calls_1d DELETE WHERE user_id = {u:String} SETTINGS mutations_sync = 2",
                  {"u": user_id})
    return {"user_id": user_id, "jobs_deleted": len(jobs), "artifacts_deleted": objects,
            "model_calls_pseudonymised": int(calls), "pseudonym": pseudonym(user_id)}


def create_gdpr_router(service: JobService, store, writer) -> APIRouter:
    router = APIRouter()

    async def _user(request: Request) -> str:
        user = json_object(await read_body(request, 4096)).get("user_id")
        if not isinstance(user, str) or not user.strip() or len(user) > 256:
            raise GatewayError(422, "invalid_request", "'user_id' must be a non-empty string", param="user_id")
        return user

    @router.post("/admin/v1/gdpr/export", **allow("admin"))
    async def export(request: Request, principal: PrincipalDep):
        user = await _user(request)
        data = await asyncio.to_thread(export_user, user, service, store, writer)
        _audit(writer, principal, "gdpr.export", user, {"jobs": len(data["jobs"]), "calls": len(data["model_calls"])})
        return data

    @router.post("/admin/v1/gdpr/erase", **allow("admin"))
    async def erase(request: Request, principal: PrincipalDep):
        user = await _user(request)
        done = await asyncio.to_thread(erase_user, user, service, store, writer)
        # the audit row names the pseudonym, not the erased id
        _audit(writer, principal, "gdpr.erase", done["pseudonym"], {k: v for k, v in done.items() if k != "user_id"})
        return done

    return router


def _audit(writer, principal: Principal, action: str, target: str, after: dict) -> None:
    from gateway.api.admin import actor

    writer.emit("audit", {"audit_id": uuid.uuid4().hex, "ts": datetime.now(UTC), "actor": actor(principal),
                          "action": action, "target": target, "before": "null", "after": json.dumps(after),
                          "reason": "data-subject request"})


def _plain(value):
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "as_tuple"):  # Decimal
        return str(value)
    return value
