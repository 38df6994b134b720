"""GCRA rate limits: the admitted rate matches the configured one within 5 % under a sustained burst
(fake clock, both backends), Retry-After says when the next request fits, and the gateway answers 429."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
import redis.asyncio as aioredis

from gateway.app import create_app
from gateway.config import GatewayConfig
from gateway.ratelimit import MemoryLimiter, RedisLimiter
from tests.support import serve


@pytest.fixture(params=["memory", "redis"])
def limiter_run(request):
    def run(fn):
        async def go():
            if request.param == "memory":
                return await fn(MemoryLimiter())
            client = aioredis.Redis()
            prefix = f"resumeopt-test:{uuid.uuid4().hex[:8]}:"
            try:
                return await fn(RedisLimiter(client, prefix))
            finally:
                keys = [k async for k in client.scan_iter(f"{prefix}*")]
                if keys:
                    await client.delete(*keys)
                await client.aclose()
        return asyncio.run(go())
    return run


def test_sustained_burst_is_admitted_at_the_configured_rate(limiter_run):
    async def go(limiter):
        admitted, now = 0, 1000.0
        for _ in range(12_000):  # 120 simulated seconds, a request every 10 ms (100/s offered)
            admitted += (await limiter.take("m", 600, 1.0, 1, now)).allowed
            now += 0.01
        return admitted

    admitted = limiter_run(go)
    expected = 600 * 2 + 1  # 600/min for two minutes, plus the initial burst of one
    assert abs(admitted - expected) / expected <= 0.05


def test_retry_after_is_when_the_next_request_fits(limiter_run):
    async def go(limiter):
        first = await limiter.take("m", 60, 1.0, 1, 500.0)    # one per second
        refused = await limiter.take("m", 60, 1.0, 1, 500.25)
        later = await limiter.take("m", 60, 1.0, 1, 500.25 + refused.retry_after_s)
        return first, refused, later

    first, refused, later = limiter_run(go)
    assert first.allowed and not refused.allowed and later.allowed
    assert refused.retry_after_s == pytest.approx(0.75)


def test_token_limit_counts_cost(limiter_run):
    async def go(limiter):
        a = await limiter.take("t", 6000, 60.0, 5000, 0.0)     # 6000 tokens/min, a minute's worth at once
        b = await limiter.take("t", 6000, 60.0, 2000, 0.0)     # 7000 > 6000: refused
        return a, b

    a, b = limiter_run(go)
    assert a.allowed and not b.allowed
    assert b.retry_after_s == pytest.approx(10.0)              # 1000 tokens over, at 100 tokens/s


def test_gateway_answers_429_with_retry_after_and_cache_hits_do_not_count(gw_settings):
    sim = {"name": "s", "provider": "simulator", "model": "s"}
    config = GatewayConfig.model_validate({"default_alias": "a", "models": [
        {"alias": "a", "deployments": [sim], "rate_limit": {"requests_per_minute": 60, "requests_burst_s": 2},
         "cache": {"enabled": True}},
        {"alias": "t", "deployments": [{**sim, "name": "s2"}], "rate_limit": {"tokens_per_minute": 100}}]})
    with serve(create_app(gw_settings, config)) as url:
        def post(content: str, model: str = "a", **extra):
            return httpx.post(f"{url}/v1/chat/completions", timeout=10,
                              json={"model": model, "messages": [{"role": "user", "content": content}], **extra})

        statuses = [post(f"q{i}").status_code for i in range(4)]
        refused = post("q9")
        repeat = post("q0")  # a cache hit: served although the limit is reached
        too_big = post("x", model="t", max_tokens=500)
    assert statuses == [200, 200, 429, 429]  # burst of two at 1/s
    assert refused.json()["error"]["code"] == "rate_limited" and refused.headers["retry-after"] == "1"
    assert repeat.status_code == 200 and repeat.headers["x-resumeopt-cache"] == "hit"
    assert too_big.status_code == 400 and too_big.json()["error"]["code"] == "request_exceeds_rate_limit"
