"""A judge model on loopback for plumbing tests: a real HTTP server in OpenAI's wire format that answers
each chat request with a function of its messages, so a test decides what "the model" says (a verdict that
follows position, one that follows content, invalid JSON) and sees every request the gateway forwarded.
Quality figures never come from here: those use the real local model (tests/e2e)."""

from __future__ import annotations

from collections.abc import Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from gateway.config import GatewayConfig


def scripted_model(answer: Callable[[list[dict]], str]) -> Starlette:
    seen: list[dict] = []

    async def chat(request: Request):
        body = await request.json()
        seen.append(body)
        return JSONResponse({"id": "j", "object": "chat.completion", "created": 0, "model": body["model"],
                             "choices": [{"index": 0, "message": {"role": "assistant",
                                                                  "content": answer(body["messages"])},
                                          "finish_reason": "stop"}],
                             "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}})

    app = Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])
    app.state.seen = seen
    return app


def judge_config(upstream_url: str) -> GatewayConfig:
    """A routing config whose `judge` alias is the scripted model (priced, so cost is visible) and whose
    `local-smol` embeds with the simulator."""
    return GatewayConfig.model_validate({"default_alias": "local-smol", "models": [
        {"alias": "judge", "deployments": [{"name": "scripted-judge", "provider": "openai_compatible",
                                            "model": "scripted", "api_base": f"{upstream_url}/v1",
                                            "price": {"input_per_mtok": "1", "output_per_mtok": "2"}}]},
        {"alias": "local-smol", "deployments": [{"name": "sim", "provider": "simulator", "model": "sim",
                                                 "simulator": {"embedding_dim": 16}}]}]})
