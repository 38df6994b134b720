"""A deliberately minimal OpenAI-compatible upstream for benchmarks: raw asyncio HTTP/1.1 with keep-alive,
a canned answer, no framework. It must cost far less than what is measured through it.

    python -m tests.perf.fake_upstream --port 9100
"""

from __future__ import annotations

import argparse
import asyncio
import json

COMPLETION = json.dumps({
    "id": "chatcmpl-bench", "object": "chat.completion", "created": 0, "model": "bench",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "benchmark answer " * 8},
                 "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 12, "completion_tokens": 16, "total_tokens": 28}}).encode()


def _stream_body() -> bytes:
    chunks = []
    for i in range(16):
        delta = {"content": "tok "} if i else {"role": "assistant", "content": "tok "}
        chunks.append({"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "bench",
                       "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
    chunks.append({"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "bench",
                   "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    chunks.append({"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "bench", "choices": [],
                   "usage": {"prompt_tokens": 12, "completion_tokens": 16, "total_tokens": 28}})
    return b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"


STREAM = _stream_body()


def _response(body: bytes, content_type: bytes) -> bytes:
    return (b"HTTP/1.1 200 OK\r\ncontent-type: " + content_type + b"\r\ncontent-length: "
            + str(len(body)).encode() + b"\r\n\r\n" + body)


PLAIN_RESPONSE = _response(COMPLETION, b"application/json")
STREAM_RESPONSE = _response(STREAM, b"text/event-stream")
MODELS_RESPONSE = _response(b'{"object":"list","data":[{"id":"bench","object":"model"}]}', b"application/json")


class Upstream(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        self.buf = b""

    def data_received(self, data: bytes):
        self.buf += data
        while True:
            head_end = self.buf.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buf[:head_end].lower()
            length = 0
            for line in head.split(b"\r\n"):
                if line.startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            end = head_end + 4 + length
            if len(self.buf) < end:
                return
            body, self.buf = self.buf[head_end + 4:end], self.buf[end:]
            if head.startswith(b"get"):
                self.transport.write(MODELS_RESPONSE)
            elif b'"stream": true' in body or b'"stream":true' in body:
                self.transport.write(STREAM_RESPONSE)
            else:
                self.transport.write(PLAIN_RESPONSE)


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Upstream, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(serve(p.parse_args().port))
