"""Limits scoped to the caller, over real HTTP with real keys: budgets per key, team and (across two
processes sharing Redis) that cannot be overspent by 200 concurrent requests, plain and streamed;
rate limits per key and team with Retry-After; plan defaults and admin overrides; soft budgets; a
budget set mid-period counting what was already spent; prompt logging per team (off, redacted, full)."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import httpx
import pytest

from gateway.app import create_app
from gateway.config import GatewayConfig
from tests.conftest import ADMIN_KEY
from tests.support import gateway_replicas, serve, wait_for

ADMIN = {"authorization": f"Bearer {ADMIN_KEY}"}
PER_CALL = Decimal(16)  # 16 output tokens at $1 each
LIMIT = Decimal(800)    # about 50 calls


def _config(**policy) -> dict:
    return {"default_alias": "paid", "policy": policy, "models": [{"alias": "paid", "deployments": [{
        "name": "sim", "provider": "simulator", "model": "s", "price": {"input_per_mtok": 0, "output_per_mtok": 1_000_000},
        "simulator": {"completion_tokens": 16, "latency": {"ms": 30}}}]}]}


@pytest.fixture
def gateway(secured):
    app = create_app(secured, GatewayConfig.model_validate(_config()))
    with serve(app) as url:
        yield url, app


def _key(url: str, team: str, **extra) -> tuple[str, str]:
    body = {"name": "k", "team": team, "role": extra.pop("role", "consumer"), "plan": extra.pop("plan", "premium"),
            **extra}
    resp = httpx.post(f"{url}/admin/v1/keys", json=body, headers=ADMIN).json()
    return resp["key"], resp["key_id"]


def _limits(url: str, scope: str, **limits) -> None:
    resp = httpx.put(f"{url}/admin/v1/limits/{scope}", json=limits, headers=ADMIN)
    assert resp.status_code == 200, resp.text


def _chat(url: str, key: str, content: str = "hi", **extra) -> httpx.Response:
    return httpx.post(f"{url}/v1/chat/completions", timeout=30, headers={"authorization": f"Bearer {key}"},
                      json={"model": "paid", "messages": [{"role": "user", "content": content}], "max_tokens": 32,
                            **extra})


async def _burst(urls: list[str], key: str, n: int = 200) -> list[httpx.Response]:
    async with httpx.AsyncClient(timeout=60, headers={"authorization": f"Bearer {key}"}) as client:
        async def one(i: int):
            body = {"model": "paid", "messages": [{"role": "user", "content": f"q{i}"}], "max_tokens": 32,
                    "stream": i % 2 == 1}
            resp = await client.post(f"{urls[i % len(urls)]}/v1/chat/completions", json=body)
            await resp.aread()
            return resp
        return await asyncio.gather(*[one(i) for i in range(n)])


def _spent(url: str, **params) -> Decimal:
    rows = httpx.get(f"{url}/api/v1/reports/cost", params={"by": "team", **params}, headers=ADMIN).json()["rows"]
    return sum((Decimal(r["cost_usd"]) for r in rows), Decimal(0))


def test_200_concurrent_requests_never_overspend_a_key_budget(gateway):
    url, app = gateway
    key, key_id = _key(url, "acme")
    # the plan's rate limits would refuse part of the burst with 429: lift them, leave only the budget
    _limits(url, f"key:{key_id}", budget_day_usd=str(LIMIT), requests_per_minute=1e6, tokens_per_minute=1e9)
    responses = asyncio.run(_burst([url], key))
    app.state.writer.flush(10)
    ok = [r for r in responses if r.status_code == 200]
    refused = [r for r in responses if r.status_code == 402]
    assert len(ok) + len(refused) == 200 and refused and any(r.headers["content-type"].startswith("text/event-stream")
                                                             for r in ok)
    spent = _spent(url, team="acme")
    assert spent <= LIMIT and spent == PER_CALL * len(ok)  # streamed calls are counted, never $0
    err = refused[0].json()["error"]
    assert (err["code"], err["scope"], err["limit"]) == ("budget_exceeded", f"key:{key_id}", "800")
    other, _ = _key(url, "acme")
    assert _chat(url, other).status_code == 200  # another key of the same team has its own budget


def test_two_processes_sharing_redis_never_overspend_a_team_budget(tmp_path):
    cfg = _config(budget={"budgets": [{"scope": "team:platform", "period": "day", "limit_usd": str(LIMIT)}]})
    env = {"RESUMEOPT_AUTH": "required", "RESUMEOPT_ADMIN_KEY": ADMIN_KEY}  # the admin key's team is `platform`
    with gateway_replicas(cfg, tmp_path, env=env) as urls:
        responses = asyncio.run(_burst(urls, ADMIN_KEY))
        admitted = sum(r.status_code == 200 for r in responses)
        wait_for(lambda: sum((_spent(u) for u in urls), Decimal(0)) == PER_CALL * admitted, timeout=15,
                 what="all admitted calls in the replicas' stores", interval=0.2)
        spent = sum((_spent(u) for u in urls), Decimal(0))
    assert {r.status_code for r in responses} == {200, 402}
    assert spent <= LIMIT
    assert {r.json()["error"]["scope"] for r in responses if r.status_code == 402} == {"team:platform"}


def test_key_and_team_rate_limits_answer_429_with_retry_after(gateway):
    url, _ = gateway
    a, a_id = _key(url, "acme")
    b, _ = _key(url, "acme")
    c, _ = _key(url, "other")
    _limits(url, f"key:{a_id}", requests_per_minute=60, requests_burst_s=2)
    statuses = [_chat(url, a).status_code for _ in range(3)]
    refused = _chat(url, a)
    assert statuses == [200, 200, 429] and refused.headers["retry-after"] == "1"
    assert refused.json()["error"]["code"] == "rate_limited" and "key" in refused.json()["error"]["message"]
    assert _chat(url, b).status_code == 200  # a key's limit is its own
    _limits(url, "team:acme", requests_per_minute=30, requests_burst_s=2)
    team = [_chat(url, b).status_code for _ in range(3)]
    assert team.count(429) >= 1 and _chat(url, c).status_code == 200  # the team's limit binds acme only
    retry = int(_chat(url, b).headers["retry-after"])
    assert 1 <= retry <= 2  # 30/min: the next request fits within two seconds


def test_plan_defaults_apply_and_an_admin_override_wins(gateway):
    url, _ = gateway
    free, free_id = _key(url, "acme", plan="free")  # free: 20 requests/min (1 at once), $0.50 a day
    first, second = _chat(url, free), _chat(url, free)
    assert first.status_code == 402 and first.json()["error"]["limit"] == "0.50"  # a $32 worst case
    assert second.status_code == 429  # the first request took the rate slot before its budget refused it
    _limits(url, f"key:{free_id}", requests_per_minute=6000, budget_day_usd="1000", budget_month_usd="1000")
    assert [_chat(url, free).status_code for _ in range(5)] == [200] * 5
    me = httpx.get(f"{url}/api/v1/me", headers={"authorization": f"Bearer {free}"}).json()
    own = me["limits"][f"key:{free_id}"]
    assert (own["requests_per_minute"], own["budget_day_usd"]) == (6000, "1000")
    assert own["tokens_per_minute"] == 40_000 and own["requests_burst_s"] == 3  # the plan's, kept


def test_soft_budget_alerts_but_does_not_refuse(gateway, caplog):
    url, _ = gateway
    key, key_id = _key(url, "acme")
    _limits(url, f"key:{key_id}", budget_day_usd="20", budget_mode="soft")
    statuses = [_chat(url, key).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    assert any("soft budget" in r.getMessage() for r in caplog.records)


def test_per_scope_request_maximum(gateway):
    url, _ = gateway
    key, key_id = _key(url, "acme")
    _limits(url, f"key:{key_id}", max_request_usd="40")
    assert _chat(url, key, max_tokens=32).status_code == 200   # worst case $32
    big = _chat(url, key, max_tokens=64)                         # worst case $64
    assert big.status_code == 402 and big.json()["error"]["scope"] == "request"


def test_a_budget_set_mid_period_counts_what_was_already_spent(gateway):
    url, app = gateway
    key, _ = _key(url, "acme")
    assert [_chat(url, key).status_code for _ in range(3)] == [200] * 3  # $48 spent, no budget yet
    _limits(url, "team:acme", budget_day_usd="60")                       # $48 + $32 worst case > $60
    refused = _chat(url, key)
    assert refused.status_code == 402 and Decimal(refused.json()["error"]["spent"]) == 48


@pytest.mark.parametrize("mode", ["off", "redacted", "full"])
def test_prompt_logging_follows_the_team_mode(gateway, mode):
    url, app = gateway
    key, _ = _key(url, f"team-{mode}")
    _limits(url, f"team:team-{mode}", prompt_logging=mode)
    prompt = "Rewrite for Jane Roe, jane.roe@example.com, +1 (415) 555-0134, linkedin.com/in/janeroe"
    names = "WyJKYW5lIFJvZSJd"  # base64url of ["Jane Roe"]
    resp = httpx.post(f"{url}/v1/chat/completions", headers={"authorization": f"Bearer {key}",
                                                             "x-resumeopt-redact": names},
                      json={"model": "paid", "messages": [{"role": "user", "content": prompt}], "max_tokens": 32})
    assert resp.status_code == 200
    app.state.writer.flush(10)
    row = app.state.store.query("SELECT prompt, completion FROM {db}.model_calls WHERE team = {t:String}",
                                {"t": f"team-{mode}"})[0]
    if mode == "off":
        assert row == {"prompt": "", "completion": ""}
    elif mode == "full":
        assert prompt in row["prompt"] and row["completion"]
    else:
        for secret in ("Jane", "Roe", "jane.roe@example.com", "555-0134", "janeroe"):
            assert secret not in row["prompt"] and secret not in row["completion"], secret
        assert "[EMAIL]" in row["prompt"] and "[PHONE]" in row["prompt"] and "Rewrite for" in row["prompt"]


def test_bad_limits_and_redact_header_get_clear_errors(gateway):
    url, _ = gateway
    key, _ = _key(url, "acme")
    bad_scope = httpx.put(f"{url}/admin/v1/limits/nonsense", json={"requests_per_minute": 5}, headers=ADMIN)
    assert bad_scope.status_code == 422 and bad_scope.json()["error"]["code"] == "invalid_request"
    logging_on_key = httpx.put(f"{url}/admin/v1/limits/key:abc", json={"prompt_logging": "full"}, headers=ADMIN)
    assert logging_on_key.status_code == 422
    negative = httpx.put(f"{url}/admin/v1/limits/team:acme", json={"budget_day_usd": "-1"}, headers=ADMIN)
    assert negative.status_code == 422
    garbled = httpx.post(f"{url}/v1/chat/completions", headers={"authorization": f"Bearer {key}",
                                                                "x-resumeopt-redact": "%%%"},
                         json={"model": "paid", "messages": [{"role": "user", "content": "x"}]})
    assert garbled.status_code == 400 and garbled.json()["error"]["code"] == "invalid_request"


def test_a_keys_request_rate_holds_within_5_percent_over_real_http(gateway):
    """Requests as fast as one client can send them for three seconds against 1200/min with a one-second
    burst: GCRA admits the burst (20) and then one every 50 ms, exactly, whatever the offered rate."""
    url, _ = gateway
    key, key_id = _key(url, "acme")
    _limits(url, f"key:{key_id}", requests_per_minute=1200, requests_burst_s=1, tokens_per_minute=1e9)
    admitted, refused = [], []

    async def offer() -> None:  # four clients in parallel: the offered rate stays above 20/s under load
        async with httpx.AsyncClient(timeout=30, headers={"authorization": f"Bearer {key}"}) as client:
            body = {"model": "paid", "messages": [{"role": "user", "content": "x"}], "max_tokens": 1}
            start = time.monotonic()

            async def worker():
                while time.monotonic() - start < 3:
                    resp = await client.post(f"{url}/v1/chat/completions", json=body)
                    (admitted if resp.status_code == 200 else refused).append((time.monotonic(), resp))
            await asyncio.gather(*[worker() for _ in range(4)])

    asyncio.run(offer())
    admitted.sort(key=lambda t: t[0])
    assert refused and {r.status_code for _, r in refused} == {429}
    elapsed = admitted[-1][0] - admitted[0][0]
    expected = 20 + elapsed * 20
    assert abs(len(admitted) - expected) / expected <= 0.05, (len(admitted), expected)
    assert {r.headers["retry-after"] for _, r in refused} == {"1"}  # the next slot is < 50 ms away: 1 s, rounded up
