"""ragas where it fits: the string metric offline, and the rubric metric's plumbing through the real
gateway with a scripted judge model (ragas' OpenAI wrapper, instructor's JSON mode, our attribution)."""

from __future__ import annotations

import contextlib
import json
from decimal import Decimal

import httpx
import pytest

from evaluator.calibration import load_pairs, pair_results
from evaluator.gateway import JudgeSpend
from evaluator.registry import JudgeContext, resolve
from gateway.app import create_app
from tests.evaluator.upstreams import judge_config, scripted_model
from tests.support import serve


@pytest.fixture(scope="module")
def result():
    pair = next(p for p in load_pairs() if p.failure == "off_job_summary")
    return pair_results(pair)[0]


def test_string_similarity_is_one_for_an_unchanged_resume_and_less_for_an_edit(result):
    [judge] = resolve(["ragas_string"])
    unchanged = {**result, "tailored_resume": _original_markdown(result)}
    assert judge.score(unchanged, {})[0].value == 1.0
    edited = judge.score(result, {})[0]
    assert edited.name == "edit_similarity" and 0.5 < edited.value < 1.0
    assert judge.score({k: v for k, v in result.items() if k != "inputs"}, {}) == []


def _original_markdown(result) -> str:
    from evaluator.results import as_markdown

    return as_markdown(result["inputs"]["resume"])


@pytest.fixture
def ragas_gateway(gw_settings):
    with contextlib.ExitStack() as stack:
        def start(answer, spend=None):
            upstream = scripted_model(answer)
            up_url = stack.enter_context(serve(upstream))
            url = stack.enter_context(serve(create_app(gw_settings, judge_config(up_url))))
            [judge] = resolve(["ragas_rubric"], JudgeContext(gateway_url=url, spend=spend))
            return judge, upstream, url

        yield start


def test_rubric_score_comes_from_the_judge_model_through_the_gateway(ragas_gateway, result):
    spend = JudgeSpend()
    judge, upstream, url = ragas_gateway(lambda m: json.dumps({"feedback": "Faithful, aimed at the job.", "score": 4}),
                                         spend)
    scores = {s.name: s for s in judge.score(result, {})}
    assert scores["ragas_rubric_valid"].value == 1.0 and scores["ragas_rubric_score"].value == 4.0
    assert scores["ragas_rubric_score"].comment == "Faithful, aimed at the job."
    body = upstream.state.seen[0]
    assert body["temperature"] == 0 and body["seed"] == 7 and body["response_format"] == {"type": "json_object"}
    prompt = json.dumps(body["messages"])
    assert "Invents facts absent from the reference resume" in prompt       # our rubric, not ragas' default
    usage = httpx.get(f"{url}/api/v1/requests/{result['request_id']}/usage").json()
    assert [r["agent"] for r in usage["by_agent"]] == ["judge"]
    # what ragas' calls cost, counted from the gateway's answers, is what the store recorded
    assert spend.take(result["request_id"]) == (usage["calls"], Decimal(usage["cost_usd"])) != (0, 0)


def test_an_answer_that_never_validates_is_recorded_invalid(ragas_gateway, result):
    judge, upstream, _ = ragas_gateway(lambda m: "I would give it a four.")
    scores = judge.score(result, {})
    assert [(s.name, s.value) for s in scores] == [("ragas_rubric_valid", 0.0)]
    assert scores[0].comment.startswith("invalid:")
    assert len(upstream.state.seen) == 2  # the first answer and one retry
