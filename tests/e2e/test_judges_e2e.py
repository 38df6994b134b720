"""The model judges against the real local model through the real gateway, a few calls each: the LLM
judge answers rubric JSON that validates (constrained by the schema), attributed to the `judge` alias and
agent; embedding relevance ranks a resume tailored to the job above the same resume against another job."""

from __future__ import annotations

import httpx
import pytest

from evaluator.calibration import load_pairs, pair_results
from evaluator.datasets import DATASETS_DIR
from evaluator.registry import JudgeContext, resolve
from evaluator.results import as_markdown, with_inputs
from gateway.app import create_app
from tests.support import serve

pytestmark = pytest.mark.e2e


@pytest.fixture
def gateway_url(gw_settings, live_config):
    with serve(create_app(gw_settings, live_config)) as url:
        yield url


def test_llm_rubric_answers_valid_json_from_the_local_model(gateway_url):
    pair = next(p for p in load_pairs() if p.id == "jd-frontend-off_job_summary")
    result = pair_results(pair, run_id="e2e")[0]
    [judge] = resolve(["llm_rubric"], JudgeContext(gateway_url=gateway_url))
    scores = {s.name: s for s in judge.score(result, {})}
    assert scores["rubric_valid"].value == 1.0, scores["rubric_valid"].comment
    assert all(1 <= scores[f"rubric_{n}"].value <= 5 for n in judge.rubric.criteria)
    calls = httpx.get(f"{gateway_url}/api/v1/requests/{result['request_id']}/calls").json()["rows"]
    assert calls and {(c["model_alias"], c["agent"], c["status"]) for c in calls} == {("judge", "judge", "ok")}
    assert all(c["input_tokens"] > 500 for c in calls)  # the rubric, the job and both resumes reached the model


def test_embedding_relevance_prefers_the_job_the_resume_was_written_for(gateway_url):
    resume = (DATASETS_DIR / "resumes" / "john-doe.cv.md").read_text()
    tailored = as_markdown(resume)  # untailored, in the layout the judge renders the original in
    backend = (DATASETS_DIR / "jobs" / "backend-eng.txt").read_text()
    haiku = "Autumn moonlight; a worm digs silently into the chestnut."
    [judge] = resolve(["embedding_relevance"], JudgeContext(gateway_url=gateway_url, embedding_model="local-smol"))
    base = {"request_id": "e2e-emb", "tailored_resume": tailored}
    fit = {s.name: s.value for s in judge.score(with_inputs(base, resume, backend), {})}
    off = {s.name: s.value for s in judge.score(with_inputs(base, resume, haiku), {})}
    assert fit["embedding_relevance"] > off["embedding_relevance"]
    assert fit["embedding_uplift"] == 0.0  # untailored: no uplift over itself
    usage = httpx.get(f"{gateway_url}/api/v1/requests/e2e-emb/usage").json()
    assert [r["agent"] for r in usage["by_agent"]] == ["judge"] and usage["input_tokens"] > 0
