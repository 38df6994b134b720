"""Governance overhead per request: the same open-loop load through the gateway with authentication
off; with the bootstrap admin key; and with a virtual key whose own rate limits and budgets apply (a
budget per key and per day: one reservation and one settlement a request, two GCRA checks), with the
state in-process and in Redis (Lua calls over loopback).

    .venv/bin/python -m tests.perf.bench_budget [--rate 200] [--seconds 10]
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import uuid
from pathlib import Path

import httpx
import yaml

from gateway.local_model import free_port
from tests.perf.bench_gateway import PY, load, process
from tests.perf.loadgen import BENCH_KEY

ADMIN = {"authorization": f"Bearer {BENCH_KEY}"}


def _config(up: int) -> dict:
    return {"default_alias": "bench", "models": [{"alias": "bench", "deployments": [
        {"name": "fake", "provider": "openai_compatible", "model": "bench", "api_base": f"http://127.0.0.1:{up}/v1",
         "price": {"input_per_mtok": 1, "output_per_mtok": 2}}]}]}


def _virtual_key(url: str) -> str:
    """A premium key with its own limits raised out of the load's way (they are checked, never hit)."""
    key = httpx.post(f"{url}/admin/v1/keys", headers=ADMIN, json={"name": "bench", "team": "bench",
                                                                    "plan": "premium"}).json()
    httpx.put(f"{url}/admin/v1/limits/key:{key['key_id']}", headers=ADMIN, json={
        "requests_per_minute": 1e9, "tokens_per_minute": 1e12, "budget_day_usd": "1000000",
        "budget_month_usd": "1000000"}).raise_for_status()
    return key["key"]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rate", type=float, default=200)
    p.add_argument("--seconds", type=float, default=10)
    a = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="resumeopt-bench-governance-"))
    up = free_port()
    cfg = tmp / "gateway.yaml"
    cfg.write_text(yaml.safe_dump(_config(up)))
    variants = {"auth off": ("off", "memory", False), "admin key": ("required", "memory", False),
                "key + limits + budget": ("required", "memory", True),
                "same, state in Redis": ("required", "redis", True)}
    rows = {}
    with process([PY, "-m", "tests.perf.fake_upstream", "--port", str(up)], f"http://127.0.0.1:{up}"):
        for name, (auth, backend, scoped) in variants.items():
            gw = free_port()
            url = f"http://127.0.0.1:{gw}"
            env = {"RESUMEOPT_DATA_DIR": str(tmp / f"data-{gw}"), "RESUMEOPT_STATE_BACKEND": backend,
                   "RESUMEOPT_REDIS_PREFIX": f"resumeopt-bench:{uuid.uuid4().hex[:8]}:", "RESUMEOPT_AUTH": auth,
                   "RESUMEOPT_ADMIN_KEY": BENCH_KEY}
            with contextlib.ExitStack() as stack:
                stack.enter_context(process([PY, "-m", "resumeopt.cli", "gateway", "--config", str(cfg), "--port",
                                             str(gw)], url, env=env))
                key = _virtual_key(url) if scoped else BENCH_KEY
                load(url, concurrency=8, total=500, key=key)  # warm-up
                rows[name] = load(url, rate=a.rate, seconds=a.seconds, key=key)
    base = rows["auth off"]
    print(f"{'gateway':24} {'rps':>8} {'p50 ms':>8} {'p99 ms':>8} {'+p50 ms':>8} {'+p99 ms':>8} {'errors':>6}")
    for name, r in rows.items():
        print(f"{name:24} {r['rps']:>8} {r['p50']:>8} {r['p99']:>8} {r['p50'] - base['p50']:>8.3f} "
              f"{r['p99'] - base['p99']:>8.3f} {r['errors']:>6}")


if __name__ == "__main__":
    main()
