"""OpenAI-compatible endpoints: chat completions (plain and SSE) and the model list."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse

from gateway.api.deps import ServiceDep, read_body
from gateway.chat import validate_chat_body
from gateway.telemetry import Attribution, CallRecord

router = APIRouter()


@router.post("/v1/chat/completions")
async def chat_completions(request: Request, service: ServiceDep):
    body = validate_chat_body(await read_body(request, request.app.state.settings.max_body_bytes))
    who = Attribution.from_headers(request.headers)
    if body.get("stream"):
        chunks, rec = await service.open_stream(body, who)
        return StreamingResponse(chunks, media_type="text/event-stream", headers=_headers(rec))
    answer, rec = await service.complete(body, who)
    return JSONResponse(answer, headers=_headers(rec))


@router.get("/v1/models")
async def list_models(service: ServiceDep):
    now = int(time.time())
    data = [{"id": a, "object": "model", "created": now, "owned_by": "resumeopt"} for a in service.live_aliases()]
    return {"object": "list", "data": data}


def _headers(rec: CallRecord) -> dict[str, str]:
    return {
        "x-request-id": rec.attribution.request_id,
        "x-resumeopt-call-id": rec.call_id,
        "x-resumeopt-deployment": rec.deployment,
    }
