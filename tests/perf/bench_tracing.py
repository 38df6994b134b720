"""What tracing and the access log cost a gateway request: the whole app in-process (FastAPI, auth off,
the chat service, a zero-latency simulator), called over ASGI in a loop, no sockets, so that the number
is the gateway's own CPU time. Tracing "on" exports through a BatchSpanProcessor to an exporter that drops
the spans (the export itself happens off the request path, in the processor's thread).

    .venv/bin/python -m tests.perf.bench_tracing [--requests 3000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import logging
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from gateway.app import create_app
from gateway.config import GatewayConfig
from gateway.logs import JsonFormatter
from gateway.settings import GatewaySettings
from gateway.tracing import Tracing, _provider

CONFIG = GatewayConfig.model_validate({"default_alias": "sim", "models": [
    {"alias": "sim", "deployments": [{"name": "sim-0", "provider": "simulator", "model": "s"}]}]})
BODY = {"model": "sim", "messages": [{"role": "user", "content": "Rewrite my summary for a backend role."}]}


class Drop(SpanExporter):
    def export(self, spans) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def tracing(on: bool) -> Tracing:
    if not on:
        return Tracing()
    provider = _provider("bench")
    provider.add_span_processor(BatchSpanProcessor(Drop()))
    return Tracing(provider)


async def per_request_us(app, n: int) -> tuple[float, float]:
    """(wall, CPU) µs per request. CPU time is the process's own (every thread): it moves less than wall
    time when other work shares the machine's two cores."""
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client:
            for _ in range(200):  # warm up
                await client.post("/v1/chat/completions", json=BODY)
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(n):
                resp = await client.post("/v1/chat/completions", json=BODY)
            assert resp.status_code == 200, resp.text
            return (time.perf_counter() - wall) / n * 1e6, (time.process_time() - cpu) / n * 1e6


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--requests", type=int, default=3000)
    p.add_argument("--rounds", type=int, default=3)
    a = p.parse_args()
    data = Path(tempfile.mkdtemp(prefix="resumeopt-bench-tracing-"))
    root, sink = logging.getLogger(), logging.StreamHandler(io.StringIO())
    logging.getLogger("httpx").setLevel(logging.WARNING)  # the benchmark's own client logs each request at INFO
    sink.setFormatter(JsonFormatter())
    variants = {"tracing off, no access log": (False, False), "tracing off, JSON access log": (False, True),
                "tracing on, no access log": (True, False), "tracing on, JSON access log": (True, True)}
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
    for _ in range(a.rounds):  # interleaved, so that drift on a shared machine hits every variant alike
        for name, (on, logged) in variants.items():
            root.setLevel(logging.INFO if logged else logging.WARNING)
            (root.addHandler if logged else root.removeHandler)(sink)
            settings = GatewaySettings(data_dir=data, store_database=f"b_{uuid.uuid4().hex[:8]}", auth="off")
            traced = tracing(on)
            results[name].append(asyncio.run(per_request_us(create_app(settings, CONFIG, traced), a.requests)))
            traced.shutdown()
    def medians(name: str) -> tuple[float, float]:
        return tuple(statistics.median(r[i] for r in results[name]) for i in (0, 1))

    base_wall, base_cpu = medians("tracing off, no access log")
    print(f"medians of {a.rounds} rounds of {a.requests} requests, µs per request")
    print(f"{'variant':30} {'wall':>8} {'added':>7} {'CPU':>8} {'added':>7}")
    for name in variants:
        wall, cpu = medians(name)
        print(f"{name:30} {wall:>8.1f} {wall - base_wall:>7.1f} {cpu:>8.1f} {cpu - base_cpu:>7.1f}")


if __name__ == "__main__":
    main()
