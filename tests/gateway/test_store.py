"""The store: idempotent migrations, and a writer that loses nothing while ClickHouse refuses writes."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from gateway.store import queries
from gateway.store.client import Store
from gateway.store.writer import TelemetryWriter
from gateway.telemetry import Attribution, CallRecord
from tests.support import wait_for


def _store(gw_settings) -> Store:
    store = Store(gw_settings.resolved_store_dsn(), gw_settings.store_database)
    store.migrate()
    return store


def _row(request_id: str, cost: str = "0.000125", tokens: int = 10) -> dict:
    rec = CallRecord(Attribution(request_id, agent="writer"), "local-smol", "local-llama", "local",
                     input_tokens=tokens, output_tokens=tokens, cost_usd=Decimal(cost))
    return rec.row()


def test_migrations_apply_once(gw_settings):
    store = Store(gw_settings.resolved_store_dsn(), gw_settings.store_database)
    first = store.migrate()
    assert first[:3] == ["0001_model_calls.sql", "0002_scores.sql", "0003_optimisations.sql"]
    assert first == sorted(first)
    assert store.migrate() == []


def test_writer_batches_and_flush_makes_rows_readable(gw_settings):
    store = _store(gw_settings)
    writer = TelemetryWriter(store, batch_size=50, flush_interval_s=0.05)
    writer.start()
    for _ in range(120):
        writer.emit("model_calls", _row("req-batch"))
    assert writer.flush(timeout=20)
    writer.stop()
    usage = queries.usage_for_request(store, "req-batch")
    assert usage["calls"] == 120
    assert usage["cost_usd"] == "0.015"  # 120 x 0.000125, exact: Decimal end to end


def test_writer_keeps_rows_while_table_refuses_writes_then_lands_them_once(gw_settings):
    store = _store(gw_settings)
    writer = TelemetryWriter(store, batch_size=10, flush_interval_s=0.05)
    writer.start()
    store.command("DETACH TABLE {db}.model_calls")
    for _ in range(30):
        writer.emit("model_calls", _row("req-outage"))
    assert not writer.flush(timeout=0.5)  # the store refuses: nothing can have landed
    store.command("ATTACH TABLE {db}.model_calls")
    assert writer.flush(timeout=30)
    writer.stop()
    assert queries.usage_for_request(store, "req-outage")["calls"] == 30


def test_replayed_rows_do_not_double_count(gw_settings):
    store = _store(gw_settings)
    rows = [_row("req-replay") for _ in range(5)]
    store.insert("model_calls", rows)
    store.insert("model_calls", rows)  # the same batch again, as after a retried insert
    assert queries.usage_for_request(store, "req-replay")["calls"] == 5


def test_cost_report_groups_by_model_and_day(gw_settings):
    store = _store(gw_settings)
    store.insert("model_calls", [_row("r1", "0.5"), _row("r2", "0.25")])
    by_model = queries.cost_report(store, "model", None, None)
    assert by_model == [{"key": "local-smol", "calls": 2, "input_tokens": 20, "output_tokens": 20,
                         "cost_usd": "0.75", "errors": 0, "avg_latency_ms": 0.0}]
    by_day = queries.cost_report(store, "day", None, None)
    assert by_day[0]["key"] == datetime.now(UTC).date().isoformat()


def _count(store: Store, request_id: str) -> tuple[int, int]:
    row = store.query("SELECT count() AS n, uniqExact(call_id) AS ids FROM {db}.model_calls FINAL "
                      "WHERE request_id = {r:String}", {"r": request_id})[0]
    return row["n"], row["ids"]


def test_ten_thousand_rows_through_an_outage_land_exactly_once(gw_settings, tmp_path):
    store = _store(gw_settings)
    writer = TelemetryWriter(store, batch_size=500, flush_interval_s=0.05, spool_dir=tmp_path / "spool")
    writer.start()
    for i in range(10_000):
        if i == 2_000:
            store.command("DETACH TABLE {db}.model_calls")  # ClickHouse refuses writes from here ...
        if i == 7_000:
            wait_for(lambda: writer.stats()["spooled_batches"] > 0, timeout=30, what="batches in the spool")
            store.command("ATTACH TABLE {db}.model_calls")  # ... until here
        writer.emit("model_calls", _row("req-10k"))
    assert writer.flush(timeout=60)
    writer.stop()
    assert _count(store, "req-10k") == (10_000, 10_000)
    assert writer.stats()["spooled_batches"] == 0 and writer.stats()["dropped"] == 0


def test_a_stop_during_an_outage_leaves_a_spool_the_next_writer_replays(gw_settings, tmp_path):
    store = _store(gw_settings)
    first = TelemetryWriter(store, batch_size=100, flush_interval_s=0.05, spool_dir=tmp_path / "spool")
    first.start()
    store.command("DETACH TABLE {db}.model_calls")
    for _ in range(1_000):
        first.emit("model_calls", _row("req-restart"))
    first.stop()  # SIGTERM's path: the queue is drained into the spool, nothing is lost
    assert first.stats()["spooled_batches"] >= 1 and first.stats()["pending"] == 0
    store.command("ATTACH TABLE {db}.model_calls")
    second = TelemetryWriter(store, batch_size=100, flush_interval_s=0.05, spool_dir=tmp_path / "spool")
    second.start()
    second.emit("model_calls", _row("req-after"))
    assert second.flush(timeout=30)  # its own row; the inherited ones do not count towards it
    wait_for(lambda: second.stats()["spooled_batches"] == 0, timeout=30, what="the spool replayed")
    second.stop()
    assert _count(store, "req-restart") == (1_000, 1_000) and _count(store, "req-after") == (1, 1)


def test_a_batch_mixing_row_shapes_lands_whole(gw_settings):
    """A producer that sets an optional column (or an older one that does not) must not poison the batch
    of every other row: each shape goes in with its own columns, the rest take their defaults."""
    store = _store(gw_settings)
    full = _row("req-shapes")
    short = {k: v for k, v in _row("req-shapes").items() if k not in ("prompt", "completion", "key_id")}
    store.insert("model_calls", [full, short, _row("req-shapes")], dedup_token="shapes")
    assert queries.usage_for_request(store, "req-shapes")["calls"] == 3
    store.insert("model_calls", [full, short, _row("req-shapes")], dedup_token="shapes")  # a replay
    assert store.query("SELECT count() AS n FROM {db}.model_calls WHERE request_id = 'req-shapes'")[0]["n"] == 3
