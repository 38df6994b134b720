"""Cost accuracy (issue 5): for a mix of plain, streamed, cached, retried and fallen-back calls, the cost
report equals the sum computed independently from the simulator's token counts (the usage each answer
carries) and the price file, to the cent (in fact exactly: Decimal end to end)."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx
import yaml

from gateway.app import create_app
from gateway.config import GatewayConfig
from tests.support import serve

PRICES = {  # deliberately awkward figures: any float on the way would show
    "p-main": {"input_per_mtok": "1234.567", "output_per_mtok": "6789.0123"},
    "p-alt": {"input_per_mtok": "333.33", "output_per_mtok": "777.77"},
    "p-cache": {"input_per_mtok": "50.5", "output_per_mtok": "101.25"},
    "d-down": {"input_per_mtok": "99999", "output_per_mtok": "99999"},  # never answers, so never costs
}


def _sim(tokens: int, **spec) -> dict:
    return {"completion_tokens": tokens, "seed": 11, "retry_after_s": 0.0, **spec}


CONFIG = {
    "default_alias": "plain",
    "policy": {"retry": {"max_attempts": 6, "base_delay_s": 0.001, "max_delay_s": 0.005},
               "breaker": {"min_requests": 10_000}},
    "models": [
        {"alias": "plain", "deployments": [{"name": "p-main", "provider": "simulator", "model": "s",
                                            "price": {"input_per_mtok": 1, "output_per_mtok": 1},  # the book wins
                                            "simulator": _sim(9, error_rate=0.4, faults={"http_503": 1.0})}]},
        {"alias": "down", "deployments": [{"name": "d-down", "provider": "simulator", "model": "s",
                                           "simulator": _sim(3, error_rate=1.0)}],
         "fallbacks": [{"when": ["any"], "to": ["alt"]}]},
        {"alias": "alt", "deployments": [{"name": "p-alt", "provider": "simulator", "model": "s",
                                          "simulator": _sim(5)}]},
        {"alias": "cached", "cache": {"enabled": True, "ttl_s": 600},
         "deployments": [{"name": "p-cache", "provider": "simulator", "model": "s", "simulator": _sim(7)}]},
    ]}


def _expected(resp: httpx.Response, stream: bool) -> Decimal:
    """What this answer should cost, from its own usage and the price file alone."""
    if resp.headers["x-resumeopt-cache"] == "hit":
        return Decimal(0)
    if stream:
        events = [json.loads(line[6:]) for line in resp.text.splitlines()
                  if line.startswith("data: {")]
        usage = next(e["usage"] for e in reversed(events) if e.get("usage"))
    else:
        usage = resp.json()["usage"]
    price = PRICES[resp.headers["x-resumeopt-deployment"]]
    cost = (Decimal(price["input_per_mtok"]) * usage["prompt_tokens"]
            + Decimal(price["output_per_mtok"]) * usage["completion_tokens"]) / 1_000_000
    return cost.quantize(Decimal("1e-9"))  # the column's scale: one rounding per call, half-even


def test_cost_report_equals_the_independent_sum_for_every_kind_of_call(gw_settings, tmp_path):
    book = tmp_path / "prices.yaml"
    book.write_text(yaml.safe_dump({"version": "test-1", "deployments": PRICES}))
    app = create_app(gw_settings.model_copy(update={"price_file": book}), GatewayConfig.model_validate(CONFIG))
    expected, kinds = Decimal(0), {"retried": 0, "fallback": 0, "hit": 0, "stream": 0}
    with serve(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        calls = [("plain", False, i) for i in range(30)] + [("plain", True, i) for i in range(20)]
        calls += [("down", False, i) for i in range(10)] + [("down", True, i) for i in range(10)]
        calls += [("cached", False, 0)] * 12 + [("cached", True, 1)] * 6
        for alias, stream, variant in calls:
            body = {"model": alias, "stream": stream, "messages": [{"role": "user", "content": f"price {variant} " * (variant + 1)}]}
            if stream:
                body["stream_options"] = {"include_usage": True}
            resp = client.post("/v1/chat/completions", json=body)
            assert resp.status_code == 200, resp.text
            expected += _expected(resp, stream)
            if not stream:  # the answer says what it cost (a stream's cost is known only after its headers)
                assert Decimal(resp.headers["x-resumeopt-cost-usd"]) == _expected(resp, stream)
            kinds["retried"] += int(resp.headers["x-resumeopt-attempts"]) > 1
            kinds["fallback"] += resp.headers["x-resumeopt-fallbacks"] != "0"
            kinds["hit"] += resp.headers["x-resumeopt-cache"] == "hit"
            kinds["stream"] += stream
        assert app.state.writer.flush(30)
        assert client.get("/healthz").json()["prices"] == "prices.yaml@test-1"  # which book priced these
        report = client.get("/api/v1/reports/cost", params={"by": "deployment"}).json()["rows"]
        csv_total = sum(Decimal(line.split(",")[4]) for line in
                        client.get("/api/v1/reports/cost", params={"by": "model", "format": "csv"}).text.splitlines()[1:])
    assert all(kinds.values()) and kinds["hit"] >= 15, kinds  # every kind of call is in the mix
    total = sum(Decimal(r["cost_usd"]) for r in report)
    assert {r["key"] for r in report} == {"p-main", "p-alt", "p-cache"}  # a hit is recorded under its deployment
    assert total.quantize(Decimal("0.01")) == expected.quantize(Decimal("0.01"))
    assert total == expected == csv_total  # exact to the column's 9 places, not merely to the cent
