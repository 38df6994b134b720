"""Async optimisation jobs: `POST /v1/jobs` (202, Idempotency-Key honoured), `GET /v1/jobs/{id}`,
`GET /v1/jobs/{id}/result` (JSON, Markdown or DOCX), `DELETE /v1/jobs/{id}` (purges inputs and
artifacts), progress as SSE (`/events`) or WebSocket (`/ws`), and the dead-letter queue for admins.

A job's body is the `POST /v1/optimise` body (JSON or multipart upload) plus `webhook_url`,
`webhook_secret` (generated and shown once when omitted) and `notify_email`.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator

from fastapi import APIRouter, Query, Request, WebSocket, WebSocketDisconnect
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from fastapi.responses import JSONResponse, Response, StreamingResponse

from gateway.api.deps import read_body
from gateway.auth.gate import PrincipalDep, allow
from gateway.auth.principal import Principal
from gateway.errors import GatewayError, json_object
from optimiser.api.form import REQUEST_BODY, is_form, read_form
from optimiser.api.job_url import with_fetched_job
from optimiser.api.prompt_choice import settle_prompts
from optimiser.flow import OptimiseInput
from optimiser.jobs.service import IdempotencyConflict, JobService, new_webhook_secret
from optimiser.jobs.store import FINAL, JobNotFound, public_view
from optimiser.notify.email import check_email_address
from optimiser.notify.signing import check_webhook_secret
from optimiser.parsing import ResumeParseError, parse_job, parse_resume
from optimiser.settings import OptimiserSettings

JOB_FIELDS = ("webhook_url", "webhook_secret", "notify_email")
_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
FORMATS = {"json": "application/json", "markdown": "text/markdown; charset=utf-8",
           "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}
_FILES = {"json": "result.json", "markdown": "result.md", "docx": "result.docx"}


def _job_body() -> dict:
    extra = {"webhook_url": {"type": "string", "format": "uri", "description": "POSTed when the job ends"},
             "webhook_secret": {"type": "string", "description": "HMAC key of the webhook signature, a Standard "
                                "Webhooks secret (`whsec_` + base64 of 24-64 bytes); generated and returned once "
                                "when omitted"},
             "notify_email": {"type": "string", "format": "email", "description": "e-mailed when the job ends"}}
    body = json.loads(json.dumps(REQUEST_BODY))
    for media in body["content"].values():
        media["schema"]["properties"].update(extra)
    return body


def create_jobs_router(settings: OptimiserSettings, service: JobService, check_webhook_url=None,
                       arms=lambda principal: []) -> APIRouter:
    """`arms(principal)`: the caller's experiment arms (Hooks.arms)."""
    router = APIRouter()
    route = allow("admin", "engineer", "consumer")
    submit_route = {**route, "openapi_extra": {**route["openapi_extra"], "requestBody": _job_body()},
                    "status_code": 202}

    @router.post("/v1/jobs", **submit_route)
    async def submit(request: Request, principal: PrincipalDep):
        key = request.headers.get("idempotency-key")
        if key is not None and not _IDEMPOTENCY_KEY.match(key):
            raise GatewayError(400, "invalid_idempotency_key",
                               "Idempotency-Key must be 1-255 printable ASCII characters without spaces")
        if is_form(request):
            payload, extra = await read_form(request, settings, extra=JOB_FIELDS)
        else:
            limit = settings.max_resume_bytes + settings.max_job_bytes + 8192
            data = json_object(await with_fetched_job(await read_body(request, limit), settings))
            extra = {f: data.pop(f, None) for f in JOB_FIELDS}
            payload = _input(data)
            await asyncio.to_thread(_check_parses, payload)  # bad input is a 422 now, not a failed job later
        webhook = await asyncio.to_thread(_webhook, extra, check_webhook_url)
        email = _email(extra.get("notify_email"))
        settle_prompts(payload, principal, settings, arms)  # chosen once: a retried job keeps its prompts
        job_input = {"input": payload.model_dump(), "gateway_key": principal.token or None, "team": principal.team}
        owner = {"team": principal.team, "user_id": principal.user_id, "subject": principal.subject}
        try:
            job, created = await asyncio.to_thread(service.submit, job_input, owner=owner, webhook=webhook,
                                                   email=email, idempotency_key=key)
        except IdempotencyConflict as exc:
            raise GatewayError(409, "idempotency_key_reused", "This Idempotency-Key was used with a different body "
                               f"(job {exc.job_id}); use a new key for a new job", param="Idempotency-Key") from None
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise GatewayError(503, "queue_unavailable", f"The job queue is unreachable ({type(exc).__name__}); "
                               "nothing was queued, retry later", "service_unavailable",
                               headers={"retry-after": "5"}) from None
        body = public_view(job)
        if created and webhook and webhook.get("generated"):
            body["webhook_secret"] = webhook["secret"]  # shown once
        headers = {"location": f"/v1/jobs/{job['id']}", "x-request-id": job["request_id"]}
        if not created:
            headers["idempotent-replayed"] = "true"
        return JSONResponse(body, status_code=202 if created else 200, headers=headers)

    @router.get("/v1/jobs/{job_id}", **route)
    async def get_job(job_id: str, principal: PrincipalDep):
        return public_view(await _owned(service, job_id, principal))

    @router.get("/v1/jobs/{job_id}/result", **route)
    async def get_result(job_id: str, principal: PrincipalDep, request: Request,
                         format: str | None = Query(None, description="json (default), markdown or docx")):
        job = await _owned(service, job_id, principal)
        fmt = format or _from_accept(request.headers.get("accept", ""))
        if fmt not in FORMATS:
            raise GatewayError(422, "invalid_request", "format must be json, markdown or docx", param="format")
        if job["status"] == "deleted":
            raise GatewayError(410, "job_deleted", "The job was deleted with its inputs and results")
        if job["status"] in ("failed", "dead", "cancelled"):
            raise GatewayError(409, "job_failed", f"The job ended {job['status']}: "
                               f"{(job.get('error') or {}).get('message', 'no result')}", extra={"status": job["status"]})
        if job["status"] != "succeeded":
            raise GatewayError(409, "job_not_finished", f"The job is {job['status']}; poll GET /v1/jobs/{job_id} "
                               "or follow /events", extra={"status": job["status"]}, headers={"retry-after": "2"})
        try:
            data = await asyncio.to_thread(service.runner.artifacts.get, f"jobs/{job_id}/{_FILES[fmt]}")
        except KeyError:
            raise GatewayError(410, "result_expired", "The result is past its retention period") from None
        headers = {}
        if fmt == "docx":
            headers["content-disposition"] = f'attachment; filename="{job_id}.docx"'
        return Response(data, media_type=FORMATS[fmt], headers=headers)

    @router.delete("/v1/jobs/{job_id}", **route)
    async def delete_job(job_id: str, principal: PrincipalDep):
        await _owned(service, job_id, principal)
        job = await asyncio.to_thread(service.delete, job_id)
        return {"id": job_id, "object": "job", "status": job["status"], "deleted": True}

    @router.get("/v1/jobs/{job_id}/events", **route)
    async def job_events(job_id: str, principal: PrincipalDep, request: Request):
        await _owned(service, job_id, principal)
        last = request.headers.get("last-event-id", "")
        start = int(last) + 1 if last.isdigit() else 0

        async def stream() -> AsyncIterator[bytes]:
            async for index, event in follow(service, job_id, start):
                yield f"id: {index}\nevent: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"cache-control": "no-cache", "x-accel-buffering": "no"})

    @router.websocket("/v1/jobs/{job_id}/ws")
    async def job_ws(websocket: WebSocket, job_id: str):
        try:
            principal = await websocket.app.state.auth.principal(websocket)
            if not principal.can(frozenset(route["openapi_extra"]["x-roles"])):
                raise GatewayError(403, "forbidden", "This credential may not read jobs")
            await _owned(service, job_id, principal)
        except GatewayError as exc:  # close before accepting: the client sees the handshake refused
            await websocket.close(code=4000 + exc.status, reason=exc.code)
            return
        await websocket.accept()
        try:
            async for _, event in follow(service, job_id, 0):
                await websocket.send_json(event)
            await websocket.close(code=1000)
        except WebSocketDisconnect:
            pass

    admin = allow("admin")

    @router.get("/admin/v1/jobs/dlq", **admin)
    async def dlq_list():
        jobs = await asyncio.to_thread(service.dead_letters)
        return {"jobs": jobs, "queue": await asyncio.to_thread(service.queue_depth)}

    @router.post("/admin/v1/jobs/dlq/requeue", **admin)
    async def dlq_requeue(request: Request):
        raw = await read_body(request, 1 << 20)
        ids = json_object(raw).get("job_ids") if raw.strip() else None
        if ids is not None and not (isinstance(ids, list) and all(isinstance(i, str) for i in ids)):
            raise GatewayError(422, "invalid_request", "'job_ids' must be a list of job ids", param="job_ids")
        return {"requeued": await asyncio.to_thread(service.requeue_dead, ids)}

    @router.delete("/admin/v1/jobs/dlq", **admin)
    async def dlq_purge():
        return {"purged": await asyncio.to_thread(service.purge_dead)}

    return router


