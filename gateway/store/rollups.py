"""Gateway health over time, read from the per-minute rollup (migration 0011) or, for comparison and
for anything that must be exact, from `model_calls FINAL`.

The rollup is fast and approximate under replays that regroup rows into different batches (0011 says
why); latency quantiles are t-digest estimates either way. Money is never read from here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from gateway.store.client import Store
from gateway.store.queries import naive_utc, team_clause

HEALTH_KEYS = {"deployment": "deployment", "model": "model_alias"}
QUANTILES = "(0.5, 0.95, 0.99)"

# source -> (FROM clause, time column, the aggregates as named columns)
_SOURCES = {
    "rollup": ("{db}.model_calls_1m", "minute",
               "sum(calls) AS calls, sum(errors) AS errors, sum(cache_hits) AS cache_hits, sum(retries) AS retries, "
               f"sum(fallbacks) AS fallbacks, quantilesTDigestMerge{QUANTILES}(latency_ms) AS q"),
    "raw": ("{db}.model_calls FINAL", "ts",
            "count() AS calls, countIf(status != 'ok') AS errors, countIf(cache_hit) AS cache_hits, "
            f"sum(retries) AS retries, sum(fallbacks) AS fallbacks, quantilesTDigest{QUANTILES}(latency_ms) AS q"),
}


def health_report(store: Store, by: str, start: datetime, end: datetime, per: Literal["minute", "total"],
                  team: str | None = None, source: Literal["rollup", "raw"] = "rollup") -> list[dict]:
    """Per `by` key (and per minute with per="minute"): calls, RPS, latency p50/p95/p99, error and cache
    hit rates, retries, fallbacks over [start, end). Both ends should be whole minutes (the rollup's grain)."""
    table, column, aggregates = _SOURCES[source]
    minute = f"toStartOfMinute({column})" if source == "raw" else column
    per_minute = per == "minute"
    rows = store.query(
        f"SELECT {HEALTH_KEYS[by]} AS key{f', {minute} AS minute' if per_minute else ''}, {aggregates} "
        f"FROM {table} WHERE {column} >= {{start:DateTime64(3)}} AND {column} < {{end:DateTime64(3)}} "
        f"{team_clause(team)} "
        f"GROUP BY key{', minute' if per_minute else ''} ORDER BY key{', minute' if per_minute else ''}",
        {"start": naive_utc(start), "end": naive_utc(end), "team": team or ""})
    seconds = 60 if per_minute else (end - start).total_seconds()
    return [_health_row(r, seconds) for r in rows]


def _health_row(r: dict, seconds: float) -> dict:
    p50, p95, p99 = r.pop("q")
    calls = r["calls"]
    out = {"key": r["key"]}
    if "minute" in r:
        out["minute"] = r["minute"].strftime("%Y-%m-%dT%H:%M:00Z")
    return {**out, "calls": calls, "rps": round(calls / seconds, 4) if seconds else 0.0,
            "p50_ms": round(p50, 1), "p95_ms": round(p95, 1), "p99_ms": round(p99, 1),
            "error_rate": round(r["errors"] / calls, 4) if calls else 0.0,
            "cache_hit_rate": round(r["cache_hits"] / calls, 4) if calls else 0.0,
            "errors": r["errors"], "cache_hits": r["cache_hits"], "retries": r["retries"], "fallbacks": r["fallbacks"]}
