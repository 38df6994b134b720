"""Server-sent events in OpenAI's stream format, and the usage of a stream."""

from __future__ import annotations

import orjson

from gateway.errors import GatewayError
from gateway.providers.base import Usage, estimate_tokens, prompt_text


def sse_event(chunk: dict) -> bytes:
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


def sse_error(err: GatewayError) -> bytes:
    return sse_event({"error": {"message": err.message, "type": err.type, "code": err.code}})


class StreamTally:
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

    def text(self) -> str:
        return "".join(self._text)

    def usage(self) -> Usage:
        if self._reported is not None:
            return self._reported
        # Servers without a usage chunk (llama.cpp) send one token per content chunk; the prompt side
        # is estimated. Never 0 for a call that produced text: a $0 stream would never hit a budget.
        prompt = prompt_text(self._body)
        output = max(self._content_chunks, estimate_tokens("".join(self._text)))
        return Usage(estimate_tokens(prompt), output, estimated=True)
