"""The telemetry queue of the scaled shape: one Redis Stream shared by every gateway replica.

`StreamSink` is what a replica emits into. `emit` only appends to a buffer; a task on the event loop sends
the buffer to the stream in one pipelined XADD per round (group commit), and `durable()` resolves once the
rows emitted so far are in Redis. The API awaits it before answering, so a replica killed with SIGKILL
loses no call it answered. When Redis refuses, rows go to the replica's durable local spool (same format
and rules as the store writer's) and are forwarded, oldest first, when Redis is back.

`StreamConsumer` is the store writer's side: a consumer group reads the stream, inserts each batch, and
acknowledges (XACK, then XDEL to keep the stream short) only after the insert succeeded. While the store
refuses writes the batch is retried, in order, and every later event waits in the stream: nothing is
dropped, nothing is reordered. Entries a dead writer left unacknowledged are claimed after `claim_idle_s`;
a writer restarted under the same name re-reads its own at once. Rows carry idempotent ids and the tables
are read with FINAL, so an insert whose acknowledgement was lost counts once.

Past `max_backlog` entries the backlog is reported (log, /healthz, /metrics), never trimmed.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import orjson
import redis

from gateway.store.client import Store
from gateway.store.spool import Spool
from gateway.store.writer import PREPARE, insert_batch, prepared

log = logging.getLogger("resumeopt.store.stream")

GROUP = "store-writer"
_OPTS = orjson.OPT_PASSTHROUGH_DATETIME


def stream_key(prefix: str) -> str:
    return f"{prefix}telemetry"


def encode(table: str, row: dict) -> bytes:
    """A row as stream payload. Decimals and datetimes are tagged so they come back as themselves
    (a cost must reach the Decimal column exactly, never through a float)."""
    return orjson.dumps({"t": table, "r": row}, default=_tag, option=_OPTS)


def decode(payload: bytes) -> tuple[str, dict]:
    event = orjson.loads(payload)
    row = event["r"]
    for key, value in row.items():
        if type(value) is dict:
            if "$dec" in value:
                row[key] = Decimal(value["$dec"])
            elif "$ts" in value:
                row[key] = datetime.fromisoformat(value["$ts"])
        elif key == "_log":
            row[key] = (value[0], tuple(value[1]))
    return event["t"], row


def _tag(value):
    if isinstance(value, Decimal):
        return {"$dec": str(value)}
    if isinstance(value, datetime):
        return {"$ts": value.isoformat()}
    raise TypeError(f"cannot encode {type(value).__name__} for the telemetry stream")


def _id(entry_id: bytes | str) -> tuple[int, int]:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


class StreamSink:
    """A replica's end of the telemetry stream. Same surface as TelemetryWriter (emit, durable, flush,
    stats, start, aclose). Sending runs on the event loop (redis.asyncio), so a round costs no hand-off to
    a thread that would wait for the GIL behind the loop. `make bench` with `--stream-telemetry` compares it
    with the in-process queue (figures in the issue-5 note)."""

    def __init__(self, redis_url: str, prefix: str, spool_dir: Path, max_backlog: int = 1_000_000,
                 max_spool_bytes: int = 1 << 30):
        self._url = redis_url
        self._sync = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=1)
        self._redis = None  # redis.asyncio client, made on the loop in `start`
        self.key = stream_key(prefix)
        self._spool = Spool(spool_dir)
        self._spooled = not self._spool.empty()  # an earlier process's rows wait to be forwarded
        self._max_backlog = max_backlog
        self._max_spool_bytes = max_spool_bytes
        self._buffer: list[bytes] = []
        self._next: asyncio.Future | None = None      # resolves when the buffered rows are sent
        self._in_flight: asyncio.Future | None = None  # the round being sent now
        self._task: asyncio.Task | None = None
        self._forwarder: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread_id = 0
        self._last_id: tuple[int, int] = (0, 0)
        self._sent = 0

    def start(self) -> None:
        """Call on the event loop that serves requests."""
        import redis.asyncio as aioredis

        self._loop = asyncio.get_running_loop()
        self._thread_id = threading.get_ident()
        self._redis = aioredis.Redis.from_url(self._url, socket_timeout=2, socket_connect_timeout=1)
        if self._spooled:
            self._forwarder = self._loop.create_task(self._forward_spool())

    def emit(self, table: str, row: dict) -> None:
        payload = encode(table, row)
        if threading.get_ident() == self._thread_id:
            self._append(payload)
        else:  # a sync route handler in the thread pool (audit, scores)
            self._loop.call_soon_threadsafe(self._append, payload)

    def _append(self, payload: bytes) -> None:
        self._buffer.append(payload)
        if self._next is None:
            self._next = self._loop.create_future()
        if self._task is None:
            self._task = self._loop.create_task(self._send_rounds())

    def durable(self) -> asyncio.Future:
        """Resolves when every row emitted so far is in the stream (or the local spool)."""
        waiting = self._next if self._buffer else self._in_flight
        if waiting is None or waiting.done():
            waiting = self._loop.create_future()
            waiting.set_result(None)
        return asyncio.shield(waiting)

    async def _send_rounds(self) -> None:
        try:
            while self._buffer:
                await asyncio.sleep(0)  # let this loop iteration's other answers join the round
                batch, self._buffer = self._buffer, []
                self._in_flight, self._next = self._next, None
                try:
                    await self._send(batch)
                except Exception:  # e.g. the spool's disk is full: say so, never hang the answers
                    log.exception("telemetry: %d rows could be neither streamed nor spooled", len(batch))
                finally:
                    self._in_flight.set_result(None)
        finally:
            self._task = None

    async def _send(self, batch: list[bytes]) -> None:
        if not self._spooled and await self._xadd(batch):
            return
        await asyncio.to_thread(self._spool.append, [("stream", {"payload": p}) for p in batch])
        self._spooled = True
        _, size = self._spool.stats()
        log.error("telemetry stream unreachable: %d rows spooled locally (%d bytes%s)", len(batch), size,
                  ", past the bound" if size > self._max_spool_bytes else "")
        if self._forwarder is None or self._forwarder.done():
            self._forwarder = self._loop.create_task(self._forward_spool())

    async def _forward_spool(self) -> None:
        """Oldest first, until the spool is empty; every 0.5 s while Redis refuses."""
        while True:
            item = await asyncio.to_thread(self._spool.oldest)
            if item is None:
                self._spooled = False
                return
            path, rows = item
            if not await self._xadd([r["payload"] for _, r in rows]):
                await asyncio.sleep(0.5)
                continue
            self._spool.remove(path)

    async def _xadd(self, batch: list[bytes]) -> bool:
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for payload in batch:
                    pipe.xadd(self.key, {"e": payload})
                ids = await pipe.execute()
        except (redis.RedisError, OSError) as exc:
            log.warning("XADD to the telemetry stream failed (%s)", type(exc).__name__)
            return False
        self._last_id = max(self._last_id, _id(ids[-1]))
        self._sent += len(ids)
        return True

    async def aclose(self) -> None:
        """Send what is buffered (to the stream or the spool), then close."""
        while self._task is not None:
            await asyncio.shield(self._task)
        if self._forwarder is not None:
            self._forwarder.cancel()
        await self._redis.aclose()
        self._sync.close()

    def flush(self, timeout: float = 10.0) -> bool:
        """Read-your-writes, from a thread (not the loop): wait until the store writer has inserted every
        row emitted so far."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._buffer and self._task is None and not self._spooled and self._consumed(self._last_id):
                return True
            time.sleep(0.02)
        return False

    def stats(self) -> dict[str, int]:
        batches, size = self._spool.stats()
        try:
            backlog = int(self._sync.xlen(self.key))
        except redis.RedisError:
            backlog = -1
        return {"pending": len(self._buffer) + max(backlog, 0), "written": self._sent, "dropped": 0,
                "spooled_batches": batches, "spooled_bytes": size, "stream_backlog": backlog,
                "spool_over_bound": int(size > self._max_spool_bytes or backlog > self._max_backlog)}

    def _consumed(self, last: tuple[int, int]) -> bool:
        if last == (0, 0):
            return True
        try:
            groups = self._sync.xinfo_groups(self.key)
            group = next((g for g in groups if g["name"] in (GROUP, GROUP.encode())), None)
            if group is None or _id(group["last-delivered-id"]) < last:
                return False
            pending = self._sync.xpending(self.key, GROUP)
        except redis.RedisError:
            return False
        return pending["pending"] == 0 or _id(pending["min"]) > last


