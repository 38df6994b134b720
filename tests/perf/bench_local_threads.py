"""How many threads the local model server should use: one chat call (~320 prompt tokens, 146 out, the size
of an agent's call) timed with 1..N threads, on an idle machine and beside one busy process (what the
platform's own work does to it during an optimisation).

    .venv/bin/python -m tests.perf.bench_local_threads [--calls 5]

Prints a table: threads, load, p50 and max seconds per call.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from gateway.local_model import LocalModelServer

PROMPT = ("You are a job analyst. List the requirements of this job. "
          + "We need a backend engineer with Python, Docker, PostgreSQL, Kubernetes, AWS and Kafka experience. " * 12)


def _spin(stop) -> None:
    while not stop.is_set():
        sum(i * i for i in range(10_000))


def _calls(base: str, n: int) -> list[float]:
    out = []
    for i in range(n):
        t = time.perf_counter()
        r = httpx.post(base + "/chat/completions", timeout=600, json={
            "model": "m", "messages": [{"role": "user", "content": f"Request {time.time_ns()}. {PROMPT}"}],  # no shared prefix: the server must read it all
            "max_tokens": 160, "temperature": 0.2, "seed": 7})
        r.raise_for_status()
        out.append(time.perf_counter() - t)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=5)
    args = ap.parse_args()
    cores = os.cpu_count() or 1
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for threads in range(1, cores + 1):
            server = LocalModelServer("m", 4096, Path(tmp) / f"llama{threads}.log", threads=threads)
            base = server.start(120)
            try:
                _calls(base, 1)  # warm
                for load in ("idle", "1 busy process"):
                    stop = mp.Event()
                    busy = mp.Process(target=_spin, args=(stop,)) if load != "idle" else None
                    if busy:
                        busy.start()
                    try:
                        times = _calls(base, args.calls)
                    finally:
                        if busy:
                            stop.set()
                            busy.join()
                    rows.append((threads, load, statistics.median(times), max(times)))
            finally:
                server.stop()
    print(f"{'threads':>7}  {'load':<16}{'p50 s':>8}{'max s':>8}   ({cores} cores, {args.calls} calls each)")
    for threads, load, p50, worst in rows:
        print(f"{threads:>7}  {load:<16}{p50:>8.1f}{worst:>8.1f}")


if __name__ == "__main__":
    main()
