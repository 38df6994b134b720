"""Every simulator fault against 1, 2 and 3-deployment aliases, plain and streamed.

Each outcome is one of: recovered by retry, recovered by a sibling deployment, recovered by a fallback
alias, or a clear error. Never a hang past the deadline, never a 200 with a truncated body, never a
stream that ends cleanly after it broke.
"""

from __future__ import annotations

import json

import httpx
import pytest

from gateway.app import create_app
from gateway.config import GatewayConfig
from tests.support import serve

FAULTS = ["http_500", "http_503", "http_429", "timeout", "connection_reset", "malformed", "stream_cut"]
TOKENS = 8
# What a client sees when the only deployment keeps failing with this fault.
CLEAR_ERROR = {"http_500": (502, "upstream_error"), "http_503": (502, "upstream_error"),
               "http_429": (429, "upstream_rate_limited"), "timeout": (504, "upstream_timeout"),
               "connection_reset": (503, "upstream_unavailable"), "malformed": (502, "upstream_error")}


def _sim(name: str, price: float, **spec) -> dict:
    return {"name": name, "provider": "simulator", "model": "sim",
            "price": {"input_per_mtok": price, "output_per_mtok": price},
            "simulator": {"completion_tokens": TOKENS, "retry_after_s": 0.01, "seed": 7, **spec}}


def _faulty(name: str, fault: str) -> dict:
    return _sim(name, 0.0, error_rate=1.0, faults={fault: 1.0})


def _scenarios() -> list[dict]:
    """One alias per (fault, shape): `cost` strategy puts the faulty (cheapest) deployment first."""
    models = [{"alias": "healthy", "deployments": [_sim("healthy-0", 1.0)]}]
    for fault in FAULTS:
        for n in (1, 2, 3):
            deps = [_faulty(f"{fault}-{n}-bad", fault)] + [_sim(f"{fault}-{n}-ok{i}", 1.0 + i) for i in range(1, n)]
            models.append({"alias": f"{fault}-{n}", "strategy": "cost", "deployments": deps})
        models.append({"alias": f"{fault}-fb", "deployments": [_faulty(f"{fault}-fb-bad", fault)],
                       "fallbacks": [{"when": ["any"], "to": ["healthy"]}]})
    models.append({"alias": "flaky", "deployments": [_sim("flaky-0", 1.0, fail_first_n=2, faults={"http_503": 1})]})
    return models


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    from gateway.settings import GatewaySettings

    settings = GatewaySettings(data_dir=tmp_path_factory.getbasetemp() / "resumeopt-data0",
                               store_database="t_fault_matrix", auth="off")
    config = GatewayConfig.model_validate({
        "default_alias": "healthy", "models": _scenarios(),
        "policy": {"retry": {"max_attempts": 3, "base_delay_s": 0.001, "max_delay_s": 0.05},
                   "breaker": {"min_requests": 1000}},  # breakers are tested on their own
    })
    with serve(create_app(settings, config)) as url:
        yield url


def _call(url: str, alias: str, stream: bool) -> dict:
    body = {"model": alias, "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    headers = {"x-resumeopt-timeout-ms": "5000"}
    if not stream:
        r = httpx.post(f"{url}/v1/chat/completions", json=body, headers=headers, timeout=10)
        return {"status": r.status_code, "json": r.json(), "headers": r.headers}
    with httpx.stream("POST", f"{url}/v1/chat/completions", json=body, headers=headers, timeout=10) as r:
        if r.status_code != 200:
            return {"status": r.status_code, "json": json.loads(r.read()), "headers": r.headers}
        lines = [ln[5:].strip() for ln in r.iter_lines() if ln.startswith("data:")]
    return {"status": 200, "events": lines, "headers": r.headers}


def _complete_answer(out: dict, stream: bool) -> None:
    """A 200 carries the whole answer: all TOKENS words, and a stream ends with [DONE]."""
    if stream:
        assert out["events"][-1] == "[DONE]"
        text = "".join(json.loads(e)["choices"][0]["delta"].get("content") or ""
                       for e in out["events"][:-1] if json.loads(e).get("choices"))
    else:
        text = out["json"]["choices"][0]["message"]["content"]
        assert out["json"]["usage"]["completion_tokens"] == TOKENS
    assert len(text.split()) == TOKENS


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("fault", FAULTS)
def test_single_deployment(gateway, fault, stream):
    out = _call(gateway, f"{fault}-1", stream)
    if fault == "stream_cut" and not stream:
        assert out["status"] == 200  # a cut can only happen to a stream
        _complete_answer(out, stream)
    elif stream and fault in ("stream_cut", "malformed"):
        # broke after bytes were sent: a terminal error event, never a clean finish
        assert out["status"] == 200 and out["events"][-1] != "[DONE]"
        assert "error" in json.loads(out["events"][-1])
    else:
        status, code = CLEAR_ERROR[fault]
        assert (out["status"], out["json"]["error"]["code"]) == (status, code)


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("fault", FAULTS)
def test_sibling_deployment_recovers(gateway, fault, n, stream):
    out = _call(gateway, f"{fault}-{n}", stream)
    if stream and fault in ("stream_cut", "malformed"):
        assert out["events"][-1] != "[DONE]"  # started streaming from the faulty one: no silent restart
        return
    assert out["status"] == 200
    _complete_answer(out, stream)
    if not (fault == "stream_cut" and not stream):
        assert out["headers"]["x-resumeopt-deployment"] == f"{fault}-{n}-ok1"
        assert int(out["headers"]["x-resumeopt-attempts"]) >= 2


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("fault", FAULTS)
def test_fallback_alias_recovers(gateway, fault, stream):
    out = _call(gateway, f"{fault}-fb", stream)
    if stream and fault in ("stream_cut", "malformed"):
        assert out["events"][-1] != "[DONE]"
        return
    assert out["status"] == 200
    _complete_answer(out, stream)
    if not (fault == "stream_cut" and not stream):
        assert out["headers"]["x-resumeopt-fallbacks"] == "1"
        assert out["headers"]["x-resumeopt-deployment"] == "healthy-0"


def test_transient_failures_recover_by_retry(gateway):
    out = _call(gateway, "flaky", stream=False)
    assert out["status"] == 200
    assert out["headers"]["x-resumeopt-attempts"] == "3"  # failed twice, third attempt answered
    assert out["headers"]["x-resumeopt-fallbacks"] == "0"


def test_no_slot_leaks_after_the_whole_matrix(gateway):
    """Every path above (success, retry, fallback, error, broken stream) gave its in-flight slots back."""
    modes = httpx.get(f"{gateway}/admin/v1/modes").json()
    assert modes["in_flight_total"] == 0
    assert set(modes["in_flight"].values()) <= {0}
