"""Each dashboard page renders, through the real read API, from a store with data in it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from gateway.app import create_app
from gateway.telemetry import Attribution, CallRecord
from tests.conftest import ADMIN_KEY
from tests.support import serve, simulated_platform

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboard"


@pytest.fixture
def platform_with_data(gw_settings, base_config, monkeypatch):
    app = create_app(gw_settings, base_config.with_local_base("http://127.0.0.1:9/v1"))
    with serve(app) as url:
        for agent, cost in (("writer", "0.002"), ("reviewer", "0.001")):
            rec = CallRecord(Attribution("dash-1", agent=agent), "local-smol", "local-llama", "local",
                             input_tokens=100, output_tokens=50, cost_usd=Decimal(cost))
            app.state.writer.emit("model_calls", rec.row())
        scores = [{"name": "match_after", "value": v, "judge": "keyword_coverage", "prompt_version": pv,
                   "request_id": "dash-1"} for v, pv in ((61.5, "writer@1.0.0"), (70.0, "writer@1.1.0"))]
        assert httpx.post(f"{url}/api/v1/scores", json={"scores": scores}).status_code == 202
        assert app.state.writer.flush(timeout=10)
        monkeypatch.setenv("RESUMEOPT_PLATFORM_URL", url)
        yield url


def _run(page: str) -> AppTest:
    at = AppTest.from_file(str(DASHBOARD / page), default_timeout=30).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_home_page_shows_platform_health(platform_with_data):
    at = _run("app.py")
    assert at.metric[0].value == "ok"


def test_cost_page_shows_calls_tokens_and_cost(platform_with_data):
    at = _run("pages/1_Cost.py")
    values = {m.label: m.value for m in at.metric}
    assert values == {"Calls": "2", "Tokens (in + out)": "300", "Cost (USD)": "0.003000"}
    assert len(at.dataframe) == 2


def test_quality_page_compares_prompt_versions(platform_with_data):
    at = _run("pages/2_Quality.py")
    assert at.metric[0].value == "2"
    pivot = at.dataframe[0].value
    assert list(pivot.columns) == ["writer@1.0.0", "writer@1.1.0"]


# -- prompt comparison: offline runs posted as `resumeopt eval run` posts them ---------------------------

CASES = ("c1", "c2", "c3", "c4")


def _post_run(url: str, run_id: str, started: datetime, dataset: str = "ci", content_hash: str = "h1",
              status: str = "finished", grounding: tuple[float, ...] = (0, 0, 0, 0), saved: float = 0.0) -> None:
    """One run row and, per case, its scores: grounding_violations (a check, lower is better) as given,
    cost_usd (a measure, lower is better) `saved` below 0.004 to 0.007, match_after (a judgment) 60 in every run."""
    run = {"run_id": run_id, "status": status, "dataset": dataset, "content_hash": content_hash,
           "prompt_ref": "production", "prompt_version": f"writer@{run_id}", "judges": {"grounding": "1"},
           "repeats": 1, "cases": len(CASES), "started_at": started.isoformat()}
    assert httpx.post(f"{url}/api/v1/eval/runs", json=run).status_code == 202
    scores = [{"run_id": run_id, "dataset": dataset, "case_id": case, "repeat": 0, "request_id": f"{run_id}-{case}",
               "name": name, "value": value, "judge": judge, "prompt_version": f"writer@{run_id}"}
              for i, (case, g) in enumerate(zip(CASES, grounding))
              for name, value, judge in (("grounding_violations", g, "grounding"),
                                         ("cost_usd", 0.004 + 0.001 * i - saved, "run"),
                                         ("match_after", 60.0, "keyword_coverage"))]
    assert httpx.post(f"{url}/api/v1/scores", json={"scores": scores}).status_code == 202


@pytest.fixture
def platform_with_runs(gw_settings, monkeypatch):
    """The whole platform (the runs API lives there, not in the gateway alone), with five runs, oldest first:
    other data; A; B, whose writer invents claims in every case but costs less; a lone run of another dataset; a failed run."""
    t0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    with simulated_platform(gw_settings) as (url, app):
        _post_run(url, "run-old", t0, content_hash="h0")
        _post_run(url, "run-a", t0 + timedelta(hours=1))
        _post_run(url, "run-b", t0 + timedelta(hours=2), grounding=(1, 2, 1, 3), saved=0.002)
        _post_run(url, "run-smoke", t0 + timedelta(hours=3), dataset="smoke")
        _post_run(url, "run-failed", t0 + timedelta(hours=4), status="failed")
        assert app.state.writer.flush(timeout=10)
        monkeypatch.setenv("RESUMEOPT_PLATFORM_URL", url)
        yield url


def _verdicts(at: AppTest) -> dict[str, str]:
    table = at.dataframe[1].value
    return dict(zip(table["metric"], table["verdict"]))


def test_prompt_comparison_pairs_the_latest_two_finished_runs_of_one_dataset(platform_with_runs):
    at = _run("pages/3_Prompt_comparison.py")
    runs = at.dataframe[0].value
    assert list(runs["run_id"]) == ["run-failed", "run-smoke", "run-b", "run-a", "run-old"]
    assert {"content_hash", "prompt_version", "judges", "failed_cases", "cost_usd"} <= set(runs.columns)
    # the newest finished run (smoke) has no partner, and the newest run failed: A and B are run-a and run-b
    assert (at.selectbox[1].value, at.selectbox[2].value) == ("run-a", "run-b")
    assert not at.warning
    assert _verdicts(at) == {"cost_usd": "better", "grounding_violations": "worse", "match_after": "same"}
    table = at.dataframe[1].value.set_index("metric")
    assert (table.loc["grounding_violations", "A"], table.loc["grounding_violations", "B"]) == (0.0, 1.75)
    assert (table.loc["grounding_violations", "n"], table.loc["grounding_violations", "kind"]) == (4, "check")
    values = {m.label: m.value for m in at.metric}
    assert (values["Metrics worse"], values["Metrics same"], values["Metrics better"]) == ("1", "1", "1")
    # the regressed cases of the worse metric, worst first
    assert at.selectbox[3].value == "grounding_violations"
    cases = at.dataframe[2].value
    assert list(cases["case_id"]) == ["c4", "c2", "c1", "c3"] and list(cases["B - A"]) == [3.0, 2.0, 1.0, 1.0]


def test_prompt_comparison_warns_when_the_runs_used_different_data(platform_with_runs):
    at = _run("pages/3_Prompt_comparison.py")
    at.selectbox[1].set_value("run-old").run()
    assert not at.exception
    assert "different data" in at.warning[0].value and "h0" in at.warning[0].value
    at.selectbox[1].set_value("run-failed").run()
    assert any("run-failed is failed" in w.value for w in at.warning)


def test_prompt_comparison_filters_by_dataset(platform_with_runs):
    at = _run("pages/3_Prompt_comparison.py")
    at.selectbox[0].set_value("smoke").run()
    assert not at.exception
    assert list(at.dataframe[0].value["run_id"]) == ["run-smoke"]
    assert "One run so far" in at.info[0].value


def test_prompt_comparison_says_how_to_make_a_run_when_there_is_none(gw_settings, monkeypatch):
    with simulated_platform(gw_settings) as (url, _):
        monkeypatch.setenv("RESUMEOPT_PLATFORM_URL", url)
        at = _run("pages/3_Prompt_comparison.py")
    assert "resumeopt eval run --dataset ci" in at.info[0].value


# -- gateway health: calls as the gateway records them ----------------------------------------------------


@pytest.fixture
def gateway_with_traffic(gw_settings, base_config, monkeypatch):
    """Two minutes ago, local-llama: 10 calls at 100 ms, one failed, two served from the cache; a minute ago,
    local-llama-judge: 4 calls at 800 ms, each after a retry and a fallback."""
    app = create_app(gw_settings, base_config.with_local_base("http://127.0.0.1:9/v1"))
    now = datetime.now(UTC)
    llama = ("local-smol", "local-llama", 2, 100.0)
    calls = [(*llama, {})] * 7 + [(*llama, {"status": "error"})] + [(*llama, {"cache_hit": True})] * 2 \
        + [("judge", "local-llama-judge", 1, 800.0, {"attempts": 2, "fallbacks": 1})] * 4
    with serve(app) as url:
        for alias, deployment, ago, latency, extra in calls:
            rec = CallRecord(Attribution("health-1"), alias, deployment, "local", latency_ms=latency, **extra)
            rec.ts = now - timedelta(minutes=ago)
            app.state.writer.emit("model_calls", rec.row())
        assert app.state.writer.flush(timeout=10)
        monkeypatch.setenv("RESUMEOPT_PLATFORM_URL", url)
        yield app


def test_gateway_health_shows_rates_latency_fallbacks_and_breakers(gateway_with_traffic):
    at = _run("pages/4_Gateway_health.py")
    values = {m.label: m.value for m in at.metric}
    assert values == {"Calls": "14", "Error rate": "7.14%", "Highest p95 (deployment)": "800.0 ms",
                      "Breakers not closed": "0", "Fallbacks": "4", "Retries": "4", "Cache-hit rate": "14.29%",
                      "Platform status": "ok"}
    table = at.dataframe[0].value
    assert list(table["deployment"]) == ["local-llama", "local-llama-judge"]
    assert list(table["calls"]) == [10, 4] and list(table["error_rate"]) == [0.1, 0.0]
    assert list(table["breaker now"]) == ["closed", "closed"]
    breakers = at.dataframe[1].value
    assert set(breakers["deployment"]) == set(gateway_with_traffic.state.chat.deployment_names())
    # calls per minute over the whole hour, a minute without calls drawn as 0, not left out
    chart = _chart_data(at)
    assert len(chart) == 2 * 60 and chart.groupby("series")["value"].sum().to_dict() == {"local-llama": 10,
                                                                                        "local-llama-judge": 4}

    at.radio[0].set_value("model").run()
    assert not at.exception
    assert list(at.dataframe[0].value["model"]) == ["judge", "local-smol"]


def _chart_data(at: AppTest):
    """The page's one chart's data (series, value) as Streamlit sends it to the browser (Arrow)."""
    proto = at.get("vega_lite_chart")[0].proto
    df = pa.ipc.open_stream(proto.datasets[0].data.data).read_all().to_pandas()
    column = lambda prefix: next(c for c in df.columns if c.startswith(prefix))  # noqa: E731
    return df.rename(columns={column("color"): "series", column("value"): "value"})


def test_gateway_health_says_so_when_the_window_is_empty(gw_settings, base_config, monkeypatch):
    app = create_app(gw_settings, base_config.with_local_base("http://127.0.0.1:9/v1"))
    with serve(app) as url:
        monkeypatch.setenv("RESUMEOPT_PLATFORM_URL", url)
        at = _run("pages/4_Gateway_health.py")
    assert {m.label: m.value for m in at.metric}["Calls"] == "0"
    assert "No gateway calls in this window" in at.info[0].value


# -- failures ---------------------------------------------------------------------------------------------


def test_a_degraded_platform_shows_as_degraded_not_unreachable(gw_settings, base_config, monkeypatch):
    """/healthz answers 503 with its body once telemetry rows were dropped (here: a one-row backlog bound)."""
    settings = gw_settings.model_copy(update={"writer_max_pending": 1})
    app = create_app(settings, base_config.with_local_base("http://127.0.0.1:9/v1"))
    with serve(app) as url:
        for _ in range(200):
            app.state.writer.emit("model_calls", CallRecord(Attribution("flood"), "local-smol", "local-llama").row())
        assert app.state.writer.stats()["dropped"] > 0
        assert httpx.get(f"{url}/healthz").status_code == 503
        monkeypatch.setenv("RESUMEOPT_PLATFORM_URL", url)
        home, health = _run("app.py"), _run("pages/4_Gateway_health.py")
    assert home.metric[0].value == "degraded" and not home.error
    assert {m.label: m.value for m in health.metric}["Platform status"] == "degraded"


PAGES = ["1_Cost.py", "2_Quality.py", "3_Prompt_comparison.py", "4_Gateway_health.py"]


@pytest.mark.parametrize("page", PAGES)
def test_pages_say_so_when_the_platform_is_down(page, monkeypatch):
    monkeypatch.setenv("RESUMEOPT_PLATFORM_URL", "http://127.0.0.1:9")
    at = AppTest.from_file(str(DASHBOARD / "pages" / page), default_timeout=30).run()
    assert not at.exception
    assert "unavailable" in at.error[0].value


@pytest.mark.parametrize("page", ["3_Prompt_comparison.py", "4_Gateway_health.py"])
def test_pages_say_so_when_the_key_may_not_read_them(page, secured, monkeypatch):
    """A consumer key (it calls models, reads its own requests) is refused runs and health reports: 403."""
    with simulated_platform(secured) as (url, _):
        key = httpx.post(f"{url}/admin/v1/keys", json={"name": "dash", "team": "acme", "role": "consumer"},
                         headers={"authorization": f"Bearer {ADMIN_KEY}"})
        assert key.status_code == 201, key.text
        monkeypatch.setenv("RESUMEOPT_PLATFORM_URL", url)
        monkeypatch.setenv("RESUMEOPT_API_KEY", key.json()["key"])
        at = _run(f"pages/{page}")
    assert "unavailable: 403 forbidden" in at.error[0].value
