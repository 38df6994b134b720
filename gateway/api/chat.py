"""OpenAI-compatible endpoints: chat completions (plain and SSE) and the model list."""

from __future__ import annotations

import base64
import time

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from gateway.api.deps import ServiceDep, read_body
from gateway.auth.gate import RoleGate, allow, declare
from gateway.auth.principal import Principal
from gateway.cache import CacheDirectives, Entry
from gateway.chat import CallContext, ChatService, validate_chat_body, validate_embedding_body, worst_case_tokens
from gateway.providers.base import estimate_tokens, prompt_text
from gateway.errors import GatewayError
from gateway.ids import new_span_id
from gateway.telemetry import TRACEPARENT, Attribution, CallRecord
from gateway.tracing import current_ids, current_span, traceparent

router = APIRouter()

# Longest deadline a client may ask for: bounds how long one request can hold a slot.
MAX_CLIENT_DEADLINE_S = 600.0
MODEL_CALLERS = RoleGate(("admin", "engineer", "consumer"))  # finance reads reports, it calls no model


@router.post("/v1/chat/completions", **declare(MODEL_CALLERS))
async def chat_completions(request: Request):
    # The hot path: no dependency injection, orjson out (each measurably cheaper, tests/perf).
    started = time.perf_counter()
    principal = await MODEL_CALLERS(request)
    service: ChatService = request.app.state.chat
    service.admit()
    streaming, ctx = False, None
    try:
        body = validate_chat_body(await read_body(request, request.app.state.settings.max_body_bytes))
        ctx = _context(request, service, body, started, principal)
        hit = await service.cached(body, ctx, CacheDirectives.parse(request.headers.get("cache-control")))
        if hit is not None:
            return _replay(hit, bool(body.get("stream")), ctx)
        await service.throttle(ctx, worst_case_tokens(body, ctx.prompt))
        await service.reserve_budget(body, ctx)
        if body.get("stream"):
            chunks, rec = await service.open_stream(body, ctx)
            streaming = True  # the stream releases the slot when it ends
            return StreamingResponse(chunks, media_type="text/event-stream", headers=_headers(ctx, rec))
        answer, rec = await service.complete(body, ctx)
        payload = orjson.dumps(answer)
        await service.remember(ctx, payload, rec)
        return Response(payload, media_type="application/json", headers=_headers(ctx, rec))
    finally:
        if not streaming:
            service.release()
            if ctx is not None:
                await service.release_budget(ctx)  # a no-op unless an exception skipped the settle


@router.post("/v1/embeddings", **declare(MODEL_CALLERS))
async def embeddings(request: Request):
    started = time.perf_counter()
    principal = await MODEL_CALLERS(request)
    service: ChatService = request.app.state.chat
    service.admit()
    ctx = None
    try:
        body = validate_embedding_body(await read_body(request, request.app.state.settings.max_body_bytes))
        ctx = _context(request, service, body, started, principal)
        await service.throttle(ctx, estimate_tokens(ctx.prompt))
        await service.reserve_budget(body, ctx)
        answer, rec = await service.embed(body, ctx)
        return _json(answer, ctx, rec)
    finally:
        service.release()
        if ctx is not None:
            await service.release_budget(ctx)


@router.get("/v1/models", **allow("admin", "engineer", "consumer"))
async def list_models(service: ServiceDep):
    now = int(time.time())
    data = [{"id": a, "object": "model", "created": now, "owned_by": "resumeopt"} for a in service.live_aliases()]
    return {"object": "list", "data": data}


