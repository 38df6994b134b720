"""Each dashboard page renders, through the real read API, from a store with data in it."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from streamlit.testing.v1 import AppTest

from gateway.app import create_app
from gateway.telemetry import Attribution, CallRecord
from tests.support import serve

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


def test_pages_say_so_when_the_platform_is_down(monkeypatch):
    monkeypatch.setenv("RESUMEOPT_PLATFORM_URL", "http://127.0.0.1:9")
    at = AppTest.from_file(str(DASHBOARD / "pages" / "1_Cost.py"), default_timeout=30).run()
    assert not at.exception
    assert "unavailable" in at.error[0].value
