"""Any provider litellm knows (OpenAI, Azure, Anthropic, Bedrock, ...), imported only when configured.

litellm costs ~4.5 s and ~200 MB to import (FACTS.md), so the embedded default never loads it.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

from gateway.providers.base import Completion, UpstreamError, Usage, usage_from

# Never fetch the price map at run time: the pinned copy inside the locked litellm wheel is used.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


def _litellm():
    import litellm

    litellm.telemetry = False
    return litellm


class LiteLLMProvider:
    def __init__(self, model: str, api_key: str | None, api_base: str | None = None):
        self._model = model
        self._creds = {k: v for k, v in {"api_key": api_key, "api_base": api_base}.items() if v}

    async def complete(self, body: dict, timeout: float) -> Completion:
        litellm = _litellm()
        params = {k: v for k, v in body.items() if k not in ("model", "stream")}
        try:
            resp = await litellm.acompletion(model=self._model, timeout=timeout, **self._creds, **params)
        except Exception as exc:  # litellm raises its own hierarchy; classify by attributes
            raise _classify(exc) from exc
        data = resp.model_dump()
        return Completion(data, usage_from(data) or Usage(0, 0, estimated=True))

    async def stream(self, body: dict, timeout: float) -> AsyncIterator[dict]:
        litellm = _litellm()
        params = {k: v for k, v in body.items() if k not in ("model", "stream", "stream_options")}
        try:
            resp = await litellm.acompletion(
                model=self._model, stream=True, stream_options={"include_usage": True},
                timeout=timeout, **self._creds, **params,
            )
            async for chunk in resp:
                yield chunk.model_dump(exclude_none=True)
        except UpstreamError:
            raise
        except Exception as exc:
            raise _classify(exc) from exc

    async def embed(self, body: dict, timeout: float) -> Completion:
        litellm = _litellm()
        params = {k: v for k, v in body.items() if k != "model"}
        try:
            resp = await litellm.aembedding(model=self._model, timeout=timeout, **self._creds, **params)
        except Exception as exc:
            raise _classify(exc) from exc
        data = resp.model_dump()
        u = data.get("usage") or {}
        return Completion(data, Usage(int(u.get("prompt_tokens") or 0), 0))

    async def aclose(self) -> None:
        return None


def _classify(exc: Exception) -> UpstreamError:
    status = getattr(exc, "status_code", None)
    name = type(exc).__name__
    if "Timeout" in name:
        return UpstreamError("timeout", "upstream timed out")
    if "APIConnection" in name or status is None:
        return UpstreamError("connect", f"upstream unreachable ({name})")
    # litellm's message can echo request data; keep only the class and status.
    return UpstreamError("http_status", f"upstream answered {status} ({name})", int(status))
