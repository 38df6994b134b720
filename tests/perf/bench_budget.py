"""Budget check overhead: the same open-loop load through the gateway without budgets, with a global
budget in-process, and with the budget ledger in Redis (one reserve and one settle Lua call a request).

    .venv/bin/python -m tests.perf.bench_budget [--rate 200] [--seconds 10]
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import uuid
from pathlib import Path

import yaml

from gateway.local_model import free_port
from tests.perf.bench_gateway import PY, load, process


def _config(up: int, budget: bool) -> dict:
    policy = {"budget": {"budgets": [{"scope": "global", "period": "day", "limit_usd": "1000000"}]}} if budget else {}
    return {"default_alias": "bench", "policy": policy, "models": [{"alias": "bench", "deployments": [
        {"name": "fake", "provider": "openai_compatible", "model": "bench", "api_base": f"http://127.0.0.1:{up}/v1",
         "price": {"input_per_mtok": 1, "output_per_mtok": 2}}]}]}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rate", type=float, default=200)
    p.add_argument("--seconds", type=float, default=10)
    a = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="resumeopt-bench-budget-"))
    up = free_port()
    variants = {"no budget": (False, "memory"), "budget, in-process": (True, "memory"),
                "budget, Redis": (True, "redis")}
    rows = {}
    with process([PY, "-m", "tests.perf.fake_upstream", "--port", str(up)], f"http://127.0.0.1:{up}"):
        for name, (budget, backend) in variants.items():
            cfg, gw = tmp / f"{backend}-{budget}.yaml", free_port()
            cfg.write_text(yaml.safe_dump(_config(up, budget)))
            env = {"RESUMEOPT_DATA_DIR": str(tmp / f"data-{gw}"), "RESUMEOPT_STATE_BACKEND": backend,
                   "RESUMEOPT_REDIS_PREFIX": f"resumeopt-bench:{uuid.uuid4().hex[:8]}:"}
            with contextlib.ExitStack() as stack:
                stack.enter_context(process([PY, "-m", "resumeopt.cli", "gateway", "--config", str(cfg), "--port",
                                             str(gw)], f"http://127.0.0.1:{gw}", env=env))
                load(f"http://127.0.0.1:{gw}", concurrency=8, total=500)  # warm-up
                rows[name] = load(f"http://127.0.0.1:{gw}", rate=a.rate, seconds=a.seconds)
    base = rows["no budget"]
    print(f"{'gateway':22} {'rps':>8} {'p50 ms':>8} {'p99 ms':>8} {'+p50 ms':>8} {'errors':>6}")
    for name, r in rows.items():
        print(f"{name:22} {r['rps']:>8} {r['p50']:>8} {r['p99']:>8} {r['p50'] - base['p50']:>8.3f} {r['errors']:>6}")


if __name__ == "__main__":
    main()
