"""Wiring only: `create_app(settings, config)` builds the gateway; the lifespan owns every resource."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import aiohttp
from fastapi import FastAPI

from gateway.api import admin, chat, health, reports
from gateway.breaker import MemoryBreakers, RedisBreakers
from gateway.budgets import MemoryBudgets, RedisBudgets, seed_from_store
from gateway.cache import MemoryCache, RedisCache
from gateway.ratelimit import MemoryLimiter, RedisLimiter
from gateway.chat import ChatService
from gateway.config import GatewayConfig
from gateway.errors import install_handlers
from gateway.modes import Modes
from gateway.providers.registry import build_providers
from gateway.settings import GatewaySettings
from gateway.store import queries
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
        # One pooled session for every HTTP upstream; per-call timeouts come from the request's deadline.
        # keepalive 4 s: below the 5 s idle timeout of uvicorn and many proxies, so a pooled connection
        # is not reused just as the upstream closes it.
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1024, ttl_dns_cache=300,
                                                                       keepalive_timeout=4),
                                        timeout=aiohttp.ClientTimeout(total=None), raise_for_status=False)
        breakers, cache, limiter, budgets, redis = _shared_state(settings, config)
        if isinstance(budgets, MemoryBudgets) and config.policy.budget.budgets:
            seed_from_store(budgets, config.policy.budget, lambda start: queries.cost_since(store, start),
                            datetime.now(UTC))
        app.state.chat = ChatService(config, build_providers(config, session), writer, breakers, Modes(),
                                     cache=cache, limiter=limiter, budgets=budgets)
        try:
            yield
        finally:
            await session.close()
            if redis is not None:
                await redis.aclose()
            writer.stop()

    # FastAPI's native OpenTelemetry wraps every request even with no exporter behind it; off until
    # tracing is configured (measured ~15 µs and several allocations per request in tests/perf).
    app = FastAPI(title="resumeopt gateway", version="0.1.0", lifespan=lifespan,
                  telemetry={"tracing": False, "metrics": False, "logs": False})
    app.state.settings, app.state.store, app.state.writer = settings, store, writer
    install_handlers(app)
    for r in (chat.router, health.router, reports.router, admin.router):
        app.include_router(r)
    return app


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
