"""Job records: status, attempts, owner, notifications and the delivery log, plus each job's progress
events and the Idempotency-Key map. In process (embedded default) or in Redis (every API replica and
worker sees the same jobs).

Every change is a compare-and-set (`update` takes a function of the current record): two workers that
both finish a redelivered job cannot both complete it, and a job deleted while it runs stays deleted.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

FINAL = frozenset({"succeeded", "failed", "dead", "cancelled", "deleted"})
STATUSES = ("queued", "running", "retrying", *sorted(FINAL))
MAX_EVENTS = 200


class JobNotFound(KeyError):
    pass


class Unchanged(Exception):
    """Raised by an update function: leave the record as it is (`update` then returns None)."""


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class JobStore(Protocol):
    def create(self, record: dict, idempotency: str | None, ttl_s: int) -> tuple[dict, bool]: ...
    def get(self, job_id: str) -> dict: ...
    def update(self, job_id: str, change: Callable[[dict], dict]) -> dict | None: ...
    def add_event(self, job_id: str, event: dict) -> None: ...
    def events(self, job_id: str, after: int = 0) -> list[dict]: ...
    def by_user(self, user: str) -> list[str]: ...
    def dead(self) -> list[str]: ...
    def forget(self, job_id: str) -> None: ...


def _indexes(record: dict) -> tuple[str, bool]:
    return record.get("user_id") or "", record["status"] == "dead"


class MemoryJobStore:
    def __init__(self) -> None:
        self._jobs: dict[str, dict] = {}
        self._events: dict[str, list[dict]] = {}
        self._idem: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def create(self, record, idempotency, ttl_s):
        with self._lock:
            if idempotency:
                held = self._idem.get(idempotency)
                if held and held[1] > time.monotonic() and held[0] in self._jobs:
                    return json.loads(json.dumps(self._jobs[held[0]])), False
                self._idem[idempotency] = (record["id"], time.monotonic() + ttl_s)
            self._jobs[record["id"]] = json.loads(json.dumps(record))
            self._events[record["id"]] = []
            return record, True

    def get(self, job_id):
        with self._lock:
            if job_id not in self._jobs:
                raise JobNotFound(job_id)
            return json.loads(json.dumps(self._jobs[job_id]))

    def update(self, job_id, change):
        with self._lock:
            if job_id not in self._jobs:
                raise JobNotFound(job_id)
            try:
                new = change(json.loads(json.dumps(self._jobs[job_id])))
            except Unchanged:
                return None
            new["updated_at"] = now_iso()
            self._jobs[job_id] = new
            return json.loads(json.dumps(new))

    def add_event(self, job_id, event):
        with self._lock:
            events = self._events.setdefault(job_id, [])
            events.append(event)
            del events[:-MAX_EVENTS]

    def events(self, job_id, after=0):
        with self._lock:
            return list(self._events.get(job_id, [])[after:])

    def by_user(self, user):
        with self._lock:
            return [j for j, r in self._jobs.items() if r.get("user_id") == user]

    def dead(self):
        with self._lock:
            return [j for j, r in self._jobs.items() if r["status"] == "dead"]

    def forget(self, job_id):
        with self._lock:
            self._jobs.pop(job_id, None)
            self._events.pop(job_id, None)


class RedisJobStore:
    """`<p>job:<id>` JSON record, `<p>job:<id>:events` list, `<p>jobs:user:<user>` and `<p>jobs:dead` sets,
    `<p>idem:<scope>:<key>` -> job id (SET NX with a TTL)."""

    def __init__(self, redis_url: str, prefix: str, record_ttl_s: int = 0):
        import redis

        self.r = redis.Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=2)
        self.p, self.ttl = prefix, record_ttl_s

    def _key(self, job_id: str) -> str:
        return f"{self.p}job:{job_id}"

    def create(self, record, idempotency, ttl_s):
        if idempotency and not self.r.set(f"{self.p}idem:{idempotency}", record["id"], nx=True, ex=ttl_s):
            held = self.r.get(f"{self.p}idem:{idempotency}")
            if held is not None:
                try:
                    return self.get(held.decode()), False
                except JobNotFound:  # the key outlived its job (erased): the new job takes it over
                    self.r.set(f"{self.p}idem:{idempotency}", record["id"], ex=ttl_s)
        with self.r.pipeline() as pipe:
            pipe.set(self._key(record["id"]), json.dumps(record), ex=self.ttl or None)
            self._index(pipe, record)
            pipe.execute()
        return record, True

    def _index(self, pipe, record: dict) -> None:
        user, dead = _indexes(record)
        if user:
            pipe.sadd(f"{self.p}jobs:user:{user}", record["id"])
        (pipe.sadd if dead else pipe.srem)(f"{self.p}jobs:dead", record["id"])

    def get(self, job_id):
        raw = self.r.get(self._key(job_id))
        if raw is None:
            raise JobNotFound(job_id)
        return json.loads(raw)

    def update(self, job_id, change):
        import redis

        key = self._key(job_id)
        with self.r.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    raw = pipe.get(key)
                    if raw is None:
                        raise JobNotFound(job_id)
                    try:
                        new = change(json.loads(raw))
                    except Unchanged:
                        return None
                    new["updated_at"] = now_iso()
                    pipe.multi()
                    pipe.set(key, json.dumps(new), keepttl=True)
                    self._index(pipe, new)
                    pipe.execute()
                    return new
                except redis.WatchError:  # another writer changed it first: re-read and decide again
                    continue

    def add_event(self, job_id, event):
        key = f"{self._key(job_id)}:events"
        with self.r.pipeline(transaction=False) as pipe:
            pipe.rpush(key, json.dumps(event))
            pipe.ltrim(key, -MAX_EVENTS, -1)
            pipe.expire(key, self.ttl or 7 * 86_400)
            pipe.execute()

    def events(self, job_id, after=0):
        return [json.loads(e) for e in self.r.lrange(f"{self._key(job_id)}:events", after, -1)]

    def by_user(self, user):
        return sorted(m.decode() for m in self.r.smembers(f"{self.p}jobs:user:{user}"))

    def dead(self):
        return sorted(m.decode() for m in self.r.smembers(f"{self.p}jobs:dead"))

    def forget(self, job_id):
        try:
            user = self.get(job_id).get("user_id") or ""
        except JobNotFound:
            user = ""
        with self.r.pipeline() as pipe:
            pipe.delete(self._key(job_id), f"{self._key(job_id)}:events")
            pipe.srem(f"{self.p}jobs:dead", job_id)
            if user:
                pipe.srem(f"{self.p}jobs:user:{user}", job_id)
            pipe.execute()


def public_view(record: dict[str, Any]) -> dict[str, Any]:
    """What a client sees of its job: never the webhook secret."""
    return {k: v for k, v in record.items() if k not in ("webhook_secret", "body_hash")}
