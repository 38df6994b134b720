"""Prometheus metrics of one gateway process, served at `/metrics`.

Each app has its own registry (tests and the embedded platform build several apps in one process).
Counters and histograms are fed from the one place every call passes, the `model_calls` row, so the
metrics and the store always describe the same calls; gauges (in flight, breaker state, telemetry
backlog) are read when scraped.
"""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

# Seconds: from a cache hit (~1 ms) to a long generation (minutes).
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
OVERHEAD_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1)
BREAKER_STATES = {"closed": 0, "half_open": 1, "open": 2}


class GatewayMetrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.calls = Counter("resumeopt_gateway_calls_total", "Client calls answered, by alias and outcome",
                             ["model_alias", "status", "cache"], registry=r)
        self.latency = Histogram("resumeopt_gateway_call_latency_seconds", "Client-visible latency",
                                 ["model_alias"], buckets=LATENCY_BUCKETS, registry=r)
        self.overhead = Histogram("resumeopt_gateway_overhead_seconds", "The gateway's own time in a call",
                                  buckets=OVERHEAD_BUCKETS, registry=r)
        self.tokens = Counter("resumeopt_gateway_tokens_total", "Tokens, by alias and direction",
                              ["model_alias", "direction"], registry=r)
        self.cost = Counter("resumeopt_gateway_cost_usd_total", "Cost in USD, by alias", ["model_alias"], registry=r)
        self.saved = Counter("resumeopt_gateway_cost_saved_usd_total", "Cost avoided by cache hits", registry=r)
        self.retries = Counter("resumeopt_gateway_retries_total", "Retried upstream attempts", ["model_alias"],
                               registry=r)
        self.fallbacks = Counter("resumeopt_gateway_fallbacks_total", "Fallbacks to another alias", ["model_alias"],
                                 registry=r)
        self.in_flight = Gauge("resumeopt_gateway_in_flight", "Requests admitted and not yet finished", registry=r)
        self.breaker = Gauge("resumeopt_gateway_breaker_state", "0 closed, 1 half-open, 2 open", ["deployment"],
                             registry=r)
        self.pending = Gauge("resumeopt_telemetry_pending_rows", "Rows waiting for the store writer", registry=r)
        self.written = Gauge("resumeopt_telemetry_written_rows", "Rows the writer has stored", registry=r)
        self.dropped = Gauge("resumeopt_telemetry_dropped_rows", "Rows dropped past the backlog bound", registry=r)
        self.spooled = Gauge("resumeopt_telemetry_spool_bytes", "Bytes waiting in the durable spool (store refused)",
                             registry=r)

    def observe(self, row: dict) -> None:
        """One `model_calls` row."""
        alias = row["model_alias"]
        cache = "hit" if row["cache_hit"] else "none"
        self.calls.labels(alias, row["status"], cache).inc()
        self.latency.labels(alias).observe(row["latency_ms"] / 1000)
        self.overhead.observe(row["overhead_ms"] / 1000)
        if row["input_tokens"]:
            self.tokens.labels(alias, "input").inc(row["input_tokens"])
        if row["output_tokens"]:
            self.tokens.labels(alias, "output").inc(row["output_tokens"])
        if row["cost_usd"]:
            self.cost.labels(alias).inc(float(row["cost_usd"]))
        if row["cost_saved_usd"]:
            self.saved.inc(float(row["cost_saved_usd"]))
        if row["retries"]:
            self.retries.labels(alias).inc(row["retries"])
        if row["fallbacks"]:
            self.fallbacks.labels(alias).inc(row["fallbacks"])

    async def render(self, service, writer) -> bytes:
        """The exposition text, with the gauges read now."""
        now = service.now()
        for name in service.deployment_names():
            self.breaker.labels(name).set(BREAKER_STATES.get(await service.breakers.state(name, now), 0))
        self.in_flight.set(service.in_flight_total)
        stats = await asyncio.to_thread(writer.stats)  # the stream sink asks Redis: off the loop
        self.pending.set(stats["pending"])
        self.written.set(stats["written"])
        self.dropped.set(stats["dropped"])
        self.spooled.set(stats["spooled_bytes"])
        return generate_latest(self.registry)