async def follow(service: JobService, job_id: str, start: int) -> AsyncIterator[tuple[int, dict]]:
    """Every event of the job from index `start`, then new ones as they come, until the job ends."""
    index = start
    while True:
        events = await asyncio.to_thread(service.store.events, job_id, index)
        for event in events:
            yield index, event
            index += 1
        if any(e["type"] in FINAL for e in events):
            return
        if not events:
            try:
                job = await asyncio.to_thread(service.store.get, job_id)
            except JobNotFound:
                return
            if job["status"] in FINAL and not await asyncio.to_thread(service.store.events, job_id, index):
                return
        await asyncio.sleep(0.2)


async def _owned(service: JobService, job_id: str, principal: Principal) -> dict:
    """The job if this caller may see it: its team's (any engineer) or its own (a consumer); admins and
    finance see every job. Someone else's job is a 404, as if it did not exist."""
    try:
        job = await asyncio.to_thread(service.store.get, job_id)
    except JobNotFound:
        job = None
    if job is not None and (principal.cross_team or (
            job["team"] == principal.team and ("engineer" in principal.roles or job["owner"] == principal.subject))):
        return job
    raise GatewayError(404, "job_not_found", f"No job {job_id}", param="job_id")


def _input(data: dict) -> OptimiseInput:
    from optimiser.api.optimise import _parse

    return _parse(json.dumps(data).encode())


