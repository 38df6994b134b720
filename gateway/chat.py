"""The chat-completions service: resolve the alias, call the deployment, record the call.

Handlers stay thin; this is where a call's lifecycle lives. Every call, successful or not, emits one
`model_calls` row to the store writer (never awaited: the request path does not wait on ClickHouse).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from gateway.config import Deployment, GatewayConfig
from gateway.errors import GatewayError, from_upstream
from gateway.pricing import call_cost
from gateway.providers.base import Provider, UpstreamError, Usage, estimate_tokens
from gateway.telemetry import Attribution, CallRecord


class Emitter:
    """Where call rows go: the store writer in production, a list in a unit test."""

    def emit(self, table: str, row: dict) -> None: ...


class ChatService:
    def __init__(self, config: GatewayConfig, providers: dict[str, Provider], sink: Emitter):
        self._config = config
        self._providers = providers
        self._sink = sink

    def live_aliases(self) -> list[str]:
        return [m.alias for m in self._config.models if any(d.name in self._providers for d in m.deployments)]

    def resolve(self, alias: str) -> tuple[Deployment, Provider]:
        entry = self._config.alias(alias)
        if entry is None:
            raise GatewayError(404, "model_not_found", f"The model '{alias[:100]}' does not exist", param="model")
        for dep in entry.deployments:
            if dep.name in self._providers:
                return dep, self._providers[dep.name]
        keys = ", ".join(sorted({d.api_key_env for d in entry.deployments if d.api_key_env}))
        raise GatewayError(404, "model_not_available",
                           f"The model '{alias}' has no deployment with credentials (set {keys})",
                           param="model")

    async def complete(self, body: dict, who: Attribution) -> tuple[dict, CallRecord]:
        dep, provider = self.resolve(body["model"])
        rec = CallRecord(who, body["model"], dep.name, dep.provider)
        started = time.perf_counter()
        try:
            result = await provider.complete({**body, "model": dep.model}, dep.timeout_s)
        except UpstreamError as exc:
            raise self._failed(rec, exc, started) from exc
        self._settle(rec, dep, result.usage, started)
        result.body["model"] = body["model"]
        return result.body, rec

    async def open_stream(self, body: dict, who: Attribution) -> tuple[AsyncIterator[bytes], CallRecord]:
        """Start the upstream stream and wait for its first chunk, so that a failure before any byte
        reaches the client is still an ordinary JSON error with a status code."""
        dep, provider = self.resolve(body["model"])
        rec = CallRecord(who, body["model"], dep.name, dep.provider, stream=True)
        started = time.perf_counter()
        upstream = provider.stream({**body, "model": dep.model}, dep.timeout_s)
        try:
            first = await anext(upstream)
        except StopAsyncIteration:
            first = None
        except UpstreamError as exc:
            raise self._failed(rec, exc, started) from exc
        rec.ttft_ms = (time.perf_counter() - started) * 1000
        return self._relay(first, upstream, body, dep, rec, started), rec

    async def _relay(self, first: dict | None, upstream: AsyncIterator[dict], body: dict,
                     dep: Deployment, rec: CallRecord, started: float) -> AsyncIterator[bytes]:
        tally = _StreamTally(body)
        try:
            chunk = first
            while chunk is not None:
                tally.see(chunk)
                if tally.forward(chunk):
                    chunk["model"] = body["model"]
                    yield b"data: " + json.dumps(chunk, separators=(",", ":")).encode() + b"\n\n"
                chunk = await anext(upstream, None)
        except UpstreamError as exc:
            # Bytes already reached the client: end with a terminal error event, never a clean [DONE].
            err = from_upstream(exc)
            self._settle(rec, dep, tally.usage(), started, status="error", error_kind=exc.kind)
            yield b"data: " + json.dumps({"error": {"message": err.message, "type": err.type,
                                                    "code": err.code}}).encode() + b"\n\n"
            return
        except (GeneratorExit, asyncio.CancelledError):
            # The client went away: the tokens were still spent, so the call is still recorded.
            self._settle(rec, dep, tally.usage(), started, status="cancelled", error_kind="client_disconnect")
            raise
        self._settle(rec, dep, tally.usage(), started)
        yield b"data: [DONE]\n\n"

    def _failed(self, rec: CallRecord, exc: UpstreamError, started: float) -> GatewayError:
        err = from_upstream(exc)
        rec.latency_ms = (time.perf_counter() - started) * 1000
        rec.status, rec.error_kind, rec.http_status = "error", exc.kind, err.status
        self._sink.emit("model_calls", rec.row())
        return err

    def _settle(self, rec: CallRecord, dep: Deployment, usage: Usage, started: float,
                status: str = "ok", error_kind: str = "") -> None:
        rec.latency_ms = (time.perf_counter() - started) * 1000
        rec.input_tokens, rec.output_tokens = usage.input_tokens, usage.output_tokens
        rec.usage_estimated = usage.estimated
        rec.cost_usd = call_cost(dep, usage.input_tokens, usage.output_tokens)
        rec.status, rec.error_kind = status, error_kind
        self._sink.emit("model_calls", rec.row())


class _StreamTally:
    """Usage of a streamed call: the upstream's final usage chunk, or a count when it sends none."""

    def __init__(self, body: dict):
        self._body = body
        self._reported: Usage | None = None
        self._text: list[str] = []
        self._content_chunks = 0
        self._wants_usage = bool((body.get("stream_options") or {}).get("include_usage"))

    def see(self, chunk: dict) -> None:
        u = chunk.get("usage")
        if u:
            self._reported = Usage(int(u.get("prompt_tokens") or 0), int(u.get("completion_tokens") or 0))
        for choice in chunk.get("choices") or ():
            piece = (choice.get("delta") or {}).get("content")
            if piece:
                self._text.append(piece)
                self._content_chunks += 1

    def forward(self, chunk: dict) -> bool:
        """A usage-only chunk goes to the client only if it asked for one (OpenAI's contract)."""
        return bool(chunk.get("choices")) or self._wants_usage

    def usage(self) -> Usage:
        if self._reported is not None:
            return self._reported
        # Servers without a usage chunk (llama.cpp) send one token per content chunk; the prompt side
        # is estimated. Never 0 for a call that produced text: a $0 stream would never hit a budget.
        prompt = "".join(str(m.get("content") or "") for m in self._body.get("messages", []))
        output = max(self._content_chunks, estimate_tokens("".join(self._text)))
        return Usage(estimate_tokens(prompt), output, estimated=True)


def validate_chat_body(raw: bytes) -> dict[str, Any]:
    """Reject what cannot be a chat request before anything is spent on it (400, OpenAI's status)."""
    try:
        body = json.loads(raw)
    except ValueError:
        raise GatewayError(400, "invalid_json", "Request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise GatewayError(400, "invalid_request", "Request body must be a JSON object")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise GatewayError(400, "invalid_request", "'model' is required and must be a string", param="model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise GatewayError(400, "invalid_request", "'messages' must be a non-empty array", param="messages")
    if not all(isinstance(m, dict) and isinstance(m.get("role"), str) for m in messages):
        raise GatewayError(400, "invalid_request", "each message needs a 'role'", param="messages")
    return body
