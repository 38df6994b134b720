"""Store read benchmark: reports over raw `model_calls FINAL` beside the same reports over the rollups
(migration 0011), at 1M and 10M synthetic calls in chDB; plus ingestion through `TelemetryWriter`.
Prints tables; asserts nothing about speed.

    make bench-store
    .venv/bin/python -m tests.perf.bench_store [--rows 1000000,10000000] [--runs 5] [--ingest 200000]
    .venv/bin/python -m tests.perf.bench_store --rows 100000          (a quick smoke run)

Synthetic rows are made inside chDB (`INSERT ... SELECT ... FROM numbers(N)`, through the materialized
views, as the writer's inserts go): 30 days, ~20 teams, ~2k users (each in one team), 10 model aliases
with 2 deployments each, log-normal latency, 2 % errors, 10 % cache hits. Latencies are p50 of `--runs`.
A temporary store is used and removed.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from gateway.settings import GatewaySettings
from gateway.store import queries
from gateway.store.client import Store, statements
from gateway.store.rollups import health_report
from gateway.store.writer import TelemetryWriter
from gateway.telemetry import Attribution, CallRecord

DAYS = 30
MIGRATIONS = Path(__file__).resolve().parents[2] / "gateway" / "store" / "migrations"

# Synthetic calls, one per number: every attribute from its own hash of the row number.
GENERATE = """
INSERT INTO {db}.model_calls (call_id, ts, request_id, team, user_id, model_alias, deployment, provider,
    input_tokens, output_tokens, cost_usd, latency_ms, cache_hit, retries, attempts, fallbacks, fallback_used,
    status, http_status, error_kind)
SELECT concat('c', toString(number)) AS call_id,
       {start:DateTime64(3)} + toIntervalMillisecond(intDiv(number * {span_ms:UInt64}, {n:UInt64})) AS ts,
       concat('r', toString(intDiv(number, 4))) AS request_id,
       concat('team-', toString(u % 20)) AS team, concat('user-', toString(u)) AS user_id,
       concat('alias-', toString(a)) AS model_alias, concat('alias-', toString(a), '-', toString(h % 2)) AS deployment,
       'bench' AS provider, toUInt32(200 + h % 3000) AS input_tokens,
       toUInt32(50 + intDiv(h, 7) % 800) AS output_tokens,
       toDecimal64((input_tokens * (1 + a) * 0.25 + output_tokens * (1 + a)) / 1000000, 9) AS cost_usd,
       randLogNormal(6, 0.7) AS latency_ms, (intDiv(h, 11) % 10) = 0 AS cache_hit,
       toUInt8((intDiv(h, 13) % 50) = 0) AS retries, retries + 1 AS attempts,
       toUInt8((intDiv(h, 17) % 200) = 0) AS fallbacks, fallbacks > 0 AS fallback_used,
       if((intDiv(h, 19) % 50) = 0, 'error', 'ok') AS status, if(status = 'ok', 200, 502) AS http_status,
       if(status = 'ok', '', 'server_error') AS error_kind
FROM (SELECT number, cityHash64(number, 1) % 2000 AS u, cityHash64(number, 2) % 10 AS a, cityHash64(number, 3) AS h
      FROM numbers({n:UInt64}))
