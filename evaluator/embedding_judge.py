"""Embedding relevance: cosine similarity of the tailored resume to the job, and its uplift over the
original's, with embeddings through the gateway's `POST /v1/embeddings` (ctx.embedding_model).

llama.cpp's server truncates an embedding input at its batch size (512 tokens) without saying so, and a
resume is longer; so a text is embedded in chunks of at most `CHUNK_CHARS` (~300 tokens) and the chunk
vectors are averaged, weighted by length, then normalised: every part of the resume counts.
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict

from evaluator.gateway import JudgeGateway
from evaluator.judges import Score
from evaluator.results import as_markdown, source_job, source_resume

CHUNK_CHARS = 1200
CACHE_TEXTS = 256  # vectors kept per judge: a calibration run embeds the same job for every pair


def chunks(text: str, size: int = CHUNK_CHARS) -> list[str]:
    """Line-aligned pieces of at most `size` characters (a longer line is cut)."""
    out, current = [], ""
    for line in text.splitlines():
        if len(line) > size and current:
            out.append(current)
            current = ""
        while len(line) > size:
            out.append(line[:size])
            line = line[size:]
        if current and len(current) + len(line) + 1 > size:
            out.append(current)
            current = ""
        current = f"{current}\n{line}" if current else line
    if current.strip():
        out.append(current)
    return [c for c in out if c.strip()]


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b))
    norm = math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))
    return dot / norm if norm else 0.0


def mean_vector(vectors: list[list[float]], weights: list[int]) -> list[float]:
    total = [sum(w * v[i] for v, w in zip(vectors, weights)) for i in range(len(vectors[0]))]
    norm = math.sqrt(sum(x * x for x in total)) or 1.0
    return [x / norm for x in total]


class EmbeddingRelevance:
    name, version = "embedding_relevance", "1"
    primary, higher_is_better = "embedding_relevance", True

    def __init__(self, gateway: JudgeGateway, model: str):
        self.gateway, self.model = gateway, model
        self._cache: OrderedDict[str, list[float]] = OrderedDict()

    def score(self, result, expect):
        job = source_job(result)
        if not job:
            return []
        rid = result.get("request_id", "")
        job_vec = self.embed(job, rid)
        after = cosine(self.embed(result["tailored_resume"], rid), job_vec)
        out = [Score("embedding_relevance", round(after, 4), self.name, self.version, f"model {self.model}")]
        original = source_resume(result)
        if original:
            before = cosine(self.embed(as_markdown(original), rid), job_vec)
            out.append(Score("embedding_uplift", round(after - before, 4), self.name, self.version))
        return out

    def embed(self, text: str, request_id: str = "") -> list[float]:
        key = hashlib.sha256(text.encode()).hexdigest()
        if key not in self._cache:
            pieces = chunks(text)
            vectors = [self.gateway.embed(self.model, p, request_id) for p in pieces]
            self._cache[key] = mean_vector(vectors, [len(p) for p in pieces]) if pieces else []
            if len(self._cache) > CACHE_TEXTS:
                self._cache.popitem(last=False)
        self._cache.move_to_end(key)
        return self._cache[key]
