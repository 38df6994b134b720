"""What failed, whether it is safe to try again, and how long to wait first.

Error classes are the vocabulary of fallback chains in the config (`fallbacks: [{when: [...], to: [...]}]`).
Retries happen only where repeating the request cannot hurt and might help: connection failures, 429
and 5xx, always before any byte reached the client (a started stream is never retried).
"""

from __future__ import annotations

import random
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.providers.base import UpstreamError

ErrorClass = Literal["unavailable", "timeout", "rate_limited", "server_error", "context_window_exceeded",
                     "content_policy", "bad_request"]
FALLBACK_ON = ("any", "unavailable", "timeout", "rate_limited", "server_error", "context_window_exceeded",
               "content_policy")

RETRYABLE: frozenset[str] = frozenset({"unavailable", "rate_limited", "server_error"})

# Phrases providers use for an over-long prompt / a refused prompt (OpenAI codes, Anthropic and vLLM texts).
_CONTEXT = ("context_length_exceeded", "maximum context length", "context window", "too many tokens",
            "prompt is too long")
_POLICY = ("content_filter", "content_policy", "content management policy", "safety system")


class RetryPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_attempts: int = Field(3, ge=1, le=10, description="tries per deployment, first one included")
    base_delay_s: float = Field(0.2, ge=0)
    max_delay_s: float = Field(5.0, ge=0, description="cap of one backoff, and of an honoured Retry-After")


def classify(exc: UpstreamError) -> ErrorClass:
    if exc.kind == "connect":
        return "unavailable"
    if exc.kind == "timeout":
        return "timeout"
    if exc.kind in ("malformed", "stream_cut"):
        return "server_error"
    status = exc.status or 500
    text = exc.message.lower()
    if status == 429:
        return "rate_limited"
    if status >= 500:
        return "server_error"
    if any(p in text for p in _CONTEXT):
        return "context_window_exceeded"
    if any(p in text for p in _POLICY):
        return "content_policy"
    return "bad_request"


def backoff_s(attempt: int, policy: RetryPolicy, rng: random.Random, retry_after: float | None = None) -> float:
    """Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff and Jitter"):
    uniform in [0, min(cap, base * 2^attempt)]. A Retry-After from upstream is a floor, not a suggestion."""
    jitter = rng.uniform(0, min(policy.max_delay_s, policy.base_delay_s * (2 ** attempt)))
    if retry_after is not None:
        return max(jitter, retry_after)
    return jitter
