"""The chat-completions service: a request's whole lifecycle.

route the alias → for each deployment in order: breaker, back-pressure, attempts with backoff →
on failure, the alias's fallback chain for that error class → answer, and record one `model_calls` row.
Retries and fallbacks happen only before any byte reached the client; a stream that breaks later ends
with a terminal error event. Every wait is bounded by the request's deadline.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from decimal import Decimal
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from gateway.breaker import BreakerBackend, retry_after_header
from gateway.auth.principal import ANONYMOUS, Principal
from gateway.budgets import Held, MemoryBudgets
from gateway.cache import CacheDirectives, Entry, MemoryCache
from gateway.governance import Governance
from gateway.limits import Limits
from gateway.logs import call_fields
from gateway.metrics import GatewayMetrics
from gateway.ratelimit import DEFAULT_MAX_TOKENS, MemoryLimiter
from gateway.config import Deployment, GatewayConfig, ModelAlias
from gateway.errors import GatewayError, from_upstream, json_object
from gateway.modes import Modes
from gateway.pricing import call_cost, unit_prices
from gateway.providers.base import Provider, UpstreamError, Usage, estimate_tokens
from gateway.retry import RETRYABLE, backoff_s, classify
from gateway.routing import LatencyTracker, Router
from gateway.streaming import StreamTally, sse_error, sse_event
from gateway.telemetry import TRACEPARENT, Attribution, CallRecord
from gateway.tracing import Tracing, attempt_span, current_span, fail, record_call, response_model, traceparent

log = logging.getLogger("resumeopt.gateway.chat")
access = logging.getLogger("resumeopt.gateway.access")  # one line per model call
# Client errors say nothing about a deployment's health and are not worth another deployment.
_FINAL = frozenset({"bad_request"})
# asyncio's timer and the breakers' wall clock tick apart; waking this much later than the computed
# cooldown keeps a waiting request from arriving a hair early and being refused again.
_WAKE_MARGIN_S = 0.01


class Emitter(Protocol):
    """Where call rows go: the store writer in production."""

    def emit(self, table: str, row: dict) -> None: ...

    def durable(self) -> Awaitable[None]:
        """Resolves once the rows emitted so far survive this process (the API answers after it)."""


@dataclass
class CallContext:
    """One client request as it moves through deployments and fallbacks."""

    who: Attribution
    alias: str
    deadline: float                     # time.monotonic() by which the client must have an answer
    tier: str | None = None
    wait_for_recovery: bool = False     # the client set a deadline: may wait for a half-open breaker
    attempts: int = 0
    fallbacks: int = 0
    upstream_s: float = 0.0             # time spent waiting on upstreams and backoffs (not overhead)
    route: str = ""
    started: float = 0.0
    cache: str = "off"                  # off | hit | miss | bypass (x-resumeopt-cache)
    cache_key: str | None = None        # set when the answer should be stored
    held: Held | None = None            # budget reservation, settled when the call is recorded
    principal: Principal = ANONYMOUS
    limits: list[tuple[str, Limits]] = field(default_factory=list)   # the caller's scoped limits
    log_mode: str = "off"               # prompt/completion logging for this call: off | redacted | full
    redact_terms: tuple[str, ...] = ()  # names the caller declared (the resume's), removed when redacting
    semantic: tuple | None = None       # (bucket, vector) to index the answer under, semantic cache only
    prompt: str = ""                    # the prompt's text (or an embedding's input), extracted once
    completion: str = ""
    operation: str = "chat"             # gen_ai.operation.name: chat | embeddings
    span: Any = None                    # the answering attempt's span, ended when the call is recorded

    def remaining(self) -> float:
        return self.deadline - time.monotonic()


@dataclass
class _Failure:
    error_class: str
    error: GatewayError
    kind: str


Op = Callable[[Provider, dict, float], Awaitable[Any]]


class ChatService:
    def __init__(self, config: GatewayConfig, providers: dict[str, Provider], sink: Emitter,
                 breakers: BreakerBackend, modes: Modes | None = None,
                 clock: Callable[[], float] = time.time, rng: random.Random | None = None,
                 gov: Governance | None = None, metrics: GatewayMetrics | None = None,
                 tracing: Tracing | None = None):
        self._config = config
        self._providers = providers
        self._sink = sink
        self.breakers = breakers
        self.modes = modes or Modes()
        self.gov = gov or Governance(config, MemoryCache(config.policy.cache.max_entries), MemoryLimiter(),
                                     MemoryBudgets(), clock)
        self.gov.embedder = self._embed_for_cache
        self.metrics = metrics
        self.tracing = tracing or Tracing()
        self._clock = clock
        self._rng = rng or random.Random()
        self.latency = LatencyTracker()
        self._router = Router(self.latency, self._rng)
        self.in_flight: dict[str, int] = defaultdict(int)
        self.in_flight_total = 0

    @property
    def policy(self):
        return self._config.policy

    def now(self) -> float:
        """The clock breakers run on (wall time, so that replicas sharing Redis agree)."""
        return self._clock()

    def live_aliases(self) -> list[str]:
        return [m.alias for m in self._config.models if any(d.name in self._providers for d in m.deployments)]

    def deployment_names(self) -> list[str]:
        return [d.name for m in self._config.models for d in m.deployments]

    def alias_names(self) -> list[str]:
        return [m.alias for m in self._config.models]

    def admit(self) -> None:
        """Gateway-wide back-pressure: take a slot or refuse at once, never queue without bound.
        Check and take happen together (no await between them), so a burst cannot overshoot the limit.
        Every admitted request calls `release()` exactly once (a stream does it when it ends)."""
        if self.in_flight_total >= self.policy.max_in_flight:
            raise GatewayError(503, "overloaded", "The gateway is at its in-flight limit; retry shortly",
                               "service_unavailable", headers={"retry-after": "1"})
        self.in_flight_total += 1

    def release(self) -> None:
        self.in_flight_total -= 1

    async def cached(self, body: dict, ctx: CallContext, directives: CacheDirectives) -> Entry | None:
        """Look the request up in the response cache. On a hit the call is recorded (cost 0, cost saved)
        and the stored bytes are the answer."""
        entry = await self.gov.lookup(self._alias(ctx.alias), body, ctx, directives)
        if entry is not None:
            rec = CallRecord(ctx.who, ctx.alias, entry.deployment, "cache", stream=bool(body.get("stream")),
                             cache_hit=True, cost_saved_usd=entry.cost_usd)
            self._finish(rec, ctx)
            await self._sink.durable()
        return entry

    async def _embed_for_cache(self, alias: str, text: str, ctx: CallContext) -> list[float] | None:
        """The semantic cache's embedding: the caller's own call through the embeddings path (attributed
        `tool=semantic-cache`, costed and budgeted like any other), or None if it cannot be had."""
        who = Attribution(ctx.who.request_id, trace_id=ctx.who.trace_id, job_id=ctx.who.job_id, agent=ctx.who.agent,
                          tool="semantic-cache", team=ctx.who.team, user_id=ctx.who.user_id, key_id=ctx.who.key_id,
                          experiments=ctx.who.experiments)
        child = CallContext(who=who, alias=alias, deadline=ctx.deadline, principal=ctx.principal,
                            limits=ctx.limits, started=time.perf_counter(), prompt=text[:32_000])
        body = {"model": alias, "input": child.prompt}
        try:
            await self.gov.throttle(self._alias(alias), child, estimate_tokens(child.prompt))  # a real call
            await self.gov.reserve(body, child)
            answer, _ = await self.embed(body, child)
            return answer["data"][0]["embedding"]
        except (GatewayError, KeyError, IndexError, TypeError) as exc:
            log.info("semantic cache skipped: embedding failed (%s)", getattr(exc, "code", type(exc).__name__))
            return None
        finally:
            await self._settle_budget(child, Decimal(0))  # a no-op unless the call failed before settling

    async def remember(self, ctx: CallContext, payload: bytes, rec: CallRecord) -> None:
        """Store a successful answer under the key `cached` chose (nothing when it chose none)."""
        await self.gov.remember(ctx, payload, rec)

    async def throttle(self, ctx: CallContext, worst_tokens: int) -> None:
        await self.gov.throttle(self._alias(ctx.alias), ctx, worst_tokens)

    async def reserve_budget(self, body: dict, ctx: CallContext) -> None:
        await self.gov.reserve(body, ctx)

    async def complete(self, body: dict, ctx: CallContext) -> tuple[dict, CallRecord]:
        return await self._answer(body, ctx, lambda provider, b, timeout: provider.complete(b, timeout))

    async def embed(self, body: dict, ctx: CallContext) -> tuple[dict, CallRecord]:
        ctx.operation = "embeddings"
        return await self._answer(body, ctx, lambda provider, b, timeout: provider.embed(b, timeout))

    async def _answer(self, body: dict, ctx: CallContext, op: Op) -> tuple[dict, CallRecord]:
        """A whole-body answer (not a stream): run the attempt chain, record the call, rename the model."""
        dep, result = await self._run(body, ctx, op, hold_slot=False)
        if ctx.log_mode != "off":
            ctx.completion = completion_text(result.body)
        rec = self._record(ctx, dep, result.usage)
        await self._settle_budget(ctx, rec.cost_usd)
        await self._sink.durable()  # answer only a call that is recorded
        result.body["model"] = ctx.alias
        return result.body, rec

    async def open_stream(self, body: dict, ctx: CallContext) -> tuple[AsyncIterator[bytes], CallRecord]:
        """Start the upstream stream and wait for its first chunk, so that every failure before the first
        byte is still retried, falls back, or becomes an ordinary JSON error with a status code."""

        async def op(provider: Provider, upstream_body: dict, timeout: float):
            upstream = provider.stream(upstream_body, timeout)
            first = await anext(upstream, None)
            return first, upstream

        dep, (first, upstream) = await self._run(body, ctx, op, hold_slot=True)
        ttft_ms = (time.perf_counter() - ctx.started) * 1000
        rec = CallRecord(ctx.who, ctx.alias, dep.name, dep.provider, stream=True, ttft_ms=ttft_ms)
        return self._relay(first, upstream, body, dep, ctx, rec), rec

    async def _run(self, body: dict, ctx: CallContext, op: Op, hold_slot: bool) -> tuple[Deployment, Any]:
        primary = self._alias(ctx.alias)
        outcome: tuple[Deployment, Any] | _Failure
        if self.modes.alias(primary.alias) == "force_fallback":
            outcome = _Failure("unavailable", _no_deployment(primary.alias, "forced to fall back"), "mode")
        else:
            outcome = await self._try_alias(primary, body, ctx, op, hold_slot)
        if isinstance(outcome, _Failure) and outcome.error_class not in _FINAL:
            for name in primary.fallbacks_for(outcome.error_class):
                if ctx.remaining() <= 0:
                    break
                try:
                    fallback = self._alias(name)
                except GatewayError:
                    continue  # a fallback without credentials or disabled: skip it, keep the real error
                ctx.fallbacks += 1
                outcome = await self._try_alias(fallback, body, ctx, op, hold_slot)
                if not isinstance(outcome, _Failure):
                    break
        if isinstance(outcome, _Failure):
            self._record_failure(ctx, outcome)
            await self._settle_budget(ctx, Decimal(0))  # nothing was spent: release the reservation
            await self._sink.durable()
            raise outcome.error
        return outcome

    async def _try_alias(self, alias: ModelAlias, body: dict, ctx: CallContext, op: Op,
                         hold_slot: bool) -> tuple[Deployment, Any] | _Failure:
        while True:
            outcome, waits = await self._try_route(alias, body, ctx, op, hold_slot)
            if outcome is not None:
                return outcome
            wait = min(waits) + _WAKE_MARGIN_S if waits else None
            if wait is None or not ctx.wait_for_recovery or wait >= ctx.remaining():
                return _Failure("unavailable", _no_deployment(alias.alias, "every deployment is open, drained or full",
                                                              min(waits) if waits else None), "unavailable")
            await asyncio.sleep(wait)  # the client's deadline allows waiting for the earliest probe
            ctx.upstream_s += wait

    async def _try_route(self, alias: ModelAlias, body: dict, ctx: CallContext, op: Op,
                         hold_slot: bool) -> tuple[tuple[Deployment, Any] | _Failure | None, list[float]]:
        """One pass over the alias's deployments in routing order. Returns the outcome, or None and the
        waits (seconds) of the deployments that refused (breaker open, at capacity)."""
        usable = {d.name for d in alias.deployments
                  if d.name in self._providers and self.modes.deployment(d.name) == "normal"}
        route = self._router.route(alias, usable, ctx.tier)
        ctx.route = (ctx.route + " | " if ctx.route else "") + f"{alias.alias}:{route.explanation}"
        last: _Failure | None = None
        waits: list[float] = []
        for dep in route.deployments:
            if self.in_flight[dep.name] >= dep.max_in_flight:
                waits.append(1.0)
                continue
            self.in_flight[dep.name] += 1  # reserve before any await, so a burst cannot overshoot
            decision = await self.breakers.allow(dep.name, self._clock())
            if not decision.allowed:
                self.in_flight[dep.name] -= 1
                waits.append(decision.retry_after_s)
                continue
            outcome = await self._try_deployment(dep, body, ctx, op, hold_slot)
            if not isinstance(outcome, _Failure):
                return outcome, waits
            last = outcome
            if outcome.error_class in _FINAL or outcome.error_class in ("context_window_exceeded", "content_policy"):
                return outcome, waits  # the same request would fail the same way on a sibling deployment
        return last, waits

    async def _try_deployment(self, dep: Deployment, body: dict, ctx: CallContext, op: Op,
                              hold_slot: bool) -> tuple[Deployment, Any] | _Failure:
        """Attempts on one deployment, holding the slot reserved for it. The slot is released here,
        except after a successful stream start (`hold_slot`): the stream releases it when it ends."""
        try:
            outcome = await self._attempts(dep, body, ctx, op)
        except BaseException:
            self.in_flight[dep.name] -= 1
            raise
        if isinstance(outcome, _Failure) or not hold_slot:
            self.in_flight[dep.name] -= 1
        return outcome

    async def _attempts(self, dep: Deployment, body: dict, ctx: CallContext,
                        op: Op) -> tuple[Deployment, Any] | _Failure:
        provider, policy = self._providers[dep.name], self.policy.retry
        upstream_body = {**body, "model": dep.model}
        failure: _Failure | None = None
        for attempt in range(policy.max_attempts):
            remaining = ctx.remaining()
            if remaining <= 0:
                return _Failure("timeout", _deadline_error(), "deadline")
            ctx.attempts += 1
            t0 = time.perf_counter()
            try:
                value = await self._call(op, provider, upstream_body, min(dep.timeout_s, remaining), dep, ctx)
            except UpstreamError as exc:
                ctx.upstream_s += time.perf_counter() - t0
                failure = await self._failed_attempt(dep, exc)
                delay = self._retry_delay(failure, exc, attempt, ctx)
                if delay is None:
                    return failure
                await asyncio.sleep(delay)
                ctx.upstream_s += delay
                continue
            elapsed = time.perf_counter() - t0
            ctx.upstream_s += elapsed
            self.latency.observe(dep.name, elapsed * 1000)
            await self.breakers.record(dep.name, True, self._clock())
            return dep, value
        return failure  # type: ignore[return-value]

    async def _call(self, op: Op, provider: Provider, body: dict, timeout: float, dep: Deployment,
                    ctx: CallContext) -> Any:
        """One attempt, a client span of its own when tracing is on; the upstream hears of it in
        `traceparent`, so its spans are children of the attempt."""
        if not self.tracing.enabled:
            return await op(provider, body, timeout)
        span = attempt_span(self.tracing, ctx.operation, ctx.alias, dep.name, dep.provider, dep.model, ctx.attempts)
        token = TRACEPARENT.set(traceparent(span))
        try:
            value = await op(provider, body, timeout)
        except BaseException as exc:
            fail(span, getattr(exc, "kind", type(exc).__name__))
            span.end()
            raise
        finally:
            TRACEPARENT.reset(token)
        response_model(span, value)
        ctx.span = span  # a stream's span lasts until the stream ends
        return value

    async def _failed_attempt(self, dep: Deployment, exc: UpstreamError) -> _Failure:
        error_class = classify(exc)
        # A refused request (4xx other than 429) is the client's problem, not the deployment's health.
        healthy = error_class in ("bad_request", "context_window_exceeded", "content_policy")
        await self.breakers.record(dep.name, healthy, self._clock())
        return _Failure(error_class, from_upstream(exc), exc.kind)

    def _retry_delay(self, failure: _Failure, exc: UpstreamError, attempt: int, ctx: CallContext) -> float | None:
        """Seconds to wait before the next attempt on this deployment, or None to move on."""
        policy = self.policy.retry
        if failure.error_class not in RETRYABLE or attempt + 1 >= policy.max_attempts:
            return None
        if exc.retry_after is not None and exc.retry_after > policy.max_delay_s:
            return None  # a long Retry-After: another deployment or a fallback serves sooner
        delay = backoff_s(attempt, policy, self._rng, exc.retry_after)
        return delay if delay < ctx.remaining() else None

    async def _relay(self, first: dict | None, upstream: AsyncIterator[dict], body: dict, dep: Deployment,
                     ctx: CallContext, rec: CallRecord) -> AsyncIterator[bytes]:
        tally = StreamTally(body)
        status, error_kind = "ok", ""
        settled = False
        sent: list[bytes] | None = [] if ctx.cache_key else None  # kept only when the answer is cached
        try:
            chunk = first
            while chunk is not None:
                tally.see(chunk)
                if tally.forward(chunk):
                    chunk["model"] = ctx.alias
                    event = sse_event(chunk)
                    if sent is not None:
                        sent.append(event)
                    yield event
                chunk = await anext(upstream, None)
            # Recorded before the client sees [DONE]: a finished stream is a recorded call.
            settled = True
            await self._close_stream(rec, ctx, dep, tally, "ok", "")
            yield b"data: [DONE]\n\n"
            if sent is not None:  # only a stream that finished cleanly is worth replaying
                await self.remember(ctx, b"".join(sent) + b"data: [DONE]\n\n", rec)
        except UpstreamError as exc:
            # Bytes already reached the client: a terminal error event, never a clean [DONE] (Portkey #1797).
            status, error_kind = "error", exc.kind
            await self.breakers.record(dep.name, False, self._clock())
            settled = True
            await self._close_stream(rec, ctx, dep, tally, status, error_kind)
            yield sse_error(from_upstream(exc))
        except (GeneratorExit, asyncio.CancelledError):
            status, error_kind = "cancelled", "client_disconnect"  # tokens were spent all the same
            raise
        finally:
            self.in_flight[dep.name] -= 1
            self.release()  # the stream owned the request's slot from open_stream on
            if not settled:
                self._settle_stream(rec, ctx, dep, tally, status, error_kind)
                await self._settle_budget(ctx, rec.cost_usd)

    async def _close_stream(self, rec: CallRecord, ctx: CallContext, dep: Deployment, tally: StreamTally,
                            status: str, error_kind: str) -> None:
        self._settle_stream(rec, ctx, dep, tally, status, error_kind)
        await self._settle_budget(ctx, rec.cost_usd)
        await self._sink.durable()

    def _settle_stream(self, rec: CallRecord, ctx: CallContext, dep: Deployment, tally: StreamTally,
                       status: str, error_kind: str) -> None:
        # Settled from the final usage chunk, or the gateway's own count when there was none: a
        # stream is never $0 to the budget (LiteLLM #37923).
        if ctx.log_mode != "off":
            ctx.completion = tally.text()
        self._settle(rec, ctx, dep, tally.usage(), status, error_kind)

    async def release_budget(self, ctx: CallContext) -> None:
        await self._settle_budget(ctx, Decimal(0))

    async def _settle_budget(self, ctx: CallContext, actual: Decimal) -> None:
        await self.gov.settle(ctx, actual)

    def _alias(self, name: str) -> ModelAlias:
        entry = self._config.alias(name)
        if entry is None:
            raise GatewayError(404, "model_not_found", f"The model '{name[:100]}' does not exist", param="model")
        if not any(d.name in self._providers for d in entry.deployments):
            keys = ", ".join(sorted({d.api_key_env for d in entry.deployments if d.api_key_env}))
            raise GatewayError(404, "model_not_available",
                               f"The model '{name}' has no deployment with credentials (set {keys})", param="model")
        if self.modes.alias(name) == "disabled":
            raise GatewayError(503, "model_disabled", f"The model '{name}' is disabled by an operator",
                               "service_unavailable", headers={"retry-after": "60"})
        return entry

    def _record(self, ctx: CallContext, dep: Deployment, usage: Usage) -> CallRecord:
        rec = CallRecord(ctx.who, ctx.alias, dep.name, dep.provider)
        self._settle(rec, ctx, dep, usage, "ok", "")
        return rec

    def _record_failure(self, ctx: CallContext, failure: _Failure) -> None:
        rec = CallRecord(ctx.who, ctx.alias, status="error", error_kind=failure.kind,
                         http_status=failure.error.status)
        self._finish(rec, ctx)

    def _settle(self, rec: CallRecord, ctx: CallContext, dep: Deployment, usage: Usage, status: str,
                error_kind: str) -> None:
        rec.input_tokens, rec.output_tokens = usage.input_tokens, usage.output_tokens
        rec.usage_estimated = usage.estimated
        rec.cost_usd = call_cost(dep, usage.input_tokens, usage.output_tokens)
        rec.input_price_per_mtok, rec.output_price_per_mtok = unit_prices(dep)  # the price this cost used
        rec.status, rec.error_kind = status, error_kind
        self._finish(rec, ctx)

    def _finish(self, rec: CallRecord, ctx: CallContext) -> None:
        total = time.perf_counter() - ctx.started
        rec.latency_ms = total * 1000
        rec.overhead_ms = max(0.0, (total - ctx.upstream_s) * 1000) if not rec.stream else rec.overhead_ms
        rec.attempts, rec.fallbacks, rec.route = ctx.attempts, ctx.fallbacks, ctx.route
        if ctx.log_mode != "off":
            rec.prompt, rec.completion, rec.log = ctx.prompt, ctx.completion, (ctx.log_mode, ctx.redact_terms)
        row = rec.row()
        if self.metrics is not None:
            self.metrics.observe(row)
        if self.tracing.enabled:
            self._trace_call(ctx, row)
        if access.isEnabledFor(logging.INFO):
            access.info("model call", extra=call_fields(row, ctx.cache))
        self._sink.emit("model_calls", row)

    @staticmethod
    def _trace_call(ctx: CallContext, row: dict) -> None:
        span, ctx.span = ctx.span, None
        if span is None:
            record_call(current_span(), row)  # no attempt answered: a cache hit, or a failure
            return
        record_call(span, row)
        span.end()


def completion_text(body: dict) -> str:
    """The text of a chat answer (every choice), or nothing for embeddings."""
    parts = [(c.get("message") or {}).get("content") or "" for c in body.get("choices") or () if isinstance(c, dict)]
    return "\n".join(p for p in parts if isinstance(p, str))


def worst_case_tokens(body: dict, prompt: str) -> int:
    """Prompt (estimated) plus every completion the request may produce."""
    completion = body.get("max_tokens") or body.get("max_completion_tokens") or DEFAULT_MAX_TOKENS
    return estimate_tokens(prompt) + int(completion) * int(body.get("n") or 1)


def _no_deployment(alias: str, why: str, wait: float | None = None) -> GatewayError:
    headers = {"retry-after": retry_after_header(wait if wait is not None else 5.0)}
    return GatewayError(503, "no_deployment_available", f"No deployment of '{alias}' can serve now: {why}",
                        "service_unavailable", headers=headers)


def _deadline_error() -> GatewayError:
    return GatewayError(504, "deadline_exceeded", "The request deadline passed before an upstream answered",
                        "timeout")


def _json_object(raw: bytes) -> dict[str, Any]:
    body = json_object(raw)
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise GatewayError(400, "invalid_request", "'model' is required and must be a string", param="model")
    return body


def validate_embedding_body(raw: bytes) -> dict[str, Any]:
    body = _json_object(raw)
    value = body.get("input")
    ok = (isinstance(value, str) and value) or (
        isinstance(value, list) and value and all(isinstance(v, (str, int, list)) for v in value))
    if not ok:
        raise GatewayError(400, "invalid_request", "'input' must be a non-empty string or array", param="input")
    return body


def validate_chat_body(raw: bytes) -> dict[str, Any]:
    """Reject what cannot be a chat request before anything is spent on it (400, OpenAI's status)."""
    body = _json_object(raw)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise GatewayError(400, "invalid_request", "'messages' must be a non-empty array", param="messages")
    if not all(isinstance(m, dict) and isinstance(m.get("role"), str) for m in messages):
        raise GatewayError(400, "invalid_request", "each message needs a 'role'", param="messages")
    # These size every worst case (rate limits, budgets): a negative or absurd value would refund them.
    for name, highest in (("max_tokens", 1_000_000), ("max_completion_tokens", 1_000_000), ("n", 128)):
        value = body.get(name)
        if value is not None and (type(value) is not int or not 1 <= value <= highest):
            raise GatewayError(400, "invalid_request", f"'{name}' must be an integer from 1 to {highest}", param=name)
    return body
