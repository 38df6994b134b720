"""FastAPI dependencies: the app's long-lived parts, read from `app.state` set up in `create_app`.

They are `async def` on purpose: FastAPI runs a plain `def` dependency in a worker thread, which cost
more than the rest of a gateway request (profile in tests/perf)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from gateway.chat import ChatService
from gateway.errors import GatewayError
from gateway.store.client import Store
from gateway.store.writer import TelemetryWriter


async def _service(request: Request) -> ChatService:
    return request.app.state.chat


async def _store(request: Request) -> Store:
    return request.app.state.store


async def _writer(request: Request) -> TelemetryWriter:
    return request.app.state.writer


ServiceDep = Annotated[ChatService, Depends(_service)]
StoreDep = Annotated[Store, Depends(_store)]
WriterDep = Annotated[TelemetryWriter, Depends(_writer)]


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refused with 413 once it passes `limit` (checked while reading, not after)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise GatewayError(413, "payload_too_large", f"Request body exceeds {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise GatewayError(413, "payload_too_large", f"Request body exceeds {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
