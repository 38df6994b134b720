"""Budgets cannot be overspent: 200 concurrent requests (plain and streamed) against a budget that
allows about 50, in one process and across two processes sharing Redis; 402 says which budget, its
limit, what is spent and when it resets; periods follow the calendar in the configured time zone."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest

from gateway.app import create_app
from gateway.budgets import Budget, window
from gateway.config import GatewayConfig
from tests.support import gateway_replicas, serve, wait_for

LIMIT = Decimal(800)  # $16 a request (16 output tokens at $1 each): about 50 requests


def _config(**budget) -> dict:
    return {"default_alias": "paid", "policy": {"budget": {
        "budgets": [{"scope": "global", "period": "day", "limit_usd": str(LIMIT)}], **budget}},
        "models": [{"alias": "paid", "deployments": [{
            "name": "sim", "provider": "simulator", "model": "s",
            "price": {"input_per_mtok": 0, "output_per_mtok": 1_000_000},
            "simulator": {"completion_tokens": 16, "latency": {"ms": 30}}}]}]}


async def _burst(urls: list[str], n: int = 200) -> list[httpx.Response]:
    async with httpx.AsyncClient(timeout=60) as client:
        async def one(i: int):
            body = {"model": "paid", "messages": [{"role": "user", "content": f"q{i}"}], "max_tokens": 32,
                    "stream": i % 2 == 1}
            return await client.post(f"{urls[i % len(urls)]}/v1/chat/completions", json=body)
        return await asyncio.gather(*[one(i) for i in range(n)])


def _spent(url: str) -> Decimal:
    rows = httpx.get(f"{url}/api/v1/reports/cost", params={"by": "model"}).json()["rows"]
    return sum((Decimal(r["cost_usd"]) for r in rows), Decimal(0))


def test_concurrent_burst_never_overspends(gw_settings):
    app = create_app(gw_settings, GatewayConfig.model_validate(_config()))
    with serve(app) as url:
        responses = asyncio.run(_burst([url]))
        app.state.writer.flush(10)
        spent = _spent(url)
    ok = [r for r in responses if r.status_code == 200]
    refused = [r for r in responses if r.status_code == 402]
    assert len(ok) + len(refused) == 200 and refused
    assert spent <= LIMIT
    assert spent == 16 * len(ok)  # every admitted call, streamed ones included, is in the spend
    err = refused[0].json()["error"]
    assert (err["code"], err["scope"], err["limit"]) == ("budget_exceeded", "global", "800")
    assert Decimal(err["spent"]) <= LIMIT and err["resets_at"].endswith("+00:00")


def test_request_whose_worst_case_exceeds_the_per_request_maximum_is_refused(gw_settings):
    app = create_app(gw_settings, GatewayConfig.model_validate(_config(max_request_usd="100")))
    with serve(app) as url:
        ok = httpx.post(f"{url}/v1/chat/completions", json={"model": "paid", "max_tokens": 50,
                                                            "messages": [{"role": "user", "content": "x"}]})
        big = httpx.post(f"{url}/v1/chat/completions", json={"model": "paid", "max_tokens": 500,
                                                             "messages": [{"role": "user", "content": "x"}]})
        uncapped = httpx.post(f"{url}/v1/chat/completions", json={"model": "paid",
                                                                  "messages": [{"role": "user", "content": "x"}]})
    assert ok.status_code == 200
    assert big.status_code == 402 and big.json()["error"]["scope"] == "request"
    assert uncapped.status_code == 402  # no max_tokens: capped at 4096 for the worst case, which is too dear


def test_two_processes_sharing_redis_never_overspend(tmp_path):
    with gateway_replicas(_config(), tmp_path) as urls:
        responses = asyncio.run(_burst(urls))
        admitted = sum(r.status_code == 200 for r in responses)
        # the replicas' writers batch rows: poll (with a deadline) until every admitted call is in
        wait_for(lambda: sum((_spent(u) for u in urls), Decimal(0)) == 16 * admitted, timeout=15,
                 what="all admitted calls in the replicas' stores", interval=0.2)
        spent = sum((_spent(u) for u in urls), Decimal(0))
    assert {r.status_code for r in responses} == {200, 402}
    assert spent <= LIMIT


@pytest.mark.parametrize(("now", "period", "tz", "start", "resets"), [
    ("2026-03-31T23:30:00+00:00", "day", "Europe/Berlin", "2026-04-01", "2026-04-02T00:00:00+02:00"),
    ("2026-03-29T12:00:00+00:00", "day", "Europe/Berlin", "2026-03-29", "2026-03-30T00:00:00+02:00"),  # DST day
    ("2026-12-31T23:59:00-05:00", "month", "America/New_York", "2026-12-01", "2027-01-01T00:00:00-05:00"),
    ("2026-02-10T00:00:00+00:00", "month", "UTC", "2026-02-01", "2026-03-01T00:00:00+00:00"),
])
def test_periods_follow_the_calendar_in_the_time_zone(now, period, tz, start, resets):
    w = window(Budget(period=period, limit_usd=1), datetime.fromisoformat(now).astimezone(UTC), tz)
    assert w.key == f"global:{period}:{start}"
    assert w.resets.isoformat() == resets


def test_embeddings_spend_the_budget_too(gw_settings):
    cfg = _config()
    cfg["policy"]["budget"]["budgets"][0]["limit_usd"] = "0.01"
    cfg["models"][0]["deployments"][0]["price"] = {"input_per_mtok": 100, "output_per_mtok": 0}
    app = create_app(gw_settings, GatewayConfig.model_validate(cfg))
    with serve(app) as url:
        small = httpx.post(f"{url}/v1/embeddings", json={"model": "paid", "input": "python"})
        big = httpx.post(f"{url}/v1/embeddings", json={"model": "paid", "input": "x" * 40_000})
    assert small.status_code == 200
    assert big.status_code == 402 and big.json()["error"]["code"] == "budget_exceeded"


def test_a_restart_does_not_reset_an_in_process_budget(gw_settings):
    config = GatewayConfig.model_validate(_config())
    body = {"model": "paid", "max_tokens": 32, "messages": [{"role": "user", "content": "x"}]}
    app = create_app(gw_settings, config)
    with serve(app) as url:
        first = [httpx.post(f"{url}/v1/chat/completions", json=body).status_code for _ in range(60)]
        app.state.writer.flush(10)
    # $800 at $16 a call, $32 reserved for each: the 50th would need $784 + $32 > $800
    assert first.count(200) == 49 and first[-1] == 402
    restarted = create_app(gw_settings, config)  # same store, fresh process state
    with serve(restarted) as url:
        again = httpx.post(f"{url}/v1/chat/completions", json=body)
    assert again.status_code == 402 and Decimal(again.json()["error"]["spent"]) == 16 * 49


def test_a_window_whose_past_spend_cannot_be_read_refuses_spend_until_it_can():
    from gateway.budgets import BudgetGuard, BudgetPolicy, MemoryBudgets
    from gateway.errors import GatewayError

    store_up = {"ok": False}

    def spent_since(scope, start):
        if not store_up["ok"]:
            raise ConnectionError("store refusing reads")
        return Decimal(30)

    guard = BudgetGuard(BudgetPolicy(), MemoryBudgets(), spent_since)
    budget = [Budget(scope="team:a", period="day", limit_usd=Decimal(50))]
    now = datetime(2026, 11, 29, 12, tzinfo=UTC)

    async def go():
        with pytest.raises(GatewayError) as refused:
            await guard.reserve(Decimal(10), now, budget, None)
        store_up["ok"] = True
        held = await guard.reserve(Decimal(10), now, budget, None)   # 30 spent before + 10 <= 50
        with pytest.raises(GatewayError) as over:
            await guard.reserve(Decimal(15), now, budget, None)      # 30 + 10 held + 15 > 50
        await guard.settle(held, Decimal(10))
        return refused.value, over.value

    refused, over = asyncio.run(go())
    assert (refused.status, refused.code) == (503, "budget_unavailable")
    assert (over.status, over.code) == (402, "budget_exceeded") and over.extra["spent"] == "40"


def test_redis_ledger_settles_free_calls(redis_budgets):
    """A $0 call reserves and settles 0: Lua's -0 reached Redis 7.0 as "-0", which HINCRBY refused."""
    budgets, client, prefix = redis_budgets

    async def go():
        got = await budgets.reserve([("w", Decimal(1), 60)], Decimal(0))
        await budgets.settle([("w", 60)], Decimal(0), Decimal(0))
        got2 = await budgets.reserve([("w", Decimal(1), 60)], Decimal("0.4"))
        await budgets.settle([("w", 60)], Decimal("0.4"), Decimal("0.1"))
        return got, got2, await client.hgetall(f"{prefix}budget:w")

    got, got2, ledger = asyncio.run(go())
    assert got.ok and got2.ok
    assert {k.decode(): int(v) for k, v in ledger.items()} == {"reserved": 0, "spent": 100_000_000}


@pytest.fixture
def redis_budgets():
    import uuid

    import redis.asyncio as aioredis

    from gateway.budgets import RedisBudgets

    prefix = f"resumeopt-test:{uuid.uuid4().hex[:8]}:"
    client = aioredis.Redis()
    yield RedisBudgets(client, prefix), client, prefix
    from tests.support import clear_redis_prefix

    clear_redis_prefix(prefix)
