"""A durable local spool for telemetry the store refused: one file per batch, in order.

Written atomically (temporary file, fsync, rename), replayed oldest first, deleted only after its insert
succeeded. Rows carry idempotent ids (`call_id`, `score_id`, ...) and the tables are ReplacingMergeTree
read with FINAL, so a batch replayed twice (a crash between insert and delete) never counts twice.
Pickle is the format: the spool is this process's own private files, never input from elsewhere.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path


class Spool:
    def __init__(self, directory: Path):
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.inherited = set(self._files())  # left by an earlier process: not this process's rows
        self._next = max((int(p.stem) for p in self.inherited), default=0) + 1

    def _files(self) -> list[Path]:
        return sorted(self.dir.glob("*.batch"))

    def append(self, batch: list[tuple[str, dict]]) -> None:
        path = self.dir / f"{self._next:016d}.batch"
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as fh:
            pickle.dump(batch, fh, protocol=pickle.HIGHEST_PROTOCOL)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        self._next += 1

    def empty(self) -> bool:
        return not self._files()

    def oldest(self) -> tuple[Path, list[tuple[str, dict]]] | None:
        files = self._files()
        if not files:
            return None
        with open(files[0], "rb") as fh:
            return files[0], pickle.load(fh)

    def remove(self, path: Path) -> None:
        path.unlink(missing_ok=True)

    def stats(self) -> tuple[int, int]:
        """(batches, bytes) waiting."""
        files = self._files()
        return len(files), sum(f.stat().st_size for f in files)
