"""Two gateway processes sharing Redis open and close one circuit breaker together."""

from __future__ import annotations

import httpx
import pytest

from tests.gateway.upstreams import switchable_upstream
from tests.support import gateway_replicas, serve, wait_for

MSG = {"model": "a", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def replicas(tmp_path):
    upstream = switchable_upstream()
    with serve(upstream) as up:
        config = {
            "default_alias": "a",
            "models": [{"alias": "a", "deployments": [
                {"name": "shared-upstream", "provider": "openai_compatible", "model": "m", "api_base": f"{up}/v1"}]}],
            "policy": {"retry": {"max_attempts": 1},
                       "breaker": {"min_requests": 3, "failure_rate": 0.5, "cooldown_s": 1.0}}}
        with gateway_replicas(config, tmp_path) as urls:
            yield upstream, urls


def test_replicas_share_breaker_state_through_redis(replicas):
    upstream, (a, b) = replicas
    assert [httpx.post(f"{a}/v1/chat/completions", json=MSG).status_code for _ in range(3)] == [502] * 3
    refused = httpx.post(f"{b}/v1/chat/completions", json=MSG)  # B never saw a failure itself
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "no_deployment_available"
    upstream.state.healthy = True
    probe = wait_for(lambda: _ok(b), timeout=10, what="B's half-open probe to succeed")
    assert probe.headers["x-resumeopt-attempts"] == "1"
    after = httpx.post(f"{a}/v1/chat/completions", json=MSG)  # A sees the circuit B closed
    assert after.status_code == 200
    modes = httpx.get(f"{a}/admin/v1/modes").json()
    assert modes["breakers"]["shared-upstream"] == "closed"


def _ok(url: str):
    resp = httpx.post(f"{url}/v1/chat/completions", json=MSG)
    return resp if resp.status_code == 200 else None
