"""Versioned records in the `governance` table (keys, per-scope limits), kept in memory for the hot path.

A change is written to the store *synchronously* with its audit row before the caller is answered:
an admin who was told "revoked" must not see the key work after a restart. Reads never touch the
store: every replica holds the whole set in memory and reloads it every `refresh_s` (keys and limits
are thousands of rows, not millions), so a change made on one replica reaches the others within that.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Generic, TypeVar

from pydantic import BaseModel

from gateway.store.client import Store

log = logging.getLogger("resumeopt.store.registry")
T = TypeVar("T", bound=BaseModel)


class Registry(Generic[T]):
    def __init__(self, store: Store, kind: str, model: type[T]):
        self._store, self.kind, self._model = store, kind, model
        self._items: dict[str, T] = {}
        self._lock = threading.Lock()
        self._version = 0
        self._writing = 0  # puts in progress: a load that overlaps one must not replace what it adds

    def load(self) -> None:
        before = self._version
        rows = self._store.query(
            "SELECT id, version, deleted, body FROM {db}.governance FINAL WHERE kind = {kind:String}",
            {"kind": self.kind})
        items = {r["id"]: self._model.model_validate_json(r["body"]) for r in rows if not r["deleted"]}
        with self._lock:
            if self._writing or self._version != before:
                return  # a change was made here while the store was read: this read may predate it
            self._items = items
            self._version = max([before, *(r["version"] for r in rows)])

    def get(self, item_id: str) -> T | None:
        return self._items.get(item_id)

    def all(self) -> list[T]:
        return list(self._items.values())

    def put(self, item_id: str, item: T | None, actor: str, action: str, reason: str = "") -> T | None:
        """Write a new version (None deletes), audit it, then make it visible here. Returns the old one."""
        now = datetime.now(UTC)
        with self._lock:
            version = self._version = max(time.time_ns(), self._version + 1)
            self._writing += 1
        try:
            return self._write(item_id, item, version, now, actor, action, reason)
        finally:
            with self._lock:
                self._writing -= 1

    def _write(self, item_id: str, item: T | None, version: int, now: datetime, actor: str, action: str,
               reason: str) -> T | None:
        before = self._items.get(item_id)
        # exclude_unset: a limit nobody set stays unset, so a plan default under it still applies
        body = item.model_dump_json(exclude_unset=True) if item is not None else "{}"
        self._store.insert("governance", [{"kind": self.kind, "id": item_id, "version": version,
                                           "deleted": int(item is None), "updated_at": now, "body": body}])
        self._store.insert("audit", [{"audit_id": uuid.uuid4().hex, "ts": now, "actor": actor, "action": action,
                                      "target": f"{self.kind}:{item_id}", "before": _public(before),
                                      "after": _public(item), "reason": reason}])
        with self._lock:
            if item is None:
                self._items.pop(item_id, None)
            else:
                self._items[item_id] = item
        return before


def _public(item: BaseModel | None) -> str:
    if item is None:
        return "null"
    data = item.model_dump(mode="json")
    data.pop("hash", None)  # a key's hash is not a secret, but it has no business in the audit trail
    return json.dumps(data, default=str)
