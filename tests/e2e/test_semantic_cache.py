"""Semantic cache, with embeddings from the real local model through the gateway's own path: a reworded
request is served the earlier answer byte for byte; a request for a different role, with any other
parameter changed, or from another team, is not; the embedding call is recorded as the caller's; and
with the feature off (the default) nothing of this happens."""

from __future__ import annotations

import httpx
import pytest

from gateway.app import create_app
from gateway.config import GatewayConfig
from tests.conftest import ADMIN_KEY
from tests.gateway.upstreams import echo_upstream
from tests.support import serve

pytestmark = pytest.mark.e2e

ASK = "Summarise this resume for a backend engineer role: Python, Django, PostgreSQL."
REWORDED = "Summarise this resume for a backend engineer role: Python, Django and PostgreSQL."
OTHER_ROLE = "Summarise this resume for a data scientist role: R, statistics, machine learning."


def _config(live_config: GatewayConfig, up: str, semantic: bool) -> GatewayConfig:
    data = live_config.model_dump()
    data["models"].append({"alias": "echo", "deployments": [{
        "name": "echo-up", "provider": "openai_compatible", "model": "m", "api_base": f"{up}/v1",
        "price": {"input_per_mtok": 1000, "output_per_mtok": 1000}}],
        "cache": {"enabled": True, "semantic": {"enabled": semantic, "embedding_model": "local-smol"}}})
    return GatewayConfig.model_validate(data)


@pytest.fixture
def gateway(secured, live_config):
    upstream = echo_upstream()
    with serve(upstream) as up:
        app = create_app(secured, _config(live_config, up, semantic=True))
        with serve(app) as url:
            yield url, app, upstream.state.seen


def _key(url: str, team: str) -> dict:
    key = httpx.post(f"{url}/admin/v1/keys", json={"name": team, "team": team, "plan": "premium"},
                     headers={"authorization": f"Bearer {ADMIN_KEY}"}).json()["key"]
    return {"authorization": f"Bearer {key}"}


def _ask(url: str, headers: dict, text: str, **extra) -> httpx.Response:
    return httpx.post(f"{url}/v1/chat/completions", headers=headers, timeout=60,
                      json={"model": "echo", "messages": [{"role": "user", "content": text}], "max_tokens": 20, **extra})


def test_a_reworded_request_is_served_the_earlier_answer(gateway):
    url, app, seen = gateway
    team_a = _key(url, "team-a")
    first = _ask(url, team_a, ASK)
    again = _ask(url, team_a, REWORDED)
    assert first.headers["x-resumeopt-cache"] == "miss" and again.headers["x-resumeopt-cache"] == "semantic-hit"
    assert again.content == first.content and len(seen) == 1
    app.state.writer.flush(10)
    rows = app.state.store.query("SELECT tool, model_alias, team, cache_hit FROM {db}.model_calls ORDER BY ts")
    assert {(r["tool"], r["model_alias"], r["team"]) for r in rows if r["tool"]} == {
        ("semantic-cache", "local-smol", "team-a")}  # the embeddings are the caller's calls
    assert sum(r["cache_hit"] for r in rows) == 1


def test_a_different_role_other_parameters_or_another_team_miss(gateway):
    url, _, seen = gateway
    team_a, team_b = _key(url, "team-a"), _key(url, "team-b")
    assert _ask(url, team_a, ASK).headers["x-resumeopt-cache"] == "miss"
    assert _ask(url, team_a, OTHER_ROLE).headers["x-resumeopt-cache"] == "miss"       # cosine ~0.95 < 0.98
    assert _ask(url, team_a, REWORDED, temperature=0.7).headers["x-resumeopt-cache"] == "miss"
    assert _ask(url, team_a, REWORDED, max_tokens=21).headers["x-resumeopt-cache"] == "miss"
    assert _ask(url, team_b, REWORDED).headers["x-resumeopt-cache"] == "miss"         # never across teams
    assert len(seen) == 5


def test_off_by_default(secured, live_config):
    assert GatewayConfig.model_validate(live_config.model_dump()).policy.cache.semantic.enabled is False
    upstream = echo_upstream()
    with serve(upstream) as up:
        with serve(create_app(secured, _config(live_config, up, semantic=False))) as url:
            team_a = _key(url, "team-a")
            _ask(url, team_a, ASK)
            assert _ask(url, team_a, REWORDED).headers["x-resumeopt-cache"] == "miss"
    assert len(upstream.state.seen) == 2