def _context(request: Request, service: ChatService, body: dict, started: float,
             principal: Principal) -> CallContext:
    headers = request.headers
    client_deadline = _deadline_s(headers.get("x-resumeopt-timeout-ms"))
    deadline_s = client_deadline or service.policy.default_deadline_s
    tier = headers.get("x-resumeopt-tier")
    if tier not in (None, "draft", "final"):
        raise GatewayError(400, "invalid_request", "x-resumeopt-tier must be 'draft' or 'final'")
    who = Attribution.from_headers(headers)
    who.team, who.user_id, who.key_id = principal.team, principal.user_id, principal.key_id
    if service.tracing.enabled and (ids := current_ids()) is not None:
        who.trace_id = ids[0]  # the request's server span: the caller's trace, or a new one it started
        TRACEPARENT.set(traceparent(current_span()))
    else:
        TRACEPARENT.set(f"00-{who.trace_id}-{new_span_id()}-01")  # our span: parent of the upstream's
    ctx = CallContext(who=who, alias=body["model"], deadline=time.monotonic() + deadline_s, tier=tier,
                      wait_for_recovery=client_deadline is not None, started=started, principal=principal,
                      limits=service.gov.scoped(principal))
    ctx.prompt = str(body["input"]) if "messages" not in body else prompt_text(body)  # once per request
    ctx.log_mode = service.gov.prompt_logging(principal)
    if ctx.log_mode != "off":
        ctx.redact_terms = _redact_terms(headers.get("x-resumeopt-redact"))
    return ctx


def _redact_terms(raw: str | None) -> tuple[str, ...]:
    """`x-resumeopt-redact`: base64url of a JSON list of names to remove from logged text (the optimiser
    sends the resume's). Used for redaction only, never stored; a malformed value is a 400."""
    if not raw:
        return ()
    try:
        terms = orjson.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        raise GatewayError(400, "invalid_request", "x-resumeopt-redact must be base64url of a JSON list") from None
    if not isinstance(terms, list) or not all(isinstance(t, str) for t in terms):
        raise GatewayError(400, "invalid_request", "x-resumeopt-redact must be base64url of a JSON list")
    return tuple(t[:200] for t in terms[:50])


def _deadline_s(raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        ms = float(raw)
    except ValueError:
        raise GatewayError(400, "invalid_request", "x-resumeopt-timeout-ms must be a number") from None
    if ms <= 0:
        raise GatewayError(400, "invalid_request", "x-resumeopt-timeout-ms must be positive")
    return min(ms / 1000, MAX_CLIENT_DEADLINE_S)


def _replay(hit: Entry, stream: bool, ctx: CallContext) -> Response:
    """A cache hit: the stored bytes, exactly; a streamed answer is replayed event by event."""
    headers = {"x-request-id": ctx.who.request_id, "traceparent": TRACEPARENT.get() or "",
               "x-resumeopt-deployment": hit.deployment, "x-resumeopt-attempts": "0",
               "x-resumeopt-fallbacks": "0", "x-resumeopt-cache": ctx.cache, "x-resumeopt-route": "cache",
               "x-resumeopt-overhead-ms": f"{(time.perf_counter() - ctx.started) * 1000:.3f}",
               "x-resumeopt-cost-usd": "0"}  # a hit costs nothing (its saving is in model_calls)
    if not stream:
        return Response(hit.payload, media_type="application/json", headers=headers)
    events = [e + b"\n\n" for e in hit.payload.split(b"\n\n") if e]
    return StreamingResponse(iter(events), media_type="text/event-stream", headers=headers)


def _json(answer: dict, ctx: CallContext, rec: CallRecord) -> Response:
    return Response(orjson.dumps(answer), media_type="application/json", headers=_headers(ctx, rec))


def _headers(ctx: CallContext, rec: CallRecord) -> dict[str, str]:
    who = ctx.who
    overhead = rec.overhead_ms if rec.stream else (time.perf_counter() - ctx.started - ctx.upstream_s) * 1000
    headers = {
        "x-request-id": who.request_id,
        "traceparent": TRACEPARENT.get() or "",
        "x-resumeopt-call-id": rec.call_id,
        "x-resumeopt-deployment": rec.deployment,
        "x-resumeopt-attempts": str(ctx.attempts),
        "x-resumeopt-fallbacks": str(ctx.fallbacks),
        "x-resumeopt-cache": ctx.cache,
        "x-resumeopt-route": ctx.route[:512],
        "x-resumeopt-overhead-ms": f"{max(0.0, overhead):.3f}",
    }
    if not rec.stream:  # a stream's cost is known only at its end, after the headers (as LiteLLM's response-cost)
        headers["x-resumeopt-cost-usd"] = format(rec.cost_usd, "f")
    return headers
