"""Wiring only: `create_app(settings, config)` builds the gateway; the lifespan owns every resource."""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import asynccontextmanager
from datetime import datetime

import aiohttp
from fastapi import FastAPI

from gateway.api import admin, chat, health, reports
from gateway.auth.gate import Authenticator
from gateway.auth.keys import KeyRegistry
from gateway.auth.tokens import JwtVerifier
from gateway.breaker import MemoryBreakers, RedisBreakers
from gateway.budgets import MemoryBudgets, RedisBudgets
from gateway.cache import MemoryCache, RedisCache
from gateway.ratelimit import MemoryLimiter, RedisLimiter
from gateway.chat import ChatService
from gateway.config import GatewayConfig
from gateway.errors import install_handlers
from gateway.governance import Governance
from gateway.limits import ScopeLimits
from gateway.metrics import GatewayMetrics
from gateway.pii import install_log_scrubber
from gateway.modes import Modes
from gateway.pricing import load_price_book, priced
from gateway.providers.registry import build_providers
from gateway.settings import GatewaySettings
from gateway.store import queries
from gateway.store.client import Store
from gateway.store.registry import Registry
from gateway.store.retention import apply_retention
from gateway.store.stream import StreamConsumer, StreamSink
from gateway.store.writer import TelemetryWriter
from gateway.tracing import Tracing

log = logging.getLogger("resumeopt.gateway")


def create_app(settings: GatewaySettings, config: GatewayConfig, tracing: Tracing | None = None) -> FastAPI:
    """The gateway app. `config` must already have managed local deployments pointed at a server.
    `tracing`: the process's tracer; by default built from `settings.tracing` and shut down with the app."""
    install_log_scrubber()
    owned = tracing is None
    tracing = tracing or Tracing.from_settings(settings.tracing)
    price_version = ""
    if settings.price_file is not None:
        book = load_price_book(settings.price_file)
        config, price_version = priced(config, book), f"{settings.price_file.name}@{book.version}"
        log.info("prices: %s", price_version)
    store = Store(settings.resolved_store_dsn(), settings.store_database)
    applied = store.migrate()
    if applied:
        log.info("store migrations applied: %s", ", ".join(applied))
    apply_retention(store, settings.retention_days(), settings.store_cluster)
    writer, consumer = _telemetry(settings, store)
    keys, limits = KeyRegistry(store), Registry(store, "limits", ScopeLimits)
    keys.load()
    limits.load()
    jwt = JwtVerifier(config.auth.jwt) if config.auth.jwt else None
    auth = Authenticator(settings.auth, settings.admin_key, keys, jwt)

    def spent_since(scope: str, start: datetime):
        writer.flush(timeout=5)  # calls of this scope may still sit in the writer's batch
        return queries.cost_since(store, start, scope)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        writer.start()
        if consumer is not None:
            consumer.start()
        # One pooled session for every HTTP upstream; per-call timeouts come from the request's deadline.
        # keepalive 4 s: below the 5 s idle timeout of uvicorn and many proxies, so a pooled connection
        # is not reused just as the upstream closes it.
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1024, ttl_dns_cache=300,
                                                                       keepalive_timeout=4),
                                        timeout=aiohttp.ClientTimeout(total=None), raise_for_status=False)
        breakers, cache, limiter, budgets, redis = _shared_state(settings, config)
        gov = Governance(config, cache, limiter, budgets, time.time, limits, spent_since)
        app.state.chat = ChatService(config, build_providers(config, session), writer, breakers, Modes(), gov=gov,
                                     metrics=app.state.metrics, tracing=tracing)
        refresher = asyncio.create_task(_refresh(settings.auth_refresh_s, keys, limits))
        try:
            yield
        finally:
            refresher.cancel()
            await session.close()
            if redis is not None:
                await redis.aclose()
            await writer.aclose()  # its buffer reaches the store (or the stream) first
            if consumer is not None:
                await asyncio.to_thread(consumer.stop)
            if owned:
                tracing.shutdown()

    # FastAPI's native OpenTelemetry makes the server spans (W3C traceparent in, http.route); it is off
    # unless tracing is configured (it costs ~15 µs a request even with no exporter behind it, tests/perf).
    app = FastAPI(title="resumeopt gateway", version="0.1.0", lifespan=lifespan, telemetry=tracing.fastapi())
    app.state.settings, app.state.store, app.state.writer, app.state.tracing = settings, store, writer, tracing
    app.state.price_version = price_version
    app.state.auth, app.state.keys, app.state.limits = auth, keys, limits
    app.state.metrics = GatewayMetrics()
    install_handlers(app)
    for r in (chat.router, health.router, reports.router, admin.router, admin.me_router):
        app.include_router(r)
    return app


def _telemetry(settings: GatewaySettings, store: Store):
    """Where this process emits telemetry, and the stream reader when it is also the store writer."""
    if settings.telemetry_queue == "memory":
        return TelemetryWriter(store, settings.writer_batch_size, settings.writer_flush_interval_s,
                               settings.writer_max_pending, spool_dir=settings.resolved_spool_dir(),
                               max_spool_bytes=settings.max_spool_bytes), None
    sink = StreamSink(settings.redis_url, settings.redis_prefix, settings.resolved_spool_dir() / "stream",
                      settings.max_stream_backlog, settings.max_spool_bytes)
    return sink, (stream_consumer(settings, store) if settings.store_writer else None)


def stream_consumer(settings: GatewaySettings, store: Store) -> StreamConsumer:
    return StreamConsumer(store, settings.redis_url, settings.redis_prefix, settings.writer_name or None,
                          settings.writer_batch_size, int(settings.writer_flush_interval_s * 1000))


async def _refresh(every_s: float, *registries) -> None:
    """Keys and limits changed on another replica reach this one within `every_s`. A failed reload keeps
    what is loaded (a store outage must not lock every caller out)."""
    while True:
        await asyncio.sleep(every_s)
        for registry in registries:
            try:
                await asyncio.to_thread(registry.load)
            except Exception as exc:
                log.warning("reloading %s from the store failed (%s): keeping the loaded set",
                            type(registry).__name__, type(exc).__name__)


def _shared_state(settings: GatewaySettings, config: GatewayConfig):
    """Breakers, response cache, rate limits and budgets: in-process, or in Redis shared by every replica."""
    if settings.state_backend == "memory":
        return (MemoryBreakers(config.policy.breaker), MemoryCache(config.policy.cache.max_entries),
                MemoryLimiter(), MemoryBudgets(), None)
    import redis.asyncio as aioredis

    # A blocking pool waits for a free connection instead of failing past 100 commands (FACTS.md).
    # Bounded everywhere: a slow Redis costs a request at most ~1 s before the breaker fails open.
    pool = aioredis.BlockingConnectionPool.from_url(settings.redis_url, max_connections=64, timeout=1,
                                                    socket_timeout=0.5, socket_connect_timeout=0.5)
    redis = aioredis.Redis(connection_pool=pool)
    return (RedisBreakers(config.policy.breaker, redis, settings.redis_prefix),
            RedisCache(redis, settings.redis_prefix), RedisLimiter(redis, settings.redis_prefix),
            RedisBudgets(redis, settings.redis_prefix), redis)
