"""Exact-match response cache: same request, same team, same answer, byte for byte.

The key covers every field of the request body except the few that cannot change the answer
(`stream_options`, `user`), plus the alias and whether the reply is streamed. An exclusion list, not
an inclusion list: LiteLLM #42400 served wrong answers because a parameter was left out of its key;
a field we have never heard of is in ours. Entries are namespaced per team unless the alias is
shareable. Streamed replies are stored as the exact SSE bytes sent and replayed as a stream.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass
from decimal import Decimal

import orjson
from pydantic import BaseModel, ConfigDict, Field
from redis.exceptions import RedisError

# Fields that do not change what the model answers (OpenAI: `user` is for abuse monitoring only).
NOT_IN_KEY = frozenset({"stream_options", "user"})


class SemanticPolicy(BaseModel):
    """See gateway/semantic_cache.py."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = False
    embedding_model: str = Field("local-smol", description="alias embedded through the gateway itself")
    threshold: float = Field(0.98, gt=0, le=1, description="cosine similarity needed for a hit")
    max_entries: int = Field(1000, ge=1, description="vectors kept per namespace and parameter set")


class CachePolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool = Field(False, description="off by default: a cached answer to a sampled prompt surprises")
    ttl_s: int = Field(3600, ge=1)
    shareable: bool = Field(False, description="one namespace for every team (public, non-personal prompts)")
    max_entries: int = Field(10_000, ge=1, description="in-process backend bound (LRU)")
    max_entry_bytes: int = Field(1_048_576, ge=1, description="larger answers are not cached")
    semantic: SemanticPolicy = Field(default_factory=SemanticPolicy,
                                     description="embedding-similarity lookups on an exact miss (off by default)")


@dataclass(frozen=True, slots=True)
class CacheDirectives:
    """Request `Cache-Control`: no-cache = don't read (still write); no-store = neither; max-age = N."""

    read: bool = True
    write: bool = True
    max_age_s: float | None = None

    @classmethod
    def parse(cls, header: str | None) -> CacheDirectives:
        if not header:
            return cls()
        parts = [p.strip().lower() for p in header.split(",")]
        max_age = next((p.split("=", 1)[1] for p in parts if p.startswith("max-age=")), None)
        try:
            age = float(max_age) if max_age is not None else None
        except ValueError:
            age = None
        return cls(read="no-cache" not in parts and "no-store" not in parts, write="no-store" not in parts,
                   max_age_s=age)


@dataclass(frozen=True, slots=True)
class Entry:
    payload: bytes          # exact bytes sent to the client (JSON body, or the SSE byte stream)
    created: float          # time.time()
    cost_usd: Decimal       # what the original call cost: a hit records it as saved
    deployment: str


def cache_key(namespace: str, alias: str, body: dict, leave_out: frozenset[str] = frozenset()) -> str:
    """`namespace:sha256` of everything that can change the answer: the alias, whether it streams, and
    every body field but NOT_IN_KEY (and `leave_out`: the semantic cache leaves out the messages)."""
    material = {k: v for k, v in body.items() if k not in NOT_IN_KEY and k not in leave_out}
    material["model"] = alias
    material["stream"] = bool(body.get("stream"))
    digest = hashlib.sha256(orjson.dumps(material, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return f"{namespace}:{digest}"


def _encode(e: Entry) -> bytes:
    head = orjson.dumps({"created": e.created, "cost_usd": str(e.cost_usd), "deployment": e.deployment})
    return len(head).to_bytes(4, "big") + head + e.payload


def _decode(raw: bytes) -> Entry:
    n = int.from_bytes(raw[:4], "big")
    head = orjson.loads(raw[4:4 + n])
    return Entry(raw[4 + n:], head["created"], Decimal(head["cost_usd"]), head["deployment"])


class MemoryCache:
    """In-process LRU with TTL (embedded default)."""

    def __init__(self, max_entries: int = 10_000):
        self._max = max_entries
        self._data: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    async def get(self, key: str) -> Entry | None:
        item = self._data.get(key)
        if item is None:
            return None
        expires, raw = item
        if expires <= time.time():
            del self._data[key]
            return None
        self._data.move_to_end(key)
        return _decode(raw)

    async def set(self, key: str, entry: Entry, ttl_s: int) -> None:
        self._data[key] = (time.time() + ttl_s, _encode(entry))
        self._data.move_to_end(key)
        while len(self._data) > self._max:
            self._data.popitem(last=False)


class RedisCache:
    """Shared by every replica (scaled shape). A Redis failure is a miss, never a failed request."""

    def __init__(self, redis, prefix: str):
        self._redis, self._prefix = redis, prefix + "cache:"

    async def get(self, key: str) -> Entry | None:
        try:
            raw = await self._redis.get(self._prefix + key)
        except (RedisError, OSError, TimeoutError):
            return None
        return _decode(raw) if raw else None

    async def set(self, key: str, entry: Entry, ttl_s: int) -> None:
        try:
            await self._redis.set(self._prefix + key, _encode(entry), ex=ttl_s)
        except (RedisError, OSError, TimeoutError):
            return
