"""The provider interface every upstream implements, and the errors it may raise.

A provider receives the client's OpenAI-format body with `model` already set to the upstream's model
name, and answers in OpenAI format. Everything else (routing, retries, telemetry) wraps providers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal, Protocol

from gateway.pii import scrub

ErrorKind = Literal["connect", "timeout", "http_status", "malformed", "stream_cut"]


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int
    output_tokens: int
    estimated: bool = False  # True when the upstream sent no usage and the gateway counted


@dataclass(frozen=True, slots=True)
class Completion:
    body: dict
    usage: Usage


class UpstreamError(Exception):
    """A failure of the upstream, classified so that the gateway can map it to a status."""

    def __init__(self, kind: ErrorKind, message: str, status: int | None = None,
                 retry_after: float | None = None):
        message = scrub(message)  # upstreams echo credentials ("Incorrect API key provided: sk-…")
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status
        self.retry_after = retry_after  # seconds the upstream asked us to wait (429/503 Retry-After)


class Provider(Protocol):
    async def complete(self, body: dict, timeout: float) -> Completion: ...

    def stream(self, body: dict, timeout: float) -> AsyncIterator[dict]:
        """Yield OpenAI `chat.completion.chunk` objects; the last may carry `usage`."""
        ...

    async def embed(self, body: dict, timeout: float) -> Completion:
        """OpenAI `/v1/embeddings` body in, OpenAI embedding list out (usage: prompt tokens only)."""
        ...

    async def aclose(self) -> None: ...


def usage_from(body: dict) -> Usage | None:
    u = body.get("usage") or None
    if not u:
        return None
    return Usage(int(u.get("prompt_tokens") or 0), int(u.get("completion_tokens") or 0))


def prompt_text(body: dict) -> str:
    """The text of a chat request's messages, for estimates when an upstream reports no usage."""
    return "".join(str(m.get("content") or "") for m in body.get("messages", []))


def estimate_tokens(text: str) -> int:
    """~4 characters per token for English (OpenAI's rule of thumb); used only when upstream is silent."""
    return max(1, (len(text) + 3) // 4) if text else 0
