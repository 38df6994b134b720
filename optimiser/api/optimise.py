"""`POST /v1/optimise`: synchronous JSON, or progress events then the result over SSE.

The body is JSON (resume and job as text or objects) or multipart/form-data with a resume file
(api/form.py); both give the same `OptimiseInput` and the same response.

The flow is synchronous (CrewAI), so it runs in a worker thread; the request waits at most
`optimise_timeout_s` and then answers 504 (the thread finishes in the background, bounded by the
per-call LLM timeout).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse

from gateway.api.deps import read_body
from gateway.auth.gate import PrincipalDep, allow
from gateway.auth.principal import Principal
from gateway.errors import GatewayError, json_object
from gateway.tracing import Tracing, current_span
from optimiser.api.job_url import with_fetched_job
from optimiser.api.form import REQUEST_BODY, is_form, read_form
from optimiser.api.prompt_choice import settle_prompts
from optimiser.experiments import ArmChoice
from optimiser.flow import OptimiseInput, run_optimisation
from optimiser.parsing import ResumeParseError
from optimiser.settings import OptimiserSettings

log = logging.getLogger("resumeopt.optimiser.api")


@dataclass(frozen=True)
class Hooks:
    """What the optimiser needs from the platform, injected: usage read back from the store, the
    telemetry sink for its own rows, the experiment arms of a caller, and where finished optimisations
    go next (the online evaluator's intake, which must never block)."""

    usage: Callable[[str, str | None], dict]   # (request id, team or None for every team)
    emit: Callable[[str, dict], None]
    tracing: Tracing = field(default_factory=Tracing)  # the platform's: the flow's spans join the request's
    arms: Callable[[Principal], list[ArmChoice]] = lambda principal: []
    finished: Callable[[dict, str], None] = lambda result, team: None  # (result, the owner's team)


def create_router(settings: OptimiserSettings, hooks: Hooks) -> APIRouter:
    router = APIRouter()
    route = allow("admin", "engineer", "consumer")
    route["openapi_extra"] = {**route["openapi_extra"], "requestBody": REQUEST_BODY}

    @router.post("/v1/optimise", **route)
    async def optimise(request: Request, principal: PrincipalDep):
        if is_form(request):
            payload, _ = await read_form(request, settings)
        else:
            limit = settings.max_resume_bytes + settings.max_job_bytes + 4096
            payload = _parse(await with_fetched_job(await read_body(request, limit), settings))
        if hooks.tracing.enabled:
            current_span().set_attribute("resumeopt.request_id", payload.request_id)  # find the trace by id
        settle_prompts(payload, principal, settings, hooks.arms)  # the caller's checked choice, or the server's arms
        # The agents' model calls go out under the caller's own credential, so its budgets, limits
        # and team (cache namespace, logging mode, cost reports) apply to them.
        run = settings.model_copy(update={"gateway_api_key": principal.token or settings.gateway_api_key})
        team = None if principal.cross_team else principal.team  # the request id is the client's choice
        if "text/event-stream" in request.headers.get("accept", ""):
            return StreamingResponse(_events(run, hooks, payload, team, principal.team),
                                     media_type="text/event-stream")
        result = await _run(run, hooks, payload, lambda *_: None, team, principal.team)
        return JSONResponse(result, headers={"x-request-id": payload.request_id})

    return router


def _parse(raw: bytes) -> OptimiseInput:
    data = json_object(raw)
    data.pop("source", None)  # what the server read from an uploaded file; a JSON body's comes from its text
    for field in ("resume", "job"):
        value = data.get(field)
        if isinstance(value, dict):  # a JSON Resume / JSON job object given inline
            data.setdefault(f"{field}_format", "json")
            data[field] = json.dumps(value)
        elif not isinstance(value, str) or not value.strip():
            raise GatewayError(422, "invalid_request", f"'{field}' must be a non-empty string or object",
                               param=field)
    try:
        return OptimiseInput.model_validate(data)
    except ValueError as exc:
        raise GatewayError(422, "invalid_request", str(exc).splitlines()[0]) from None


async def _run(settings: OptimiserSettings, hooks: Hooks, payload: OptimiseInput,
               progress: Callable[[str, dict], None], team: str | None, owner: str) -> dict[str, Any]:
    try:
        result = await asyncio.wait_for(
            asyncio.to_thread(run_optimisation, settings, payload, progress, hooks.tracing),
            settings.optimise_timeout_s)
    except ResumeParseError as exc:
        raise GatewayError(exc.status, exc.code, exc.message) from None
    except TimeoutError:
        raise GatewayError(504, "optimise_timeout",
                           f"optimisation did not finish within {settings.optimise_timeout_s:.0f}s",
                           "timeout") from None
    result["usage"] = await asyncio.to_thread(hooks.usage, payload.request_id, team)
    hooks.emit("optimisations", _row(result, owner))
    hooks.finished(result, owner)
    return result


async def _events(settings: OptimiserSettings, hooks: Hooks, payload: OptimiseInput,
                  team: str | None, owner: str) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str, dict]] = asyncio.Queue(maxsize=64)

    def progress(stage: str, data: dict) -> None:  # called from the flow's thread
        loop.call_soon_threadsafe(queue.put_nowait, ("progress", {"stage": stage, **data}))

    task = asyncio.create_task(_run(settings, hooks, payload, progress, team, owner))
    yield _sse("progress", {"stage": "accepted", "request_id": payload.request_id})
    while not task.done() or not queue.empty():
        getter = asyncio.ensure_future(queue.get())
        done, _ = await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
        if getter in done:
            event, data = getter.result()
            yield _sse(event, data)
        else:
            getter.cancel()
    try:
        yield _sse("result", task.result())
    except GatewayError as exc:
        yield _sse("error", {"error": {"message": exc.message, "type": exc.type, "code": exc.code}})
    except Exception:  # the stream has started: end it with an error event, never a cut connection
        log.exception("optimisation %s failed", payload.request_id)
        yield _sse("error", {"error": {"message": "internal error", "type": "api_error", "code": "internal_error"}})


def _sse(event: str, data: dict) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, default=str)}\n\n".encode()


def _row(result: dict, team: str = "") -> dict:
    return {
        "request_id": result["request_id"], "ts": datetime.now(UTC), "status": "ok",
        # codes, not the reasons' text: a violation quotes the resume, and the store keeps no resume text
        "degraded": result["degraded"], "degraded_reasons": result["degraded_codes"],
        "match_before": float(result["match"]["before"]), "match_after": float(result["match"]["after"]),
        "grounding_passed": result["grounding"]["passed"],
        "violations": len(result["grounding"]["violations"]),
        "prompt_versions": result["prompt_versions"], "latency_ms": result["latency_ms"],
        "experiments": result.get("experiments", {}), "team": team,
    }
