"""The store writer: the only writer of the store. Services `emit` rows; a thread batches them into
ClickHouse by size or interval, off the request path.

Batches: FACTS.md measured ~400 rows/s for single-row inserts into chDB and ~30k rows/s in batches of
100, and tiny inserts leave thousands of parts, so rows are grouped per table before inserting.
When the store refuses a batch, the batch goes to the durable spool (gateway/store/spool.py) and every
later batch follows it there, so rows land in the order they were emitted; the spool is replayed, oldest
first, as soon as the store accepts again, and at start-up after a crash or a stop during an outage.
Rows carry idempotent ids, so a batch replayed twice is harmless. Past `max_spool_bytes` the writer
says so loudly (log, /healthz, /metrics) but keeps spooling: telemetry is never dropped for space.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Awaitable
from pathlib import Path

from gateway.store.client import Store
from gateway.store.spool import Spool
from gateway.telemetry import logged_text

log = logging.getLogger("resumeopt.store.writer")


class _Done:
    def __await__(self):
        return iter(())


_DONE = _Done()


class TelemetryWriter:
    def __init__(self, store: Store, batch_size: int = 500, flush_interval_s: float = 0.5,
                 max_pending: int = 100_000, prepare: dict | None = None, spool_dir: Path | None = None,
                 max_spool_bytes: int = 1 << 30):
        self._store = store
        self._spool = Spool(spool_dir) if spool_dir is not None else None
        self._max_spool_bytes = max_spool_bytes
        self._backoff = 0.1
        self._prepare = prepare if prepare is not None else PREPARE
        self._batch_size = batch_size
        self._interval = flush_interval_s
        self._queue: queue.Queue[tuple[str, dict]] = queue.Queue(maxsize=max_pending)
        self._emitted = 0
        self._written = 0
        self._dropped = 0
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="store-writer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def emit(self, table: str, row: dict) -> None:
        """Never blocks the caller. Past the bound the row is counted as dropped and logged loudly."""
        try:
            self._queue.put_nowait((table, row))
        except queue.Full:
            self._dropped += 1
            log.error("telemetry backlog full (%d rows): row for %s dropped", self._queue.maxsize, table)
            return
        with self._cond:
            self._emitted += 1

    def durable(self) -> Awaitable[None]:
        """In-process rows are as durable as this process: a SIGTERM flushes them (`stop`); the
        Redis-Stream sink (gateway/store/stream.py) is the shape that survives SIGKILL."""
        return _DONE

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every row emitted before this call is in the store. True when it got there."""
        with self._cond:
            target = self._emitted
            return self._cond.wait_for(lambda: self._written >= target, timeout=timeout)

    async def aclose(self) -> None:
        await asyncio.to_thread(self.stop)

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def stats(self) -> dict[str, int]:
        batches, size = self._spool.stats() if self._spool is not None else (0, 0)
        return {"pending": self._queue.qsize(), "written": self._written, "dropped": self._dropped,
                "spooled_batches": batches, "spooled_bytes": size, "spool_over_bound": int(size > self._max_spool_bytes)}

    def _run(self) -> None:
        self._replay(final=False)  # what an earlier process left behind
        while not (self._stop.is_set() and self._queue.empty()):
            batch = self._collect()
            if batch:
                self._write(batch)
            elif self._spooled():
                self._replay(final=False)
        self._replay(final=True)

    def _collect(self) -> list[tuple[str, dict]]:
        batch: list[tuple[str, dict]] = []
        deadline = time.monotonic() + self._interval
        while len(batch) < self._batch_size:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or (self._stop.is_set() and self._queue.empty()):
                break
            try:
                batch.append(self._queue.get(timeout=min(remaining, 0.05)))
            except queue.Empty:
                if batch and self._queue.empty():
                    break
        return batch

    def _spooled(self) -> bool:
        return self._spool is not None and not self._spool.empty()

    def _write(self, batch: list[tuple[str, dict]]) -> None:
        batch = prepared(batch, self._prepare)  # before the spool: raw prompts never reach the disk
        if self._spool is not None:
            if self._spooled():           # older rows wait there: keep the order
                self._spool.append(batch)
                self._replay(final=False)
                return
            if self._insert(batch):
                self._landed(len(batch))
            else:
                self._spool.append(batch)
                self._over_bound()
            return
        while not self._insert(batch):   # no spool configured: hold the batch and retry
            if self._stop.wait(self._backoff) and self._backoff >= 5:
                log.error("store still refusing writes at shutdown: %d rows kept unwritten", len(batch))
                return
            self._backoff = min(self._backoff * 2, 5.0)
        self._landed(len(batch))

    def _replay(self, final: bool) -> None:
        """Insert spooled batches oldest first until the spool is empty or the store refuses again."""
        if self._spool is None:
            return
        while (item := self._spool.oldest()) is not None:
            path, batch = item
            if not self._insert(batch):
                if final:
                    log.error("store refusing writes at shutdown: %d batches stay in the spool at %s",
                              self._spool.stats()[0], self._spool.dir)
                    return
                self._stop.wait(self._backoff)  # back off, but keep draining the queue into the spool
                self._backoff = min(self._backoff * 2, 5.0)
                return
            self._spool.remove(path)
            if path in self._spool.inherited:
                log.info("replayed %d rows an earlier process spooled", len(batch))
            else:
                self._landed(len(batch))

    def _insert(self, batch: list[tuple[str, dict]]) -> bool:
        if not insert_batch(self._store, batch):
            return False
        self._backoff = 0.1
        return True

    def _landed(self, n: int) -> None:
        with self._cond:
            self._written += n
            self._cond.notify_all()

    def _over_bound(self) -> None:
        batches, size = self._spool.stats()
        if size > self._max_spool_bytes:
            log.error("telemetry spool past its bound: %d batches, %d bytes at %s (still kept)",
                      batches, size, self._spool.dir)


# Per table: row -> row, run by the writer's thread, off the request path (the logging mode's redaction).
PREPARE = {"model_calls": logged_text}


def prepared(batch: list[tuple[str, dict]], prepare: dict) -> list[tuple[str, dict]]:
    return [(table, prepare[table](row) if table in prepare else row) for table, row in batch]


# The idempotent id of each table's rows: a batch's token is a hash of its ids, sorted, so a replay of the
# same rows (the spool's, or the stream's redelivery, in any order) is dropped by the table and by the
# rollups its materialized views feed (migration 0011 keeps a deduplication window).
ROW_IDS = {"model_calls": "call_id", "scores": "score_id", "audit": "audit_id", "optimisations": "request_id"}


def insert_batch(store: Store, batch: list[tuple[str, dict]]) -> bool:
    """Insert a batch, grouped per table. False when the store refused it (the caller keeps the batch)."""
    by_table: dict[str, list[dict]] = defaultdict(list)
    for table, row in batch:
        by_table[table].append(row)
    try:
        for table, rows in by_table.items():
            store.insert(table, rows, dedup_token=batch_token(table, rows))
    except Exception as exc:  # the store refusing writes
        log.warning("store insert failed (%s)", type(exc).__name__)
        return False
    return True


def batch_token(table: str, rows: list[dict]) -> str | None:
    key = ROW_IDS.get(table)
    if key is None or any(key not in r for r in rows):
        return None
    digest = hashlib.sha256("\n".join(sorted(str(r[key]) for r in rows)).encode()).hexdigest()
    return f"{table}:{digest[:32]}"
