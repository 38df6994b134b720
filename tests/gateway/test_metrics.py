"""`/metrics`: Prometheus text that counts the same calls the store records (plain, streamed, cache hits,
retried, fallen back), with tokens, cost, breaker state and the telemetry backlog; it needs a key."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from gateway.app import create_app
from gateway.config import GatewayConfig
from tests.conftest import ADMIN_KEY
from tests.support import serve

ADMIN = {"authorization": f"Bearer {ADMIN_KEY}"}


def _samples(text: str) -> dict[tuple[str, tuple], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_metrics_count_what_the_store_records(secured):
    sim = {"provider": "simulator", "model": "s", "price": {"input_per_mtok": 1_000_000, "output_per_mtok": 0}}
    config = GatewayConfig.model_validate({
        "default_alias": "main", "policy": {"cache": {"enabled": True},
                                           "retry": {"max_attempts": 2, "base_delay_s": 0.001, "max_delay_s": 0.01}},
        "models": [
            {"alias": "main", "deployments": [{**sim, "name": "m1", "simulator": {"completion_tokens": 5}}]},
            {"alias": "flaky", "deployments": [{**sim, "name": "f1", "simulator": {"fail_first_n": 1}}]},
            {"alias": "dead", "deployments": [{**sim, "name": "d1", "simulator": {"error_rate": 1.0}}],
             "fallbacks": [{"when": ["any"], "to": ["main"]}]}]})
    app = create_app(secured, config)
    with serve(app) as url:
        def chat(model: str, content: str = "hi", **extra) -> httpx.Response:
            return httpx.post(f"{url}/v1/chat/completions", headers=ADMIN, timeout=30,
                              json={"model": model, "messages": [{"role": "user", "content": content}], **extra})

        assert chat("main").status_code == 200
        assert chat("main").headers["x-resumeopt-cache"] == "hit"
        assert chat("main", "stream me", stream=True).status_code == 200
        assert chat("flaky").headers["x-resumeopt-attempts"] == "2"
        assert chat("dead", "fall back").headers["x-resumeopt-fallbacks"] == "1"
        assert httpx.get(f"{url}/metrics").status_code == 401
        resp = httpx.get(f"{url}/metrics", headers=ADMIN)
        app.state.writer.flush(10)
        stored = app.state.store.query("SELECT model_alias, cache_hit, input_tokens, output_tokens, cost_usd "
                                       "FROM {db}.model_calls")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/plain")
    m = _samples(resp.text)
    calls = {k: v for k, v in m.items() if k[0] == "resumeopt_gateway_calls_total"}
    assert sum(calls.values()) == len(stored) == 5
    assert m[("resumeopt_gateway_calls_total", (("cache", "hit"), ("model_alias", "main"), ("status", "ok")))] == 1
    assert m[("resumeopt_gateway_retries_total", (("model_alias", "flaky"),))] == 1
    assert m[("resumeopt_gateway_fallbacks_total", (("model_alias", "dead"),))] == 1
    tokens_in = sum(v for k, v in m.items() if k[0] == "resumeopt_gateway_tokens_total" and ("direction", "input") in k[1])
    assert tokens_in == sum(r["input_tokens"] for r in stored)
    cost = sum(v for k, v in m.items() if k[0] == "resumeopt_gateway_cost_usd_total")
    assert abs(cost - float(sum(r["cost_usd"] for r in stored))) < 1e-9
    assert m[("resumeopt_gateway_call_latency_seconds_count", (("model_alias", "main"),))] == 3
    assert ("resumeopt_gateway_breaker_state", (("deployment", "d1"),)) in m
    assert m[("resumeopt_telemetry_dropped_rows", ())] == 0
