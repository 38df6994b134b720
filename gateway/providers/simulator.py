"""SimulatedProvider: a configurable, seeded upstream for load tests and fault drills.

Product code, named for what it is: it never stands in for a result we claim. It answers in OpenAI
format with a latency drawn from a distribution, token counts from its config, and injects faults
(5xx, 429 with Retry-After, timeout, connection reset, malformed body, stream cut mid-answer) at a
configured rate. With a seed, the sequence of outcomes is repeatable. Scripted replies answer a prompt that
contains a given text with a given answer, so a drill can put a known answer (a fabricated one, say) in
front of the caller and watch what it does with it.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import random
import time
import uuid
from collections.abc import AsyncIterator
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.providers.base import Completion, UpstreamError, Usage, estimate_tokens, prompt_text

Fault = Literal["http_500", "http_503", "http_429", "timeout", "connection_reset", "malformed", "stream_cut",
                "context_window", "content_policy"]


class Latency(BaseModel):
    model_config = ConfigDict(extra="forbid")
    distribution: Literal["fixed", "uniform", "lognormal"] = "fixed"
    ms: float = Field(0.0, ge=0, description="fixed value, uniform low bound, or lognormal median")
    high_ms: float = Field(0.0, ge=0, description="uniform high bound")
    sigma: float = Field(0.5, ge=0, description="lognormal shape")
    per_token_ms: float = Field(0.0, ge=0, description="delay between streamed tokens")


class ScriptedReply(BaseModel):
    model_config = ConfigDict(extra="forbid")
    when: str = Field(min_length=1, description="text the request's messages contain (case-sensitive)")
    reply: str = Field(min_length=1, description="the answer, sent as written (a token per space-separated "
                       "word, cut at max_tokens)")


class SimulatorSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seed: int | None = None
    latency: Latency = Latency()
    error_rate: float = Field(0.0, ge=0, le=1)
    fail_first_n: int = Field(0, ge=0, description="the first N calls fail (recovery drills), then error_rate")
    faults: dict[Fault, float] = Field(default_factory=lambda: {"http_500": 1.0},
                                       description="relative weights of the injected faults")
    retry_after_s: float = Field(1.0, ge=0, description="sent with injected 429s")
    completion_tokens: int = Field(16, ge=1)
    reply: str = "simulated reply"
    replies: list[ScriptedReply] = Field(default_factory=list, description="the first whose `when` the prompt "
                                         "contains answers instead of `reply`")
    embedding_dim: int = Field(64, ge=1, le=4096)


class SimulatedProvider:
    def __init__(self, spec: SimulatorSpec, name: str = "simulator"):
        self.spec, self.name = spec, name
        self._rng = random.Random(spec.seed)
        self.calls = 0

    def _draw(self) -> tuple[Fault | None, float]:
        self.calls += 1
        fault = None
        if self.calls <= self.spec.fail_first_n or (self.spec.error_rate and self._rng.random() < self.spec.error_rate):
            kinds, weights = zip(*self.spec.faults.items())
            fault = self._rng.choices(kinds, weights)[0]
        return fault, self._latency_s()

    def _latency_s(self) -> float:
        lat = self.spec.latency
        if lat.distribution == "uniform":
            return self._rng.uniform(lat.ms, max(lat.ms, lat.high_ms)) / 1000
        if lat.distribution == "lognormal" and lat.ms > 0:
            return self._rng.lognormvariate(math.log(lat.ms), lat.sigma) / 1000
        return lat.ms / 1000

    async def complete(self, body: dict, timeout: float) -> Completion:
        fault, delay = self._draw()
        await _sleep_within(delay, timeout)
        _raise_for(fault, self.spec, timeout, streaming=False)
        if fault == "malformed":
            raise UpstreamError("malformed", "upstream answered with a body that is not JSON")
        text, usage = self._answer(body)
        return Completion(_completion(body, text, usage), usage)

    async def stream(self, body: dict, timeout: float) -> AsyncIterator[dict]:
        fault, delay = self._draw()
        deadline = time.monotonic() + timeout
        await _sleep_within(delay, timeout)
        _raise_for(fault, self.spec, timeout, streaming=True)
        text, usage = self._answer(body)
        words = text.split(" ")
        cid, created = f"chatcmpl-sim-{uuid.uuid4().hex[:12]}", int(time.time())
        for i, word in enumerate(words):
            if fault == "stream_cut" and i == len(words) // 2:
                raise UpstreamError("stream_cut", "upstream closed the stream before [DONE]")
            if fault == "malformed" and i == 1:
                raise UpstreamError("malformed", "upstream sent a stream event that is not JSON")
            piece = word if i == 0 else " " + word
            yield _chunk(cid, created, body, {"content": piece}, None)
            if self.spec.latency.per_token_ms:
                await _sleep_within(self.spec.latency.per_token_ms / 1000, deadline - time.monotonic())
        yield _chunk(cid, created, body, {}, "stop")
        yield {"id": cid, "object": "chat.completion.chunk", "created": created, "model": body["model"],
               "choices": [], "usage": _usage_dict(usage)}

    async def embed(self, body: dict, timeout: float) -> Completion:
        fault, delay = self._draw()
        await _sleep_within(delay, timeout)
        _raise_for(fault, self.spec, timeout, streaming=False)
        inputs = body.get("input")
        inputs = [inputs] if isinstance(inputs, str) else list(inputs or [])
        data = [{"object": "embedding", "index": i, "embedding": _vector(str(text), self.spec.embedding_dim)}
                for i, text in enumerate(inputs)]
        usage = Usage(sum(estimate_tokens(str(t)) for t in inputs), 0)
        return Completion({"object": "list", "data": data, "model": body["model"],
                           "usage": {"prompt_tokens": usage.input_tokens, "total_tokens": usage.input_tokens}},
                          usage)

    async def aclose(self) -> None:
        return None

    def _answer(self, body: dict) -> tuple[str, Usage]:
        """A scripted reply as written, else `reply` cycled to exactly `completion_tokens` words; one
        simulated token a word, at most `max_tokens`."""
        prompt = prompt_text(body)
        cap = int(body.get("max_tokens") or 0) or None
        scripted = next((r.reply for r in self.spec.replies if r.when in prompt), None)
        if scripted is not None:
            words = scripted.split(" ")[:cap]  # line breaks kept: an answer in lines stays in lines
        else:
            cycle, n = self.spec.reply.split() or ["ok"], self.spec.completion_tokens
            words = [cycle[i % len(cycle)] for i in range(min(n, cap or n))]
        return " ".join(words), Usage(estimate_tokens(prompt), len(words))


def _vector(text: str, dim: int) -> list[float]:
    """A unit vector derived from the text alone: same text, same vector, in any process."""
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")
    rng = random.Random(seed)
    raw = [rng.gauss(0, 1) for _ in range(dim)]
    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
    return [x / norm for x in raw]


def _raise_for(fault: Fault | None, spec: SimulatorSpec, timeout: float, streaming: bool) -> None:
    if fault == "http_500":
        raise UpstreamError("http_status", "upstream answered 500 (simulated)", 500)
    if fault == "http_503":
        raise UpstreamError("http_status", "upstream answered 503 (simulated)", 503)
    if fault == "http_429":
        raise UpstreamError("http_status", "upstream answered 429 (simulated)", 429,
                            retry_after=spec.retry_after_s)
    if fault == "timeout":
        raise UpstreamError("timeout", f"upstream timed out after {timeout:.1f}s (simulated)")
    if fault == "connection_reset":
        raise UpstreamError("connect", "upstream connection reset (simulated)")
    if fault == "context_window":  # OpenAI's wording for an over-long prompt
        raise UpstreamError("http_status", "upstream answered 400: This model's maximum context length is "
                            "8192 tokens (context_length_exceeded, simulated)", 400)
    if fault == "content_policy":
        raise UpstreamError("http_status", "upstream answered 400: The response was filtered due to the "
                            "prompt triggering content management policy (content_filter, simulated)", 400)


async def _sleep_within(delay: float, budget: float) -> None:
    if delay > budget:
        await asyncio.sleep(max(budget, 0))
        raise UpstreamError("timeout", f"upstream timed out after {budget:.1f}s")
    if delay > 0:
        await asyncio.sleep(delay)


def _completion(body: dict, text: str, usage: Usage) -> dict:
    return {"id": f"chatcmpl-sim-{uuid.uuid4().hex[:12]}", "object": "chat.completion",
            "created": int(time.time()), "model": body["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "finish_reason": "stop"}],
            "usage": _usage_dict(usage)}


def _chunk(cid: str, created: int, body: dict, delta: dict, finish: str | None) -> dict:
    return {"id": cid, "object": "chat.completion.chunk", "created": created, "model": body["model"],
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def _usage_dict(u: Usage) -> dict:
    return {"prompt_tokens": u.input_tokens, "completion_tokens": u.output_tokens,
            "total_tokens": u.input_tokens + u.output_tokens}
