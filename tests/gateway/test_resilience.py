"""Routing, deadlines, back-pressure, breakers inside the gateway, and operator modes, over real HTTP."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import httpx
import pytest

from gateway.app import create_app
from gateway.config import GatewayConfig, ModelAlias
from gateway.routing import LatencyTracker, Router
from tests.gateway.upstreams import switchable_upstream
from tests.conftest import ADMIN_KEY
from tests.support import serve

MSG = [{"role": "user", "content": "hi"}]


def _sim(name: str, **kw) -> dict:
    spec = kw.pop("spec", {})
    return {"name": name, "provider": "simulator", "model": "s", "simulator": {"completion_tokens": 4, **spec}, **kw}


def _gateway(gw_settings, models: list[dict], **policy):
    config = GatewayConfig.model_validate({"default_alias": models[0]["alias"], "models": models,
                                           "policy": policy})
    return create_app(gw_settings, config)


def _post(url: str, model: str, **headers) -> httpx.Response:
    return httpx.post(f"{url}/v1/chat/completions", json={"model": model, "messages": MSG},
                      headers=headers, timeout=30)


# --- routing decisions (pure) -----------------------------------------------------------------

def _alias(strategy: str, deps: list[dict], **kw) -> ModelAlias:
    return ModelAlias.model_validate({"alias": "a", "strategy": strategy, "deployments": deps, **kw})


def test_weighted_strategy_follows_the_weights():
    alias = _alias("weighted", [_sim("heavy", weight=3), _sim("light", weight=1)])
    router = Router(LatencyTracker(), random.Random(1))
    firsts = Counter(router.route(alias, {"heavy", "light"}, None).deployments[0].name for _ in range(4000))
    assert firsts["heavy"] / 4000 == pytest.approx(0.75, abs=0.03)


def test_latency_strategy_prefers_the_faster_after_measuring_both():
    alias = _alias("latency", [_sim("slow"), _sim("fast")])
    tracker = LatencyTracker()
    router = Router(tracker)
    tracker.observe("slow", 900)
    assert router.route(alias, {"slow", "fast"}, None).deployments[0].name == "fast"  # unmeasured first
    tracker.observe("fast", 50)
    assert [d.name for d in router.route(alias, {"slow", "fast"}, None).deployments] == ["fast", "slow"]


def test_tier_header_beats_strategy_and_is_explained():
    alias = _alias("cost", [_sim("cheap", tier="draft", price={"input_per_mtok": 0.1, "output_per_mtok": 0.1}),
                            _sim("accurate", tier="final", price={"input_per_mtok": 5, "output_per_mtok": 15})],
                   default_tier="draft")
    router = Router(LatencyTracker())
    assert router.route(alias, {"cheap", "accurate"}, None).deployments[0].name == "cheap"
    final = router.route(alias, {"cheap", "accurate"}, "final")
    assert [d.name for d in final.deployments] == ["accurate", "cheap"]
    assert final.explanation == "strategy=cost;tier=final;order=accurate,cheap"


# --- through the gateway ----------------------------------------------------------------------

def test_tier_header_routes_and_lands_in_telemetry(gw_settings):
    app = _gateway(gw_settings, [{"alias": "a", "deployments": [_sim("d-draft", tier="draft"),
                                                                _sim("d-final", tier="final")]}])
    with serve(app) as url:
        resp = _post(url, "a", **{"x-resumeopt-tier": "final", "x-request-id": "tiered"})
        assert resp.headers["x-resumeopt-deployment"] == "d-final"
        assert "tier=final" in resp.headers["x-resumeopt-route"]
        assert _post(url, "a", **{"x-resumeopt-tier": "premium"}).status_code == 400
        app.state.writer.flush(10)
        row = app.state.store.query("SELECT deployment, route, attempts FROM {db}.model_calls "
                                    "WHERE request_id = 'tiered'")[0]
    assert row["deployment"] == "d-final" and "tier=final" in row["route"] and row["attempts"] == 1


def test_client_deadline_cuts_a_slow_upstream_with_504(gw_settings):
    app = _gateway(gw_settings, [{"alias": "slow", "deployments": [_sim("s", spec={"latency": {"ms": 5000}})]}])
    with serve(app) as url:
        resp = _post(url, "slow", **{"x-resumeopt-timeout-ms": "200"})
    assert resp.status_code == 504
    assert resp.json()["error"]["code"] == "upstream_timeout"


def test_retry_after_from_upstream_is_honoured(gw_settings):
    spec = {"fail_first_n": 1, "faults": {"http_429": 1}, "retry_after_s": 0.3}
    app = _gateway(gw_settings, [{"alias": "rl", "deployments": [_sim("r", spec=spec)]}],
                   retry={"base_delay_s": 0.001, "max_delay_s": 1})
    with serve(app) as url:
        resp = _post(url, "rl")
    assert resp.status_code == 200 and resp.headers["x-resumeopt-attempts"] == "2"
    # the 0.3 s wait is upstream time, not gateway overhead
    assert float(resp.headers["x-resumeopt-overhead-ms"]) < 300


def test_per_deployment_limit_spills_to_sibling_and_gateway_limit_refuses(gw_settings):
    slow = {"latency": {"ms": 400}}
    app = _gateway(gw_settings, [{"alias": "a", "strategy": "cost", "deployments": [
        _sim("first", max_in_flight=1, spec=slow, price={"input_per_mtok": 0, "output_per_mtok": 0}),
        _sim("second", spec=slow, price={"input_per_mtok": 1, "output_per_mtok": 1})]}], max_in_flight=2)

    async def burst(url):
        async with httpx.AsyncClient(timeout=30) as c:
            return await asyncio.gather(*[c.post(f"{url}/v1/chat/completions", json={"model": "a", "messages": MSG})
                                          for _ in range(3)])

    with serve(app) as url:
        responses = asyncio.run(burst(url))
    ok = [r for r in responses if r.status_code == 200]
    refused = [r for r in responses if r.status_code == 503]
    assert sorted(r.headers["x-resumeopt-deployment"] for r in ok) == ["first", "second"]
    assert len(refused) == 1 and refused[0].json()["error"]["code"] == "overloaded"
    assert refused[0].headers["retry-after"] == "1"


def test_open_breakers_answer_at_once_or_wait_for_the_probe_within_the_deadline(gw_settings):
    upstream = switchable_upstream()
    with serve(upstream) as up:
        app = _gateway(gw_settings, [{"alias": "a", "deployments": [
            {"name": "u", "provider": "openai_compatible", "model": "m", "api_base": f"{up}/v1"}]}],
            retry={"max_attempts": 1},
            breaker={"min_requests": 2, "failure_rate": 0.5, "cooldown_s": 1.0, "window_s": 30})
        with serve(app) as url:
            assert [_post(url, "a").status_code for _ in range(2)] == [502, 502]  # opens the breaker
            refused = _post(url, "a")
            assert refused.status_code == 503 and refused.json()["error"]["code"] == "no_deployment_available"
            assert int(refused.headers["retry-after"]) >= 1
            upstream.state.healthy = True
            waited = _post(url, "a", **{"x-resumeopt-timeout-ms": "5000"})  # deadline allows the wait
            assert waited.status_code == 200


def test_operator_modes_take_effect_at_once_and_are_audited(secured):
    app = _gateway(secured, [
        {"alias": "a", "strategy": "cost", "deployments": [
            _sim("a1", price={"input_per_mtok": 0, "output_per_mtok": 0}),
            _sim("a2", price={"input_per_mtok": 1, "output_per_mtok": 1})],
         "fallbacks": [{"when": ["any"], "to": ["b"]}]},
        {"alias": "b", "deployments": [_sim("b1")]}])
    admin = {"authorization": f"Bearer {ADMIN_KEY}"}
    with serve(app) as url:
        def put(path: str, mode: str, **extra) -> httpx.Response:
            return httpx.put(f"{url}/admin/v1/{path}/mode", json={"mode": mode, **extra}, headers=admin)

        assert _post(url, "a", **admin).headers["x-resumeopt-deployment"] == "a1"
        assert put("deployments/a1", "drain", reason="upgrade").json() == {
            "deployment": "a1", "before": "normal", "mode": "drain"}
        assert _post(url, "a", **admin).headers["x-resumeopt-deployment"] == "a2"
        put("aliases/a", "force_fallback")
        forced = _post(url, "a", **admin)
        assert forced.headers["x-resumeopt-deployment"] == "b1" and forced.headers["x-resumeopt-fallbacks"] == "1"
        put("aliases/b", "disabled")
        assert _post(url, "b", **admin).json()["error"]["code"] == "model_disabled"
        assert put("deployments/zz", "drain").status_code == 404
        assert put("deployments/a1", "off").status_code == 422
        modes = httpx.get(f"{url}/admin/v1/modes", headers=admin).json()
        assert modes["deployments"] == {"a1": "drain"} and modes["breakers"]["a2"] == "closed"
        app.state.writer.flush(10)
        audit = app.state.store.query("SELECT actor, action, target, before, after, reason FROM {db}.audit "
                                      "ORDER BY ts")
    assert audit[0] == {"actor": "admin", "action": "deployment.mode", "target": "a1",
                        "before": '"normal"', "after": '"drain"', "reason": "upgrade"}
    assert [a["action"] for a in audit] == ["deployment.mode", "alias.mode", "alias.mode"]


@pytest.mark.parametrize(("fault", "target"), [("context_window", "long"), ("content_policy", "lenient")])
def test_context_window_and_content_policy_have_their_own_fallbacks(gw_settings, fault, target):
    app = _gateway(gw_settings, [
        {"alias": "main", "deployments": [_sim("m1", spec={"error_rate": 1, "faults": {fault: 1}}),
                                          _sim("m2", spec={"error_rate": 1, "faults": {fault: 1}})],
         "fallbacks": [{"when": ["context_window_exceeded"], "to": ["long"]},
                       {"when": ["content_policy"], "to": ["lenient"]}]},
        {"alias": "long", "deployments": [_sim("long-1")]},
        {"alias": "lenient", "deployments": [_sim("lenient-1")]}])
    with serve(app) as url:
        resp = _post(url, "main")
    assert resp.status_code == 200
    assert resp.headers["x-resumeopt-deployment"] == f"{target}-1"
    # the same request would fail the same way on a sibling: one attempt, straight to the fallback
    assert resp.headers["x-resumeopt-attempts"] == "2"


def test_context_window_without_a_fallback_is_the_clients_error(gw_settings):
    app = _gateway(gw_settings, [
        {"alias": "main", "deployments": [_sim("c", spec={"error_rate": 1, "faults": {"context_window": 1}})]}])
    with serve(app) as url:
        resp = _post(url, "main")
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "upstream_rejected"


def test_fallback_without_credentials_is_skipped_and_the_real_error_kept(gw_settings, monkeypatch):
    monkeypatch.delenv("RO_TEST_MISSING_KEY", raising=False)
    app = _gateway(gw_settings, [
        {"alias": "main", "deployments": [_sim("down", spec={"error_rate": 1, "faults": {"http_503": 1}})],
         "fallbacks": [{"when": ["any"], "to": ["keyless", "backup"]}]},
        {"alias": "keyless", "deployments": [{"name": "k", "provider": "litellm", "model": "openai/gpt-4o-mini",
                                              "api_key_env": "RO_TEST_MISSING_KEY"}]},
        {"alias": "backup", "deployments": [_sim("backup-1")]}], retry={"max_attempts": 1})
    with serve(app) as url:
        ok = _post(url, "main")
        assert ok.status_code == 200 and ok.headers["x-resumeopt-deployment"] == "backup-1"
        httpx.put(f"{url}/admin/v1/aliases/backup/mode", json={"mode": "disabled"})
        failed = _post(url, "main")
    assert failed.status_code == 502 and failed.json()["error"]["code"] == "upstream_error"