class StreamConsumer:
    """The store writer reading the stream: insert, then acknowledge. One per store."""

    def __init__(self, store: Store, redis_url: str, prefix: str, name: str | None = None,
                 batch_size: int = 500, block_ms: int = 500, claim_idle_s: float = 60.0,
                 prepare: dict | None = None):
        self._store = store
        self._redis = redis.Redis.from_url(redis_url, socket_timeout=max(5.0, block_ms / 1000 + 2),
                                           socket_connect_timeout=1)
        self.key = stream_key(prefix)
        self.name = name or socket.gethostname()
        self._batch_size = batch_size
        self._block_ms = block_ms
        self._claim_idle_ms = int(claim_idle_s * 1000)
        self._prepare = prepare if prepare is not None else PREPARE
        self._backoff = 0.1
        self.written = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.run, name="store-writer-stream", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop_soon(self) -> None:
        """From a signal handler: `run` returns after the batch in hand."""
        self._stop.set()

    def stop(self, timeout: float = 15.0) -> None:
        """Finish the batch in hand (insert and acknowledge), then return. Unread events stay in the stream."""
        self._stop.set()
        self._thread.join(timeout)

    def run(self) -> None:
        self._ensure_group()
        own_pending = True  # a writer restarted under its name first re-reads what it had not acknowledged
        while not self._stop.is_set():
            try:
                entries = self._read(own_pending)
            except redis.ResponseError as exc:  # e.g. NOGROUP: the stream was deleted under us
                log.warning("reading the telemetry stream failed (%s): recreating the group", exc)
                self._stop.wait(1.0)
                self._ensure_group()
                continue
            except redis.RedisError as exc:
                log.warning("reading the telemetry stream failed (%s)", type(exc).__name__)
                self._stop.wait(1.0)
                continue
            if own_pending and not entries:
                own_pending = False
                continue
            if entries:
                self._store_batch(entries)
        self._redis.close()

    def _ensure_group(self) -> None:
        while not self._stop.is_set():
            try:
                self._redis.xgroup_create(self.key, GROUP, id="0", mkstream=True)
                return
            except redis.ResponseError as exc:
                if "BUSYGROUP" in str(exc):
                    return
                raise
            except redis.RedisError as exc:
                log.warning("telemetry stream unreachable (%s): retrying", type(exc).__name__)
                self._stop.wait(1.0)

    def _read(self, own_pending: bool) -> list[tuple[bytes, dict]]:
        if own_pending:
            reply = self._redis.xreadgroup(GROUP, self.name, {self.key: "0"}, count=self._batch_size)
            return [e for e in reply[0][1] if e[1]] if reply else []  # a deleted entry comes back empty
        _, claimed, _ = self._redis.xautoclaim(self.key, GROUP, self.name, self._claim_idle_ms,
                                               count=self._batch_size)
        if claimed:
            log.warning("claimed %d telemetry events a stopped writer left unacknowledged", len(claimed))
            return [e for e in claimed if e[1]]
        reply = self._redis.xreadgroup(GROUP, self.name, {self.key: ">"}, count=self._batch_size,
                                       block=self._block_ms)
        entries = reply[0][1] if reply else []
        # Linger up to the flush interval for a fuller batch: one insert per event would leave thousands
        # of parts and cost the writer more CPU than the events themselves.
        deadline = time.monotonic() + self._block_ms / 1000
        while entries and len(entries) < self._batch_size and not self._stop.is_set():
            wait_ms = int((deadline - time.monotonic()) * 1000)
            if wait_ms <= 0:
                break
            more = self._redis.xreadgroup(GROUP, self.name, {self.key: ">"}, count=self._batch_size - len(entries),
                                          block=wait_ms)
            if more:
                entries += more[0][1]
        return entries

    def _store_batch(self, entries: list[tuple[bytes, dict]]) -> None:
        batch, poison = [], []
        for entry_id, fields in entries:
            try:
                batch += prepared([decode(fields[b"e"])], self._prepare)
            except Exception as exc:  # not one of ours: set aside, never block the stream behind it
                log.error("telemetry event %s is unreadable (%s): moved to %s:dead", entry_id, type(exc).__name__,
                          self.key)
                poison.append((entry_id, fields))
        if poison:
            pipe = self._redis.pipeline(transaction=False)
            for _, fields in poison:
                pipe.xadd(f"{self.key}:dead", fields)
            pipe.execute()
        # Retried in place until the store takes it: later events wait behind it in the stream. A stop
        # request during an outage leaves the batch unacknowledged for the next writer.
        while not insert_batch(self._store, batch):
            if self._stop.wait(self._backoff):
                log.error("store refusing writes at shutdown: %d events stay unacknowledged in %s",
                          len(entries), self.key)
                return
            self._backoff = min(self._backoff * 2, 5.0)
        self._backoff = 0.1
        ids = [entry_id for entry_id, _ in entries]
        pipe = self._redis.pipeline(transaction=True)
        pipe.xack(self.key, GROUP, *ids)
        pipe.xdel(self.key, *ids)
        try:
            pipe.execute()
        except redis.RedisError as exc:  # inserted but not acknowledged: redelivered, and FINAL dedupes it
            log.warning("acknowledging %d telemetry events failed (%s)", len(ids), type(exc).__name__)
        self.written += len(ids)
