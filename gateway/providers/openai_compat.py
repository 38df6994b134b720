"""An OpenAI-compatible upstream over a pooled HTTP client: the local llama.cpp server, vLLM, etc."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx

from gateway.providers.base import Completion, UpstreamError, Usage, estimate_tokens, usage_from
from gateway.telemetry import TRACEPARENT

# Bound on one upstream response body: a provider that streams without end must not exhaust memory.
MAX_BODY_BYTES = 32 * 1024 * 1024


class OpenAICompatProvider:
    def __init__(self, api_base: str, api_key: str | None = None, client: httpx.AsyncClient | None = None):
        self._url = api_base.rstrip("/") + "/chat/completions"
        self._embed_url = api_base.rstrip("/") + "/embeddings"
        self._headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = client or httpx.AsyncClient(
            limits=httpx.Limits(max_connections=256, max_keepalive_connections=64),
        )

    async def complete(self, body: dict, timeout: float) -> Completion:
        data = await self._post(self._url, body, timeout)
        usage = usage_from(data) or _estimated_usage(body, data)
        return Completion(data, usage)

    async def embed(self, body: dict, timeout: float) -> Completion:
        data = await self._post(self._embed_url, body, timeout)
        for item in data.get("data") or ():
            item["embedding"] = pooled(item.get("embedding") or [])
        u = data.get("usage") or {}
        return Completion(data, Usage(int(u.get("prompt_tokens") or 0), 0))

    async def _post(self, url: str, body: dict, timeout: float) -> dict:
        try:
            resp = await self._client.post(url, json=body, headers=self._call_headers(), timeout=timeout)
        except httpx.TimeoutException as exc:
            raise UpstreamError("timeout", f"upstream timed out after {timeout:.0f}s") from exc
        except httpx.TransportError as exc:
            raise UpstreamError("connect", f"upstream unreachable: {type(exc).__name__}") from exc
        if resp.status_code >= 400:
            raise UpstreamError("http_status", _error_message(resp), resp.status_code)
        try:
            return resp.json()
        except ValueError as exc:
            raise UpstreamError("malformed", "upstream answered with a body that is not JSON") from exc

    async def stream(self, body: dict, timeout: float) -> AsyncIterator[dict]:
        # Ask for the final usage chunk; servers that ignore it (llama.cpp) are counted by the gateway.
        body = {**body, "stream": True, "stream_options": {"include_usage": True}}
        try:
            async with self._client.stream(
                "POST", self._url, json=body, headers=self._call_headers(), timeout=timeout
            ) as resp:
                if resp.status_code >= 400:
                    await resp.aread()
                    raise UpstreamError("http_status", _error_message(resp), resp.status_code)
                async for chunk in _sse_objects(resp):
                    yield chunk
        except httpx.TimeoutException as exc:
            raise UpstreamError("timeout", f"upstream timed out after {timeout:.0f}s") from exc
        except httpx.TransportError as exc:
            raise UpstreamError("connect", f"upstream connection failed: {type(exc).__name__}") from exc

    async def aclose(self) -> None:
        await self._client.aclose()

    def _call_headers(self) -> dict[str, str]:
        parent = TRACEPARENT.get()
        return {**self._headers, "traceparent": parent} if parent else self._headers


async def _sse_objects(resp: httpx.Response) -> AsyncIterator[dict]:
    finished = False
    async for line in resp.aiter_lines():
        if not line.startswith("data:"):
            continue
        payload = line[5:].strip()
        if payload == "[DONE]":
            finished = True
            break
        try:
            yield json.loads(payload)
        except ValueError as exc:
            raise UpstreamError("malformed", "upstream sent a stream event that is not JSON") from exc
    if not finished:
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


def _error_message(resp: httpx.Response) -> str:
    try:
        err = resp.json().get("error")
        msg = err.get("message") if isinstance(err, dict) else err
    except (ValueError, AttributeError):
        msg = None
    return f"upstream answered {resp.status_code}" + (f": {str(msg)[:300]}" if msg else "")


def _estimated_usage(request: dict, data: dict) -> Usage:
    prompt = "".join(str(m.get("content") or "") for m in request.get("messages", []))
    answer = "".join(str((c.get("message") or {}).get("content") or "") for c in data.get("choices", []))
    return Usage(estimate_tokens(prompt), estimate_tokens(answer), estimated=True)
