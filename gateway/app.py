"""Wiring only: `create_app(settings, config)` builds the gateway; the lifespan owns every resource."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from gateway.api import chat, health, reports
from gateway.chat import ChatService
from gateway.config import GatewayConfig
from gateway.errors import install_handlers
from gateway.providers.registry import build_providers
from gateway.settings import GatewaySettings
from gateway.store.client import Store
from gateway.store.writer import TelemetryWriter

log = logging.getLogger("resumeopt.gateway")


def create_app(settings: GatewaySettings, config: GatewayConfig) -> FastAPI:
    """The gateway app. `config` must already have managed local deployments pointed at a server."""
    store = Store(settings.resolved_store_dsn(), settings.store_database)
    applied = store.migrate()
    if applied:
        log.info("store migrations applied: %s", ", ".join(applied))
    writer = TelemetryWriter(store, settings.writer_batch_size, settings.writer_flush_interval_s,
                             settings.writer_max_pending)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        writer.start()
        client = httpx.AsyncClient(limits=httpx.Limits(max_connections=256, max_keepalive_connections=64))
        app.state.chat = ChatService(config, build_providers(config, client), writer)
        try:
            yield
        finally:
            await client.aclose()
            writer.stop()

    app = FastAPI(title="resumeopt gateway", version="0.1.0", lifespan=lifespan)
    app.state.settings, app.state.store, app.state.writer = settings, store, writer
    install_handlers(app)
    for r in (chat.router, health.router, reports.router):
        app.include_router(r)
    return app
