"""Semantic response cache: optional, off by default, behind the exact-match cache.

On an exact miss, the request's messages are embedded through the gateway's own embeddings path (an
attributed, costed, budgeted call of the caller, `tool=semantic-cache`), and the nearest earlier request
*with every other parameter identical* (model, temperature, tools, max_tokens, stream, ...: the same
fingerprint) and the same team namespace is looked up; above the cosine threshold its cached answer is
served. Only the messages may differ, and only by a little.

Measured with the embedded model's pooled embeddings: a reworded request ("Python, Django and
PostgreSQL" for "Python, Django, PostgreSQL") scores 0.999, the same request for a different role 0.95,
an unrelated one 0.78; hence the default threshold 0.98, and why it stays off for resume tailoring,
where two similar resumes must never share an answer.

The index (vectors) is per process and bounded (LRU per bucket); the answers themselves stay in the
exact cache (in-process or Redis), so an expired entry is a miss here too.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
from gateway.cache import cache_key

_MESSAGES = frozenset({"messages"})


def bucket(namespace: str, alias: str, body: dict) -> str:
    """Everything but the messages: requests that differ in any of it never share an answer."""
    return cache_key(namespace, alias, body, leave_out=_MESSAGES)


MAX_BUCKETS = 10_000  # namespaces x parameter sets


class SemanticIndex:
    def __init__(self) -> None:
        self._buckets: dict[str, OrderedDict[str, np.ndarray]] = {}
        self._matrix: dict[str, tuple[list[str], np.ndarray]] = {}

    def nearest(self, bucket_id: str, vector: list[float], threshold: float) -> tuple[str, float] | None:
        """The exact-cache key of the most similar earlier request, if it clears the threshold."""
        entries = self._buckets.get(bucket_id)
        if not entries:
            return None
        keys, matrix = self._stacked(bucket_id, entries)
        v = _unit(vector)
        if v is None or matrix.shape[1] != v.shape[0]:
            return None
        scores = matrix @ v
        best = int(np.argmax(scores))
        return (keys[best], float(scores[best])) if scores[best] >= threshold else None

    def add(self, bucket_id: str, key: str, vector: list[float], max_entries: int) -> None:
        v = _unit(vector)
        if v is None:
            return
        entries = self._buckets.get(bucket_id)
        if entries and next(iter(entries.values())).shape != v.shape:
            return  # another embedding model's width (a fallback answered): never mixed in one matrix
        if entries is None:
            if len(self._buckets) >= MAX_BUCKETS:  # the oldest bucket goes (dicts keep insertion order)
                oldest = next(iter(self._buckets))
                del self._buckets[oldest]
                self._matrix.pop(oldest, None)
            entries = self._buckets[bucket_id] = OrderedDict()
        entries[key] = v
        entries.move_to_end(key)
        while len(entries) > max_entries:
            entries.popitem(last=False)
        self._matrix.pop(bucket_id, None)

    def _stacked(self, bucket_id: str, entries: OrderedDict[str, np.ndarray]) -> tuple[list[str], np.ndarray]:
        cached = self._matrix.get(bucket_id)
        if cached is None:
            cached = self._matrix[bucket_id] = (list(entries), np.stack(list(entries.values())))
        return cached


def _unit(vector: list[float]) -> np.ndarray | None:
    v = np.asarray(vector, dtype=np.float32)
    norm = float(np.linalg.norm(v))
    return v / norm if v.ndim == 1 and norm > 0 else None
