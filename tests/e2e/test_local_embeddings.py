"""Embeddings through the gateway from the real local model: its token vectors (a body that arrives in
several chunks) are read whole, mean-pooled and normalised; similar texts score closer than unrelated ones."""

from __future__ import annotations

import math

import httpx
import pytest

from gateway.app import create_app
from tests.support import serve

pytestmark = pytest.mark.e2e


def _cos(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


def test_local_model_embeddings_through_the_gateway(gw_settings, live_config):
    texts = ["Backend engineer: Python, Django, PostgreSQL, REST APIs and Docker.",
             "Backend engineer with Python, Django and PostgreSQL, building REST APIs in Docker.",
             "A haiku about autumn leaves falling in Kyoto."]
    with serve(create_app(gw_settings, live_config)) as url:
        vectors = []
        for text in texts:  # one at a time: a batch of token vectors from llama.cpp is megabytes
            resp = httpx.post(f"{url}/v1/embeddings", json={"model": "local-smol", "input": text}, timeout=60)
            assert resp.status_code == 200, resp.text
            vectors.append(resp.json()["data"][0]["embedding"])
    assert len({len(v) for v in vectors}) == 1 and len(vectors[0]) >= 64
    assert all(abs(math.sqrt(sum(x * x for x in v)) - 1) < 1e-3 for v in vectors)
    assert _cos(vectors[0], vectors[1]) > _cos(vectors[0], vectors[2])
