"""Rollups (migration 0011): the materialized views keep per-minute and per-day aggregates that agree
with model_calls FINAL; a replayed batch counts once in them too; the migration back-fills what the
table held before the views existed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from gateway.store.client import Store
from gateway.store.rollups import health_report
from gateway.telemetry import Attribution, CallRecord

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _store(gw_settings) -> Store:
    store = Store(gw_settings.resolved_store_dsn(), gw_settings.store_database)
    store.migrate()
    return store


def _call(minute: int, deployment: str, team: str = "a", user: str = "u1", **kw) -> dict:
    latency = {"fast": 100.0, "slow": 900.0}.get(deployment, 50.0)  # one value per deployment: exact quantiles
    rec = CallRecord(Attribution(f"r{minute}", team=team, user_id=user), "m", deployment, "p", input_tokens=10,
                     output_tokens=5, cost_usd=Decimal("0.000123"), latency_ms=latency, **kw)
    rec.ts = T0 + timedelta(minutes=minute, seconds=7)
    return rec.row()


def _traffic() -> list[list[dict]]:
    """Three batches over two minutes: errors, cache hits, retries and a fallback on `slow`."""
    return [
        [_call(0, "fast") for _ in range(6)] + [_call(0, "slow", status="error", http_status=502)],
        [_call(0, "fast", cache_hit=True), _call(1, "slow", attempts=3, fallbacks=1, user="u2")],
        [_call(1, "fast", team="b") for _ in range(3)],
    ]


def _minute_calls(store: Store) -> int:
    return store.query("SELECT sum(calls) AS n FROM {db}.model_calls_1m")[0]["n"] or 0


def test_rollups_agree_with_the_raw_table(gw_settings):
    store = _store(gw_settings)
    for batch in _traffic():
        store.insert("model_calls", batch)
    window = (T0, T0 + timedelta(minutes=2))
    for per in ("minute", "total"):
        rollup = health_report(store, "deployment", *window, per)
        assert rollup == health_report(store, "deployment", *window, per, source="raw")
    fast, slow = health_report(store, "deployment", *window, "total")
    assert (fast["key"], fast["calls"], fast["cache_hits"], fast["p50_ms"], fast["p99_ms"]) == ("fast", 10, 1, 100, 100)
    assert (slow["calls"], slow["errors"], slow["error_rate"], slow["retries"], slow["fallbacks"]) == (2, 1, 0.5, 2, 1)
    assert fast["rps"] == round(10 / 120, 4)
    assert [r["calls"] for r in health_report(store, "deployment", *window, "total", team="b")] == [3]
    day = store.query("SELECT user_id, sum(calls) AS calls, sum(cost_usd) AS cost FROM {db}.model_calls_1d "
                      "GROUP BY user_id ORDER BY user_id")
    assert [(r["user_id"], r["calls"], r["cost"]) for r in day] == [
        ("u1", 11, Decimal("0.001353")), ("u2", 1, Decimal("0.000123"))]


def test_a_replayed_batch_counts_once_in_the_rollups_too(gw_settings):
    store = _store(gw_settings)
    batch = [_call(0, "fast") for _ in range(5)]
    store.insert("model_calls", batch, dedup_token="batch-1")
    store.insert("model_calls", batch, dedup_token="batch-1")  # the writer's spool replays it after a crash
    other = [_call(1, "slow") for _ in range(3)]
    store.insert("model_calls", other)
    store.insert("model_calls", other)  # no token: a byte-identical batch is recognised too
    assert _minute_calls(store) == 8
    assert store.query("SELECT sum(calls) AS n FROM {db}.model_calls_1d")[0]["n"] == 8
    # The limit, documented in 0011: rows replayed in a different grouping are new blocks. model_calls
    # FINAL still counts them once (finance reads it); the rollups count them again.
    store.insert("model_calls", batch[:2], dedup_token="batch-2")
    assert store.query("SELECT count() AS n FROM {db}.model_calls FINAL")[0]["n"] == 8
    assert _minute_calls(store) == 10


def test_the_migration_backfills_rows_stored_before_the_rollups_existed(gw_settings):
    store = _store(gw_settings)
    traffic = _traffic()
    for batch in traffic:
        store.insert("model_calls", batch)
    store.insert("model_calls", traffic[2][:1])  # a regrouped replay: FINAL counts it once
    # back to the schema before 0011 (the data stays), then migrate as an upgraded installation would
    for name in ("model_calls_1m_mv", "model_calls_1d_mv", "model_calls_1m", "model_calls_1d"):
        store.command(f"DROP TABLE {{db}}.{name}")
    store.command("DELETE FROM {db}.schema_migrations WHERE version IN (11, 12)")  # later ones stay applied
    assert store.migrate() == ["0011_rollups.sql", "0012_rollups_backfill.sql"]
    assert _minute_calls(store) == 12
    window = (T0, T0 + timedelta(minutes=2))
    assert health_report(store, "model", *window, "minute") == health_report(store, "model", *window, "minute",
                                                                            source="raw")


def test_the_writers_batch_token_dedupes_a_redelivery_in_another_order(gw_settings):
    """The stream redelivers unacknowledged events, not necessarily in the order first inserted: the
    writer's token is a hash of the sorted ids, so the rollups still count them once."""
    from gateway.store.writer import insert_batch

    store = _store(gw_settings)
    rows = [_call(0, "fast") for _ in range(6)]
    assert insert_batch(store, [("model_calls", r) for r in rows])
    assert insert_batch(store, [("model_calls", r) for r in reversed(rows)])
    assert _minute_calls(store) == 6
    assert store.query("SELECT count() AS n FROM {db}.model_calls")[0]["n"] == 6  # even without FINAL
