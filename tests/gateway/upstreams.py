"""Real HTTP upstreams on loopback for tests: an echo server that shows what the gateway forwarded, and a
switchable one whose health the test controls. They speak OpenAI's wire format; no code of ours inside."""

from __future__ import annotations

import json

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route


def echo_upstream() -> Starlette:
    """Answers with the exact JSON body it received as the message content; records headers."""
    seen: list[dict] = []

    async def chat(request: Request):
        body = await request.json()
        seen.append({"body": body, "headers": dict(request.headers)})
        content = json.dumps(body, sort_keys=True)
        usage = {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}
        if body.get("stream"):
            async def events():
                chunk = {"id": "e", "object": "chat.completion.chunk", "created": 0, "model": body["model"],
                         "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": None}]}
                yield f"data: {json.dumps(chunk)}\n\n"
                stop = {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
                yield f"data: {json.dumps(stop)}\n\n"
                yield f"data: {json.dumps({**chunk, 'choices': [], 'usage': usage})}\n\n"
                yield "data: [DONE]\n\n"
            return StreamingResponse(events(), media_type="text/event-stream")
        return JSONResponse({"id": "e", "object": "chat.completion", "created": 0, "model": body["model"],
                             "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                                          "finish_reason": "stop"}], "usage": usage})

    app = Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])
    app.state.seen = seen
    return app


def switchable_upstream() -> Starlette:
    """503 while `app.state.healthy` is False, a normal answer when True."""

    async def chat(request: Request):
        body = await request.json()
        if not request.app.state.healthy:
            return JSONResponse({"error": {"message": "down", "type": "api_error"}}, status_code=503)
        return JSONResponse({"id": "s", "object": "chat.completion", "created": 0, "model": body["model"],
                             "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"},
                                          "finish_reason": "stop"}],
                             "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})

    app = Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])
    app.state.healthy = False
    return app
