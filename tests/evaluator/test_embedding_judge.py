"""Embedding relevance: chunking and pooling, and the plumbing through the real gateway (the simulator
embeds: its vectors are a hash of the text, so only identities hold; the real model's figures are
tests/e2e/test_judges_e2e.py's and calibration's)."""

from __future__ import annotations

import httpx
import pytest

from evaluator.embedding_judge import CHUNK_CHARS, chunks, cosine, mean_vector
from evaluator.registry import JudgeContext, resolve
from evaluator.results import with_inputs
from gateway.app import create_app
from tests.evaluator.upstreams import judge_config
from tests.support import serve


def test_chunks_keep_every_line_and_stay_under_the_bound():
    text = "\n".join(f"line {i} " + "x" * 90 for i in range(60)) + "\n" + "y" * (CHUNK_CHARS + 50)
    pieces = chunks(text)
    assert all(len(p) <= CHUNK_CHARS for p in pieces) and len(pieces) >= 6
    assert "".join(pieces).replace("\n", "") == text.replace("\n", "")


def test_pooling_weights_by_length_and_normalises():
    v = mean_vector([[1.0, 0.0], [0.0, 1.0]], [3, 1])
    assert v == pytest.approx([0.9487, 0.3162], abs=1e-4)
    assert cosine([1.0, 0.0], [0.0, 2.0]) == 0.0 and cosine([], []) == 0.0


@pytest.fixture
def embedding_judge(gw_settings):
    with serve(create_app(gw_settings, judge_config("http://127.0.0.1:9"))) as url:
        [judge] = resolve(["embedding_relevance"], JudgeContext(gateway_url=url, embedding_model="local-smol"))
        yield judge, url


def test_relevance_and_uplift_through_the_gateway(embedding_judge):
    judge, url = embedding_judge
    job = "Backend engineer: Python, Kafka, PostgreSQL."
    original = "# Ann\n\n## Summary\n\nGardener."
    result = with_inputs({"request_id": "emb-1", "tailored_resume": job}, original, job)
    scores = {s.name: s.value for s in judge.score(result, {})}
    assert scores["embedding_relevance"] == pytest.approx(1.0)   # same text, same vector
    assert scores["embedding_uplift"] > 0.5                       # the original was another text
    usage = httpx.get(f"{url}/api/v1/requests/emb-1/usage").json()
    assert [r["agent"] for r in usage["by_agent"]] == ["judge"]
    assert usage["calls"] == 2  # the tailored text is the job's: embedded once, then from the judge's cache


def test_without_a_job_there_is_no_relevance(embedding_judge):
    judge, _ = embedding_judge
    assert judge.score({"request_id": "emb-2", "tailored_resume": "text"}, {}) == []
