"""The store writer: the only writer of the store. Services `emit` rows; a thread batches them into
ClickHouse by size or interval, off the request path.

Batches: FACTS.md measured ~400 rows/s for single-row inserts into chDB and ~30k rows/s in batches of
100, and tiny inserts leave thousands of parts, so rows are grouped per table before inserting.
A failed insert keeps its batch and retries with backoff: nothing acknowledged is dropped, and rows
carry idempotent ids so a retried batch that did land is harmless.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import defaultdict

from gateway.store.client import Store
from gateway.telemetry import logged_text

log = logging.getLogger("resumeopt.store.writer")


class TelemetryWriter:
    def __init__(self, store: Store, batch_size: int = 500, flush_interval_s: float = 0.5,
                 max_pending: int = 100_000, prepare: dict | None = None):
        self._store = store
        # per table: row -> row, run here, off the request path
        self._prepare = prepare if prepare is not None else {"model_calls": logged_text}
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

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every row emitted before this call is in the store. True when it got there."""
        with self._cond:
            target = self._emitted
            return self._cond.wait_for(lambda: self._written >= target, timeout=timeout)

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def stats(self) -> dict[str, int]:
        return {"pending": self._queue.qsize(), "written": self._written, "dropped": self._dropped}

    def _run(self) -> None:
        while not (self._stop.is_set() and self._queue.empty()):
            batch = self._collect()
            if batch:
                self._write(batch)

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

    def _write(self, batch: list[tuple[str, dict]]) -> None:
        by_table: dict[str, list[dict]] = defaultdict(list)
        for table, row in batch:
            prepare = self._prepare.get(table)
            by_table[table].append(prepare(row) if prepare else row)
        backoff = 0.1
        while True:
            try:
                for table, rows in by_table.items():
                    self._store.insert(table, rows)
                break
            except Exception as exc:  # store refusing writes: keep the batch, retry; never drop it
                log.warning("store insert failed (%s); retrying in %.1fs", type(exc).__name__, backoff)
                if self._stop.wait(backoff) and backoff >= 5:
                    log.error("store still refusing writes at shutdown: %d rows kept unwritten", len(batch))
                    return
                backoff = min(backoff * 2, 5.0)
        with self._cond:
            self._written += len(batch)
            self._cond.notify_all()
