"""Two gateway processes sharing Redis open and close one circuit breaker together."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import httpx
import pytest
import yaml

from gateway.local_model import free_port
from tests.gateway.upstreams import switchable_upstream
from tests.support import serve, wait_for

MSG = {"model": "a", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def replicas(tmp_path):
    upstream = switchable_upstream()
    prefix = f"resumeopt-test:{uuid.uuid4().hex[:8]}:"
    with serve(upstream) as up:
        config = tmp_path / "gateway.yaml"
        config.write_text(yaml.safe_dump({
            "default_alias": "a",
            "models": [{"alias": "a", "deployments": [
                {"name": "shared-upstream", "provider": "openai_compatible", "model": "m", "api_base": f"{up}/v1"}]}],
            "policy": {"retry": {"max_attempts": 1},
                       "breaker": {"min_requests": 3, "failure_rate": 0.5, "cooldown_s": 1.0}}}))
        procs, urls = [], []
        for i in range(2):
            port = free_port()
            env = {**os.environ, "RESUMEOPT_STATE_BACKEND": "redis", "RESUMEOPT_REDIS_PREFIX": prefix,
                   "RESUMEOPT_DATA_DIR": str(tmp_path / f"replica{i}")}
            procs.append(subprocess.Popen([sys.executable, "-m", "resumeopt.cli", "gateway", "--config", str(config),
                                           "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL))
            urls.append(f"http://127.0.0.1:{port}")
        try:
            for url in urls:
                wait_for(lambda u=url: _up(u), timeout=60, what=f"replica {url}")
            yield upstream, urls
        finally:
            for p in procs:
                p.terminate()
                p.wait(15)
            import redis

            r = redis.Redis()
            keys = list(r.scan_iter(f"{prefix}*"))
            if keys:
                r.delete(*keys)


def _up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


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