def _check_parses(payload: OptimiseInput) -> None:
    try:
        parse_resume(payload.resume, payload.resume_format)
        parse_job(payload.job, payload.job_format)
    except ResumeParseError as exc:
        raise GatewayError(exc.status, exc.code, exc.message) from None


def _webhook(extra: dict, check_url) -> dict | None:
    url, secret = extra.get("webhook_url"), extra.get("webhook_secret")
    if url is None:
        if secret is not None:
            raise GatewayError(422, "invalid_request", "'webhook_secret' without 'webhook_url'", param="webhook_secret")
        return None
    if not isinstance(url, str):
        raise GatewayError(422, "invalid_request", "'webhook_url' must be a string", param="webhook_url")
    if check_url is not None:
        try:
            check_url(url)
        except ValueError as exc:
            raise GatewayError(422, "invalid_webhook_url", str(exc), param="webhook_url") from None
    if secret is None:
        return {"url": url, "secret": new_webhook_secret(), "generated": True}
    try:
        if not isinstance(secret, str):
            raise ValueError("'webhook_secret' must be a string")
        check_webhook_secret(secret)
    except ValueError as exc:
        raise GatewayError(422, "invalid_webhook_secret", str(exc), param="webhook_secret") from None
    return {"url": url, "secret": secret}


def _email(value) -> str | None:
    if value is None:
        return None
    try:
        if not isinstance(value, str):
            raise ValueError("'notify_email' must be a string")
        return check_email_address(value)
    except ValueError as exc:
        raise GatewayError(422, "invalid_request", f"'notify_email': {exc}", param="notify_email") from None


def _from_accept(accept: str) -> str:
    accept = accept.lower()
    if "wordprocessingml" in accept:
        return "docx"
    if "text/markdown" in accept:
        return "markdown"
    return "json"
