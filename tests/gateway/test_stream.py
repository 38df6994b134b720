"""The scaled shape's telemetry path: replicas XADD to a Redis Stream, the store writer inserts and then
acknowledges. Real Redis (a key prefix of the test's own), real chDB."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import redis

from gateway.local_model import free_port
from gateway.store.client import Store
from gateway.store.stream import GROUP, StreamConsumer, StreamSink, decode, encode, stream_key
from gateway.telemetry import Attribution, CallRecord
from tests.support import clear_redis_prefix, wait_for

URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def prefix():
    p = f"resumeopt-test:{uuid.uuid4().hex[:8]}:"
    yield p
    clear_redis_prefix(p)


@pytest.fixture
def store(gw_settings) -> Store:
    s = Store(gw_settings.resolved_store_dsn(), gw_settings.store_database)
    s.migrate()
    return s


def _row(request_id: str, cost: str = "0.000125") -> dict:
    rec = CallRecord(Attribution(request_id, agent="writer"), "local-smol", "local-llama", "local",
                     input_tokens=10, output_tokens=5, cost_usd=Decimal(cost))
    return rec.row()


def _rows(store: Store, request_id: str) -> tuple[int, int]:
    """(physical rows, distinct call ids): equal when nothing was inserted twice."""
    got = store.query("SELECT count() AS n, uniqExact(call_id) AS u FROM {db}.model_calls "
                      "WHERE request_id = {r:String}", {"r": request_id})[0]
    return got["n"], got["u"]


def test_rows_survive_the_stream_exactly():
    row = _row("req-codec", "0.000000123")
    row["_log"] = ("redacted", ("Ada Lovelace",))
    table, back = decode(encode("model_calls", row))
    assert table == "model_calls"
    assert back["cost_usd"] == Decimal("0.000000123") and isinstance(back["cost_usd"], Decimal)
    assert back["ts"] == row["ts"] and back["ts"].tzinfo is not None
    assert back["_log"] == ("redacted", ("Ada Lovelace",))
    assert back == row


def _with_sink(url: str, prefix: str, spool, body) -> None:
    """Run `body(sink)` on an event loop, as the gateway runs the sink."""
    async def main():
        sink = StreamSink(url, prefix, spool)
        sink.start()
        try:
            await body(sink)
        finally:
            await sink.aclose()
    asyncio.run(main())


def test_sink_to_consumer_to_store_then_the_stream_is_empty(store, prefix, tmp_path):
    consumer = StreamConsumer(store, URL, prefix, name="w-test", batch_size=50, block_ms=50)
    consumer.start()

    async def body(sink):
        for _ in range(300):
            sink.emit("model_calls", _row("req-stream"))
        await sink.durable()
        assert sink.stats()["written"] == 300  # in the stream once durable() resolved
        assert await asyncio.to_thread(sink.flush, 30)

    _with_sink(URL, prefix, tmp_path / "spool", body)
    consumer.stop()
    assert _rows(store, "req-stream") == (300, 300)
    assert redis.Redis().xlen(stream_key(prefix)) == 0  # acknowledged and deleted


def test_rows_emitted_from_another_thread_reach_the_stream(store, prefix, tmp_path):
    async def body(sink):
        await asyncio.to_thread(lambda: [sink.emit("scores", {"n": i}) for i in range(5)])  # a sync handler
        await asyncio.sleep(0)
        await sink.durable()
        assert redis.Redis().xlen(stream_key(prefix)) == 5

    _with_sink(URL, prefix, tmp_path / "spool", body)


def test_events_wait_in_the_stream_while_the_store_refuses_and_land_once(store, prefix, tmp_path):
    consumer = StreamConsumer(store, URL, prefix, name="w-outage", batch_size=20, block_ms=50)
    consumer.start()
    r = redis.Redis()

    async def body(sink):
        store.command("DETACH TABLE {db}.model_calls")
        try:
            for i in range(200):
                sink.emit("model_calls", {**_row("req-refused"), "agent": f"a{i:03d}"})
            await sink.durable()
            await asyncio.to_thread(wait_for, lambda: r.xlen(stream_key(prefix)) == 200, 30, "events in the stream")
            assert not await asyncio.to_thread(sink.flush, 0.3)  # refused: nothing acknowledged
            # only the batch in hand is delivered (and retried in place); the rest waits behind it
            assert 0 < r.xpending(stream_key(prefix), GROUP)["pending"] <= 20
        finally:
            store.command("ATTACH TABLE {db}.model_calls")
        assert await asyncio.to_thread(sink.flush, 60)

    _with_sink(URL, prefix, tmp_path / "spool", body)
    consumer.stop()
    assert _rows(store, "req-refused") == (200, 200)


def test_rows_emitted_while_redis_is_down_are_spooled_then_forwarded(store, prefix, tmp_path):
    dead = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there

    async def down(sink):
        for _ in range(40):
            sink.emit("model_calls", _row("req-redis-down"))
        await sink.durable()  # resolves: the rows are durable in the local spool
        assert sink.stats()["spooled_batches"] >= 1

    _with_sink(dead, prefix, tmp_path / "spool", down)

    # The replica restarts with Redis reachable: the spool goes to the stream, then to the store.
    consumer = StreamConsumer(store, URL, prefix, name="w-after", batch_size=50, block_ms=50)
    consumer.start()

    async def up(sink):
        await asyncio.to_thread(wait_for, lambda: _rows(store, "req-redis-down") == (40, 40), 30, "spooled rows stored")
        assert sink.stats()["spooled_batches"] == 0

    _with_sink(URL, prefix, tmp_path / "spool", up)
    consumer.stop()


def _left_unacknowledged(prefix: str, reader: str, n: int, request_id: str) -> redis.Redis:
    """`n` events that writer `reader` read and then died before inserting."""
    r = redis.Redis()
    key = stream_key(prefix)
    r.xgroup_create(key, GROUP, id="0", mkstream=True)
    for _ in range(n):
        r.xadd(key, {"e": encode("model_calls", _row(request_id))})
    r.xreadgroup(GROUP, reader, {key: ">"}, count=100)
    assert r.xpending(key, GROUP)["pending"] == n
    return r


def test_a_writer_restarted_under_its_name_rereads_what_it_had_not_acknowledged(store, prefix):
    r = _left_unacknowledged(prefix, "w-crashed", 7, "req-unacked")
    consumer = StreamConsumer(store, URL, prefix, name="w-crashed", block_ms=50)
    consumer.start()
    wait_for(lambda: _rows(store, "req-unacked") == (7, 7), timeout=30, what="own pending events stored")
    consumer.stop()
    assert r.xpending(stream_key(prefix), GROUP)["pending"] == 0


def test_events_a_dead_writer_left_are_claimed_by_another(store, prefix):
    _left_unacknowledged(prefix, "w-gone", 5, "req-orphaned")
    consumer = StreamConsumer(store, URL, prefix, name="w-other", block_ms=50, claim_idle_s=0.2)
    consumer.start()
    wait_for(lambda: _rows(store, "req-orphaned") == (5, 5), timeout=30, what="orphaned events claimed")
    consumer.stop()


def test_stream_ts_is_utc():
    row = _row("req-ts")
    assert decode(encode("model_calls", row))[1]["ts"].utcoffset() == datetime.now(UTC).utcoffset()


def test_an_unreadable_event_is_set_aside_and_the_rest_land(store, prefix):
    r = redis.Redis()
    key = stream_key(prefix)
    r.xadd(key, {"e": b"not json"})
    r.xadd(key, {"x": b"no payload field"})
    r.xadd(key, {"e": encode("model_calls", _row("req-after-poison"))})
    consumer = StreamConsumer(store, URL, prefix, name="w-poison", block_ms=50)
    consumer.start()
    wait_for(lambda: _rows(store, "req-after-poison") == (1, 1), timeout=30, what="the good event stored")
    consumer.stop()
    assert r.xlen(f"{key}:dead") == 2 and r.xlen(key) == 0
