"""Breaker transitions, driven by a fake clock, run identically against both backends."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis.asyncio as aioredis

from gateway.breaker import BreakerPolicy, MemoryBreakers, RedisBreakers

POLICY = BreakerPolicy(window_s=10, min_requests=4, failure_rate=0.5, cooldown_s=5, half_open_probes=2)


@pytest.fixture(params=["memory", "redis"])
def breakers(request):
    """A runner: `breakers(fn)` builds the backend inside the event loop and runs `fn(backend)`."""

    def run_with(fn):
        async def go():
            if request.param == "memory":
                return await fn(MemoryBreakers(POLICY))
            client = aioredis.Redis(host="127.0.0.1", port=6379)
            prefix = f"resumeopt-test:{uuid.uuid4().hex[:8]}:"
            try:
                return await fn(RedisBreakers(POLICY, client, prefix))
            finally:
                await _cleanup(client, prefix)
        return asyncio.run(go())

    return run_with


async def _cleanup(client, prefix):
    keys = [k async for k in client.scan_iter(f"{prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


def run(coro):
    return asyncio.run(coro)


async def _fail(b, n, now, dep="d1"):
    for _ in range(n):
        await b.record(dep, False, now)


def test_stays_closed_below_min_requests(breakers):
    async def go(breakers):
        await _fail(breakers, 3, 100.0)
        return await breakers.state("d1", 100.0)
    assert breakers(go) == "closed"


def test_opens_on_failure_rate_and_refuses_with_retry_after(breakers):
    async def go(breakers):
        await breakers.record("d1", True, 100.0)
        await breakers.record("d1", True, 100.0)
        await _fail(breakers, 2, 101.0)   # 2 of 4 failed = 50 %: opens
        return await breakers.allow("d1", 102.0)
    d = breakers(go)
    assert (d.allowed, d.state) == (False, "open")
    assert d.retry_after_s == pytest.approx(4.0)  # opened at 101, cooldown 5


def test_failures_outside_the_window_do_not_count(breakers):
    async def go(breakers):
        await _fail(breakers, 3, 100.0)
        await breakers.record("d1", False, 111.0)  # window 10 s: the first three are gone
        return await breakers.state("d1", 111.0)
    assert breakers(go) == "closed"


def test_half_open_lets_a_bounded_number_of_probes_through(breakers):
    async def go(breakers):
        await _fail(breakers, 4, 100.0)
        return [await breakers.allow("d1", 105.0) for _ in range(3)]
    first, second, third = breakers(go)
    assert first.allowed and second.allowed and first.state == "half_open"
    assert not third.allowed and third.state == "half_open"


def test_successful_probe_closes(breakers):
    async def go(breakers):
        await _fail(breakers, 4, 100.0)
        await breakers.allow("d1", 105.0)
        await breakers.record("d1", True, 105.5)
        return await breakers.state("d1", 105.5), await breakers.allow("d1", 105.6)
    state, decision = breakers(go)
    assert state == "closed" and decision.allowed


def test_failed_probe_reopens_for_a_full_cooldown(breakers):
    async def go(breakers):
        await _fail(breakers, 4, 100.0)
        await breakers.allow("d1", 105.0)
        await breakers.record("d1", False, 106.0)
        return await breakers.allow("d1", 108.0)
    d = breakers(go)
    assert (d.allowed, d.state) == (False, "open")
    assert d.retry_after_s == pytest.approx(3.0)


def test_circuits_are_per_deployment(breakers):
    async def go(breakers):
        await _fail(breakers, 4, 100.0, dep="bad")
        return await breakers.allow("good", 100.5)
    assert breakers(go).allowed


def test_two_replicas_share_one_redis_circuit():
    """Two gateway processes see one breaker: failures seen by A open it for B; B's probe closes it for A."""
    prefix = f"resumeopt-test:{uuid.uuid4().hex[:8]}:"

    async def go():
        a_client, b_client = aioredis.Redis(), aioredis.Redis()
        a, b = RedisBreakers(POLICY, a_client, prefix), RedisBreakers(POLICY, b_client, prefix)
        await _fail(a, 2, 100.0)
        await _fail(b, 2, 100.0)
        refused = await a.allow("d1", 101.0)
        probe = await b.allow("d1", 105.0)
        await b.record("d1", True, 105.1)
        after = await a.allow("d1", 105.2)
        await _cleanup(a_client, prefix)
        await b_client.aclose()
        return refused, probe, after

    refused, probe, after = run(go())
    assert not refused.allowed and probe.allowed and after.allowed and after.state == "closed"


def test_redis_outage_fails_open_instead_of_failing_requests():
    """The breakers the gateway builds for the Redis backend (its pool: bounded timeouts, no retries),
    against a Redis that is not there. A client with redis-py's defaults instead retries each command ten
    times with back-off, ~4 s a command: that is not the gateway's client, and it was this test's time."""
    from gateway.app import _shared_state
    from gateway.config import GatewayConfig
    from gateway.settings import GatewaySettings

    settings = GatewaySettings(state_backend="redis", redis_url="redis://127.0.0.1:1/0",  # nothing listens on 1
                               redis_prefix="resumeopt-test:dead:")
    config = GatewayConfig.model_validate({"default_alias": "s", "policy": {"breaker": POLICY.model_dump()},
                                           "models": [{"alias": "s", "deployments": [
                                               {"name": "s", "provider": "simulator", "model": "s"}]}]})

    async def go():
        b, *_, dead = _shared_state(settings, config)
        assert isinstance(b, RedisBreakers)
        decision = await b.allow("d1", 100.0)
        state = await b.record("d1", False, 100.0)
        await dead.aclose()
        return decision, state

    decision, state = run(go())
    assert decision.allowed and state == "closed"
