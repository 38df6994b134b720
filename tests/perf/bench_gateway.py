"""Gateway benchmark: the same load sent directly to a fast fake upstream, through this gateway and
through the LiteLLM proxy, in one run, on this machine. Prints one table.

    make bench            (sets up the LiteLLM proxy venv, then runs this)
    .venv/bin/python -m tests.perf.bench_gateway [--seconds 10] [--rates 50,200,400] [--soak 100000]
                                                 [--skip-litellm] [--stream-telemetry]

`--stream-telemetry` adds `ro-stream`: a second gateway in the scaled shape's telemetry mode (rows go to a
Redis Stream and each answer waits for its row to be there), read into a store by a `resumeopt store-writer`
process, as in the scaled shape.

Overhead = target p50/p99 minus direct p50/p99 at the same offered load. Max throughput is closed-loop
with 64 connections. RSS is the gateway's resident memory after warm-up and after the soak.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml

from gateway.local_model import free_port
from tests.perf.loadgen import BENCH_KEY

REPO = Path(__file__).resolve().parents[2]
PY = sys.executable
LITELLM = REPO / ".cache" / "perf" / "litellm" / "bin" / "litellm"


@contextlib.contextmanager
def process(cmd: list[str], url: str, env: dict | None = None, ready_path: str = "/v1/models"):
    proc = subprocess.Popen(cmd, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, cwd=REPO)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{cmd[:3]} exited with {proc.returncode}")
        try:
            if httpx.get(url + ready_path, timeout=1).status_code < 500:
                break
        except httpx.TransportError:
            time.sleep(0.2)
    else:
        proc.kill()
        raise RuntimeError(f"{cmd[:3]} not ready")
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


def load(url: str, **kw) -> dict:
    args = [PY, "-m", "tests.perf.loadgen", "--url", url + "/v1/chat/completions"]
    for k, v in kw.items():
        if v is True:
            args.append(f"--{k}")
        elif v not in (None, False):
            args += [f"--{k}", str(v)]
    out = subprocess.run(args, capture_output=True, text=True, cwd=REPO, timeout=900)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def wait_idle(pids: list[int], timeout: float = 120.0) -> None:
    """An overloaded server keeps working through its backlog after the load generator gave up; wait
    until every server is idle (<5 % of a core for a second) so it does not steal the next run's CPU."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = sum(cpu_seconds(p) for p in pids)
        time.sleep(1.0)
        if sum(cpu_seconds(p) for p in pids) - before < 0.05:
            return


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--rates", default="50,200,400")
    p.add_argument("--soak", type=int, default=100_000)
    p.add_argument("--skip-litellm", action="store_true")
    p.add_argument("--stream-telemetry", action="store_true")
    a = p.parse_args()
    rates = [float(r) for r in a.rates.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="resumeopt-bench-"))
    up_port, gw_port, ll_port = free_port(), free_port(), free_port()
    upstream = f"http://127.0.0.1:{up_port}"
    gw_cfg, ll_cfg = tmp / "gateway.yaml", tmp / "litellm.yaml"
    gw_cfg.write_text(yaml.safe_dump({"default_alias": "bench", "models": [{"alias": "bench", "deployments": [
        {"name": "fake-upstream", "provider": "openai_compatible", "model": "bench", "api_base": upstream + "/v1",
         "price": {"input_per_mtok": 1, "output_per_mtok": 2}}]}]}))
    ll_cfg.write_text(yaml.safe_dump({"model_list": [{"model_name": "bench", "litellm_params": {
        "model": "openai/bench", "api_base": upstream + "/v1", "api_key": "bench"}}]}))
    targets = {"direct": upstream, "resumeopt": f"http://127.0.0.1:{gw_port}"}
    rows, rss, pids = [], {}, []
    with contextlib.ExitStack() as stack:
        pids.append(stack.enter_context(process([PY, "-m", "tests.perf.fake_upstream", "--port", str(up_port)],
                                                upstream)).pid)
        gw = stack.enter_context(process(
            [PY, "-m", "resumeopt.cli", "gateway", "--config", str(gw_cfg), "--port", str(gw_port)],
            targets["resumeopt"], env={"RESUMEOPT_DATA_DIR": str(tmp / "data"), "RESUMEOPT_ADMIN_KEY": BENCH_KEY}))
        if not a.skip_litellm and LITELLM.exists():
            targets["litellm"] = f"http://127.0.0.1:{ll_port}"
            pids.append(stack.enter_context(process(
                [str(LITELLM), "--config", str(ll_cfg), "--port", str(ll_port), "--num_workers", "1"],
                targets["litellm"], env={"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR",
                                         "DISABLE_ADMIN_UI": "True", "LITELLM_MASTER_KEY": BENCH_KEY},
                ready_path="/health/liveliness")).pid)
        pids.append(gw.pid)
        if a.stream_telemetry:
            port = free_port()
            targets["ro-stream"] = f"http://127.0.0.1:{port}"
            stream_env = {"RESUMEOPT_ADMIN_KEY": BENCH_KEY, "RESUMEOPT_TELEMETRY_QUEUE": "redis",
                          "RESUMEOPT_STORE_WRITER": "false", "RESUMEOPT_REDIS_PREFIX": f"resumeopt-bench:{port}:"}
            pids.append(stack.enter_context(process(
                [PY, "-m", "resumeopt.cli", "gateway", "--config", str(gw_cfg), "--port", str(port)],
                targets["ro-stream"], env={**stream_env, "RESUMEOPT_DATA_DIR": str(tmp / "data-stream")})).pid)
            writer = subprocess.Popen([PY, "-m", "resumeopt.cli", "store-writer"], cwd=REPO,
                                      env={**os.environ, **stream_env, "RESUMEOPT_DATA_DIR": str(tmp / "data-writer")},
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            stack.callback(writer.terminate)
            pids.append(writer.pid)
        for stream in (False, True):
            for rate in rates:
                for name, url in targets.items():
                    wait_idle(pids)
                    rows.append({"target": name, "mode": "stream" if stream else "plain", "load": f"{rate:g}/s",
                                 **load(url, rate=rate, seconds=a.seconds, stream=stream)})
            for name, url in targets.items():
                wait_idle(pids)
                rows.append({"target": name, "mode": "stream" if stream else "plain", "load": "max (64 conn)",
                             **load(url, concurrency=64, seconds=a.seconds, stream=stream)})
        wait_idle(pids)
        load(targets["resumeopt"], concurrency=32, total=2000)  # warm-up before the memory baseline
        rss["before"] = rss_mb(gw.pid)
        soak = load(targets["resumeopt"], concurrency=32, total=a.soak, seconds=3600)
        rss["after"] = rss_mb(gw.pid)
    if a.stream_telemetry:
        from tests.support import clear_redis_prefix

        clear_redis_prefix(f"resumeopt-bench:{targets['ro-stream'].rsplit(':', 1)[1]}:")
    print_table(rows)
    growth = (rss["after"] - rss["before"]) / rss["before"] * 100
    print(f"\nresumeopt gateway RSS: {rss['before']:.1f} MB after warm-up, {rss['after']:.1f} MB after "
          f"{soak['ok'] + soak['errors']} more requests ({growth:+.1f} %); soak errors: {soak['errors']}")


def print_table(rows: list[dict]) -> None:
    direct = {(r["mode"], r["load"]): r for r in rows if r["target"] == "direct"}
    head = (f"{'mode':6} {'load':>13} {'target':>9} {'rps':>8} {'p50 ms':>8} {'p99 ms':>8} "
            f"{'+p50 ms':>8} {'+p99 ms':>8} {'ttfb p50':>9} {'+ttfb':>7} {'errors':>6}")
    print(head)
    print("-" * len(head))
    for r in rows:
        d = direct[(r["mode"], r["load"])]
        failed = r["p50"] is None  # every request failed: no latency to compare
        plus50 = "" if r["target"] == "direct" or failed else f"{r['p50'] - d['p50']:.3f}"
        plus99 = "" if r["target"] == "direct" or failed else f"{r['p99'] - d['p99']:.3f}"
        ttfb = "" if r["ttfb_p50"] is None else f"{r['ttfb_p50']:.3f}"
        plus_ttfb = "" if r["target"] == "direct" or r["ttfb_p50"] is None else f"{r['ttfb_p50'] - d['ttfb_p50']:.3f}"
        print(f"{r['mode']:6} {r['load']:>13} {r['target']:>9} {r['rps']:>8} {r['p50'] or '-':>8} {r['p99'] or '-':>8} "
              f"{plus50:>8} {plus99:>8} {ttfb:>9} {plus_ttfb:>7} {r['errors']:>6}")


if __name__ == "__main__":
    main()
