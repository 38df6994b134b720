"""An OpenAI-compatible upstream over a pooled aiohttp session: the local llama.cpp server, vLLM, etc.

aiohttp, not httpx, on the hot path, decided by measurement: 64 concurrent requests to a fast loopback
upstream ran at ~360 requests/s through an httpx.AsyncClient and ~9,200/s through aiohttp on these
2-core machines (httpx's pool scales badly with concurrency); through the gateway, max throughput was
~100 requests/s with httpx (tests/perf/bench_gateway.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import orjson

from gateway.providers.base import Completion, UpstreamError, Usage, estimate_tokens, prompt_text, usage_from
from gateway.telemetry import TRACEPARENT

# Bound on one upstream response body: a provider that answers without end must not exhaust memory.
MAX_BODY_BYTES = 32 * 1024 * 1024
_JSON = {"content-type": "application/json"}


async def _read_all(resp: aiohttp.ClientResponse) -> bytes:
    """The whole body, bounded. (`content.read(n)` returns whatever is buffered, not n bytes: a body
    that arrives in several chunks, such as the local model's token embeddings, was cut short.)"""
    raw = bytearray()
    async for chunk in resp.content.iter_chunked(1 << 16):
        raw += chunk
        if len(raw) > MAX_BODY_BYTES:
            raise UpstreamError("malformed", f"upstream body larger than {MAX_BODY_BYTES} bytes")
    return bytes(raw)


class OpenAICompatProvider:
    def __init__(self, api_base: str, api_key: str | None, session: aiohttp.ClientSession):
        base = api_base.rstrip("/")
        self._url, self._embed_url = base + "/chat/completions", base + "/embeddings"
        self._headers = {**_JSON, "authorization": f"Bearer {api_key}"} if api_key else dict(_JSON)
        self._session = session

    async def complete(self, body: dict, timeout: float) -> Completion:
        data = await self._post(self._url, body, timeout)
        return Completion(data, usage_from(data) or _estimated_usage(body, data))

    async def embed(self, body: dict, timeout: float) -> Completion:
        data = await self._post(self._embed_url, body, timeout)
        for item in data.get("data") or ():
            item["embedding"] = pooled(item.get("embedding") or [])
        u = data.get("usage") or {}
        return Completion(data, Usage(int(u.get("prompt_tokens") or 0), 0))

    async def _post(self, url: str, body: dict, timeout: float) -> dict:
        try:
            async with self._session.post(url, data=orjson.dumps(body), headers=self._call_headers(),
                                          timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
                raw = await _read_all(resp)
                if resp.status >= 400:
                    raise _status_error(resp, raw)
        except (asyncio.TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise UpstreamError("timeout", f"upstream timed out after {timeout:.1f}s") from exc
        except aiohttp.ClientError as exc:
            raise UpstreamError("connect", f"upstream unreachable: {type(exc).__name__}") from exc
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise UpstreamError("malformed", "upstream answered with a body that is not JSON") from exc

    async def stream(self, body: dict, timeout: float) -> AsyncIterator[dict]:
        # Ask for the final usage chunk; servers that ignore it (llama.cpp) are counted by the gateway.
        body = {**body, "stream": True, "stream_options": {"include_usage": True}}
        started = False
        try:
            async with self._session.post(self._url, data=orjson.dumps(body), headers=self._call_headers(),
                                          timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
                if resp.status >= 400:
                    raise _status_error(resp, await _read_all(resp))
                async for chunk in _sse_objects(resp):
                    started = True
                    yield chunk
        except (asyncio.TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise UpstreamError("timeout", f"upstream timed out after {timeout:.1f}s") from exc
        except aiohttp.ClientError as exc:
            kind = "stream_cut" if started else "connect"
            raise UpstreamError(kind, f"upstream connection failed: {type(exc).__name__}") from exc

    async def aclose(self) -> None:
        return None  # the session belongs to the app

    def _call_headers(self) -> dict[str, str]:
        parent = TRACEPARENT.get()
        return {**self._headers, "traceparent": parent} if parent else self._headers


async def _sse_objects(resp: aiohttp.ClientResponse) -> AsyncIterator[dict]:
    async for line in resp.content:
        if not line.startswith(b"data:"):
            continue
        payload = line[5:].strip()
        if payload == b"[DONE]":
            return
        try:
            yield orjson.loads(payload)
        except orjson.JSONDecodeError as exc:
            raise UpstreamError("malformed", "upstream sent a stream event that is not JSON") from exc
    raise UpstreamError("stream_cut", "upstream closed the stream before [DONE]")


def pooled(vector: list) -> list[float]:
    """One vector per input. llama.cpp's server returns one vector per token for models without a
    pooling layer (SmolLM2 is one): mean-pool them, then L2-normalise, as sentence encoders do."""
    if not vector or not isinstance(vector[0], list):
        return vector
    dim = len(vector[0])
    mean = [sum(tok[i] for tok in vector) / len(vector) for i in range(dim)]
    norm = sum(x * x for x in mean) ** 0.5 or 1.0
    return [x / norm for x in mean]


def _status_error(resp: aiohttp.ClientResponse, raw: bytes) -> UpstreamError:
    try:
        err = orjson.loads(raw).get("error")
        msg = err.get("message") if isinstance(err, dict) else err
    except (orjson.JSONDecodeError, AttributeError):
        msg = None
    text = f"upstream answered {resp.status}" + (f": {str(msg)[:300]}" if msg else "")
    return UpstreamError("http_status", text, resp.status, retry_after=_retry_after(resp.headers.get("retry-after")))


def _retry_after(value: str | None) -> float | None:
    """Seconds form only (RFC 9110 §10.2.3 also allows an HTTP date; providers send seconds)."""
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def _estimated_usage(request: dict, data: dict) -> Usage:
    prompt = prompt_text(request)
    answer = "".join(str((c.get("message") or {}).get("content") or "") for c in data.get("choices", []))
    return Usage(estimate_tokens(prompt), estimate_tokens(answer), estimated=True)