"""

# The cost report's grouping read from the per-day rollup (bench only: finance reads raw FINAL, exact).
ROLLUP_COST = {"team": "team", "model": "model_alias", "day": "toString(day)"}


def rollup_cost(store: Store, by: str, start: date, end: date) -> list[dict]:
    return store.query(
        f"SELECT {ROLLUP_COST[by]} AS key, sum(calls) AS calls, sum(input_tokens) AS input_tokens, "
        "sum(output_tokens) AS output_tokens, sum(cost_usd) AS cost_usd, sum(errors) AS errors "
        "FROM {db}.model_calls_1d WHERE day >= {start:Date} AND day <= {end:Date} GROUP BY key ORDER BY key",
        {"start": start, "end": end})


def p50_ms(fn: Callable[[], object], runs: int) -> float:
    fn()  # warm: first-read caches, not the steady state a dashboard sees
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def generate(store: Store, n: int, end: datetime) -> float:
    for table in ("model_calls", "model_calls_1m", "model_calls_1d"):
        store.command(f"TRUNCATE TABLE {{db}}.{table}")
    start = end - timedelta(days=DAYS)
    t = time.perf_counter()
    store.command(GENERATE, {"start": start.replace(tzinfo=None), "span_ms": DAYS * 86_400_000, "n": n})
    return time.perf_counter() - t


def backfill_s(store: Store) -> float:
    """The 0012 back-fill over the generated table, into emptied rollups (the views' rows are replaced)."""
    for table in ("model_calls_1m", "model_calls_1d"):
        store.command(f"TRUNCATE TABLE {{db}}.{table}")
    t = time.perf_counter()
    for sql in statements((MIGRATIONS / "0012_rollups_backfill.sql").read_text()):
        store.command(sql)
    return time.perf_counter() - t


def sizes(store: Store) -> dict[str, int]:
    count = lambda sql: int(store.query(sql)[0]["n"])  # noqa: E731
    return {"model_calls": count("SELECT count() AS n FROM {db}.model_calls"),
            "model_calls_1m": count("SELECT count() AS n FROM {db}.model_calls_1m"),
            "model_calls_1d": count("SELECT count() AS n FROM {db}.model_calls_1d"),
            "1m with user_id": count("SELECT uniqExact(toStartOfMinute(ts), team, user_id, model_alias, deployment) "
                                     "AS n FROM {db}.model_calls")}


def read_rows(store: Store, end: datetime, runs: int) -> list[tuple[str, float, float]]:
    """(report, raw p50 ms, rollup p50 ms)."""
    first, last = (end - timedelta(days=DAYS)).date(), end.date()
    out = []
    for by in ("team", "model", "day"):
        out.append((f"cost by {by}, {DAYS} d",
                    p50_ms(lambda by=by: queries.cost_report(store, by, first, last), runs),
                    p50_ms(lambda by=by: rollup_cost(store, by, first, last), runs)))
    minute = end.replace(second=0, microsecond=0)
    for label, span, per in (("health per minute, 1 h", timedelta(hours=1), "minute"),
                             ("health per minute, 24 h", timedelta(hours=24), "minute"),
                             (f"health total, {DAYS} d", timedelta(days=DAYS), "total")):
        start = minute - span
        out.append((label,
                    p50_ms(lambda s=start, p=per: health_report(store, "deployment", s, minute, p, source="raw"), runs),
                    p50_ms(lambda s=start, p=per: health_report(store, "deployment", s, minute, p), runs)))
    return out


def ingest(store: Store, n: int) -> float:
    """Rows/s of `n` realistic rows emitted into a default-sized TelemetryWriter, until flushed."""
    store.command("TRUNCATE TABLE {db}.model_calls")
    defaults = GatewaySettings()
    writer = TelemetryWriter(store, defaults.writer_batch_size, defaults.writer_flush_interval_s, max_pending=n + 1)
    rows = []
    for i in range(n):
        who = Attribution(f"ingest-{i // 4}", agent="writer", team=f"team-{i % 20}", user_id=f"user-{i % 2000}")
        rec = CallRecord(who, f"alias-{i % 10}", f"alias-{i % 10}-{i % 2}", "bench", input_tokens=900,
                         output_tokens=300, cost_usd=Decimal("0.0042"), latency_ms=420.0 + i % 300)
        rows.append(rec.row())
    writer.start()
    t = time.perf_counter()
    for row in rows:
        writer.emit("model_calls", row)
    if not writer.flush(timeout=600):
        raise RuntimeError("the writer did not land every row within 10 minutes")
    elapsed = time.perf_counter() - t
    writer.stop()
    return n / elapsed


def ingest_without_views(store: Store, n: int) -> float:
    """The same, with the rollups' views detached: what the views cost the writer."""
    views = ("model_calls_1m_mv", "model_calls_1d_mv")
    for view in views:
        store.command(f"DETACH VIEW {{db}}.{view}")
    try:
        return ingest(store, n)
    finally:
        for view in views:
            store.command(f"ATTACH TABLE {{db}}.{view}")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rows", default="1000000,10000000", help="comma-separated table sizes")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--ingest", type=int, default=200_000, help="rows emitted through TelemetryWriter")
    a = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="resumeopt-bench-store-"))
    try:
        store = Store(f"chdb://{tmp / 'store'}", "bench")
        store.migrate()
        end = datetime.now(UTC)
        for n in (int(x) for x in a.rows.split(",")):
            gen_s = generate(store, n, end)
            fill_s = backfill_s(store)
            size = sizes(store)
            print(f"\n{n:,} calls over {DAYS} days: generated through the views in {gen_s:.1f} s "
                  f"({n / gen_s:,.0f} rows/s); 0012 back-fill {fill_s:.1f} s")
            print("rows: " + ", ".join(f"{k} {v:,}" for k, v in size.items()))
            print(f"{'report':28} {'raw FINAL ms':>13} {'rollup ms':>10} {'speed-up':>9}")
            for label, raw, rollup in read_rows(store, end, a.runs):
                print(f"{label:28} {raw:>13.1f} {rollup:>10.1f} {raw / rollup:>8.1f}x")
        batch = GatewaySettings().writer_batch_size
        print(f"\ningestion: {a.ingest:,} rows through TelemetryWriter (batch {batch}):")
        print(f"  rollup views on:  {ingest(store, a.ingest):>10,.0f} rows/s")
        print(f"  rollup views off: {ingest_without_views(store, a.ingest):>10,.0f} rows/s")
        store.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
