"""Cache-hit latency: the same request sent at a fixed rate through the gateway with the response cache
on (every request after the first is a hit), beside the same load sent directly to the fake upstream.

    .venv/bin/python -m tests.perf.bench_cache [--rate 200] [--seconds 10]
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
from pathlib import Path

import yaml

from gateway.local_model import free_port
from tests.perf.loadgen import BENCH_KEY
from tests.perf.bench_gateway import PY, load, process


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rate", type=float, default=200)
    p.add_argument("--seconds", type=float, default=10)
    a = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="resumeopt-bench-cache-"))
    up, gw = free_port(), free_port()
    cfg = tmp / "gateway.yaml"
    cfg.write_text(yaml.safe_dump({"default_alias": "bench", "policy": {"cache": {"enabled": True}}, "models": [
        {"alias": "bench", "deployments": [{"name": "fake", "provider": "openai_compatible", "model": "bench",
                                            "api_base": f"http://127.0.0.1:{up}/v1"}]}]}))
    with contextlib.ExitStack() as stack:
        stack.enter_context(process([PY, "-m", "tests.perf.fake_upstream", "--port", str(up)], f"http://127.0.0.1:{up}"))
        stack.enter_context(process([PY, "-m", "resumeopt.cli", "gateway", "--config", str(cfg), "--port", str(gw)],
                                    f"http://127.0.0.1:{gw}", env={"RESUMEOPT_DATA_DIR": str(tmp / "data"),
                                                                 "RESUMEOPT_ADMIN_KEY": BENCH_KEY}))
        rows = {"direct (no gateway)": load(f"http://127.0.0.1:{up}", rate=a.rate, seconds=a.seconds),
                "gateway, cache hit": load(f"http://127.0.0.1:{gw}", rate=a.rate, seconds=a.seconds)}
    print(f"{'target':22} {'rps':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}")
    for name, r in rows.items():
        print(f"{name:22} {r['rps']:>8} {r['p50']:>8} {r['p99']:>8} {r['errors']:>6}")


if __name__ == "__main__":
    main()
