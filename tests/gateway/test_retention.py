"""Retention: each table's TTL comes from settings, is applied at start-up only where it differs, and
a row older than it is gone once ClickHouse merges (forced here with OPTIMIZE ... FINAL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gateway.app import create_app
from gateway.store.client import Store
from gateway.store.retention import apply_retention
from gateway.telemetry import Attribution, CallRecord

FOREVER = {"model_calls": 0, "scores": 0, "optimisations": 0, "audit": 0, "model_calls_1m": 0, "model_calls_1d": 0}


def _store(gw_settings) -> Store:
    store = Store(gw_settings.resolved_store_dsn(), gw_settings.store_database)
    store.migrate()
    return store


def _call(days_ago: int) -> dict:
    rec = CallRecord(Attribution(f"r-{days_ago}", team="t"), "m", "d")
    rec.ts = datetime.now(UTC) - timedelta(days=days_ago)
    return rec.row()


def _ttl(store: Store, table: str) -> str:
    return store.command(f"SHOW CREATE TABLE {{db}}.{table}")


def test_defaults_keep_raw_and_audit_forever_and_minute_rollups_30_days(gw_settings, base_config):
    days = gw_settings.retention_days()
    assert days == {**FOREVER, "model_calls_1m": 30}
    app = create_app(gw_settings, base_config.with_local_base("http://127.0.0.1:9/v1"))
    store = app.state.store
    assert "TTL minute + toIntervalDay(30)" in _ttl(store, "model_calls_1m")
    forever = ("model_calls", "audit", "scores", "optimisations", "model_calls_1d")
    assert all("TTL" not in _ttl(store, t) for t in forever)
    assert apply_retention(store, days) == []  # a restart with the same settings changes nothing


def test_a_row_older_than_its_ttl_is_dropped_on_merge_and_the_ttl_follows_the_settings(gw_settings):
    store = _store(gw_settings)
    store.insert("model_calls", [_call(40), _call(10), _call(0)])
    assert apply_retention(store, {**FOREVER, "model_calls": 30}) == ["model_calls"]
    assert "TTL toDateTime(ts) + toIntervalDay(30)" in _ttl(store, "model_calls")
    assert apply_retention(store, {**FOREVER, "model_calls": 30}) == []
    store.command("OPTIMIZE TABLE {db}.model_calls FINAL")
    kept = store.query("SELECT request_id FROM {db}.model_calls FINAL ORDER BY ts")
    assert [r["request_id"] for r in kept] == ["r-10", "r-0"]
    # the per-minute rollup had the 40-day-old call too, until its own (default) TTL
    assert apply_retention(store, {**FOREVER, "model_calls": 30, "model_calls_1m": 30}) == ["model_calls_1m"]
    store.command("OPTIMIZE TABLE {db}.model_calls_1m FINAL")
    assert store.query("SELECT sum(calls) AS n FROM {db}.model_calls_1m")[0]["n"] == 2

    assert apply_retention(store, {**FOREVER, "model_calls": 7, "model_calls_1m": 30}) == ["model_calls"]
    assert "toIntervalDay(7)" in _ttl(store, "model_calls")
    assert apply_retention(store, FOREVER) == ["model_calls", "model_calls_1m"]
    assert "TTL" not in _ttl(store, "model_calls") and "TTL" not in _ttl(store, "model_calls_1m")


def test_a_cluster_name_that_is_not_a_name_is_refused_before_it_reaches_ddl():
    import pydantic
    import pytest

    from gateway.settings import GatewaySettings

    assert GatewaySettings(store_cluster="{cluster}").store_cluster == "{cluster}"
    with pytest.raises(pydantic.ValidationError):
        GatewaySettings(store_cluster="prod' ON CLUSTER x")
