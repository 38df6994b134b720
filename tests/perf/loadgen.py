"""Load generator for the gateway benchmark, run in its own process so it does not share the measured
server's event loop. Latency is measured from each request's *scheduled* send time (open loop), so a
stalled server cannot hide its queueing (no coordinated omission).

    python -m tests.perf.loadgen --url URL --rate 200 --seconds 10 [--stream]     -> JSON on stdout
    python -m tests.perf.loadgen --url URL --concurrency 64 --seconds 10           -> max throughput
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import aiohttp

# The LiteLLM proxy refuses to start without a master key; every target gets the same header.
BENCH_KEY = "sk-bench-5f1c2a9e8d7b6c4a3f2e1d0c"
HEADERS = {"content-type": "application/json", "authorization": f"Bearer {BENCH_KEY}"}
BODY = {"model": "bench", "messages": [{"role": "user", "content": "Say something short."}], "max_tokens": 16}


async def _one(session: aiohttp.ClientSession, url: str, body: bytes, stream: bool, t_sched: float,
               out: dict) -> None:
    try:
        async with session.post(url, data=body, headers=HEADERS) as resp:
            first = None
            async for _ in resp.content.iter_any():
                if first is None:
                    first = time.perf_counter()
            done = time.perf_counter()
            if resp.status != 200:
                out["errors"] += 1
                return
    except (aiohttp.ClientError, asyncio.TimeoutError):
        out["errors"] += 1
        return
    out["latency"].append((done - t_sched) * 1000)
    if stream:
        out["ttfb"].append((first - t_sched) * 1000)


async def open_loop(url: str, rate: float, seconds: float, stream: bool) -> dict:
    body = json.dumps({**BODY, "stream": stream}).encode()
    out = {"latency": [], "ttfb": [], "errors": 0}
    conn = aiohttp.TCPConnector(limit=512)
    async with aiohttp.ClientSession(connector=conn, timeout=aiohttp.ClientTimeout(total=30)) as session:
        for _ in range(20):  # warm connections and caches, not measured
            await _one(session, url, body, stream, time.perf_counter(), {"latency": [], "ttfb": [], "errors": 0})
        n = int(rate * seconds)
        t0 = time.perf_counter()
        tasks = []
        for i in range(n):
            t_sched = t0 + i / rate
            delay = t_sched - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(_one(session, url, body, stream, t_sched, out)))
        await asyncio.gather(*tasks)
        out["elapsed"] = time.perf_counter() - t0
    return out


async def closed_loop(url: str, concurrency: int, seconds: float, stream: bool, total: int | None) -> dict:
    body = json.dumps({**BODY, "stream": stream}).encode()
    out = {"latency": [], "ttfb": [], "errors": 0}
    conn = aiohttp.TCPConnector(limit=concurrency)
    deadline = time.perf_counter() + seconds
    counter = {"left": total if total is not None else float("inf")}

    async def worker(session):
        while time.perf_counter() < deadline and counter["left"] > 0:
            counter["left"] -= 1
            await _one(session, url, body, stream, time.perf_counter(), out)

    async with aiohttp.ClientSession(connector=conn, timeout=aiohttp.ClientTimeout(total=30)) as session:
        t0 = time.perf_counter()
        await asyncio.gather(*[worker(session) for _ in range(concurrency)])
        out["elapsed"] = time.perf_counter() - t0
    return out


def summary(out: dict) -> dict:
    lat = sorted(out["latency"])
    ttfb = sorted(out["ttfb"])

    def q(xs, p):
        return round(xs[min(len(xs) - 1, int(p * len(xs)))], 3) if xs else None

    return {"ok": len(lat), "errors": out["errors"], "rps": round(len(lat) / out["elapsed"], 1),
            "p50": q(lat, 0.50), "p99": q(lat, 0.99), "ttfb_p50": q(ttfb, 0.50), "ttfb_p99": q(ttfb, 0.99)}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--rate", type=float)
    p.add_argument("--concurrency", type=int)
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--total", type=int)
    p.add_argument("--stream", action="store_true")
    p.add_argument("--key", default=BENCH_KEY, help="bearer credential sent with every request")
    a = p.parse_args()
    HEADERS["authorization"] = f"Bearer {a.key}"
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    if a.rate:
        out = asyncio.run(open_loop(a.url, a.rate, a.seconds, a.stream))
    else:
        out = asyncio.run(closed_loop(a.url, a.concurrency or 32, a.seconds, a.stream, a.total))
    print(json.dumps(summary(out)))


if __name__ == "__main__":
    main()
