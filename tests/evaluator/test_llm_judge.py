"""The LLM judge's logic (both-orders rule, answer validation, retry) through the real gateway over
loopback, with a scripted judge model as the upstream: what matters here is what the judge does with an
answer, whatever the answer. Its quality on the real model is measured by calibration, not here."""

from __future__ import annotations

import contextlib
import json
import re
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from evaluator.calibration import load_pairs, pair_results
from evaluator.gateway import JudgeSpend
from evaluator.llm_judge import changes, combine, order_winner
from evaluator.registry import JudgeContext, resolve
from evaluator.rubric import load_rubric
from gateway.app import create_app
from tests.evaluator.upstreams import judge_config, scripted_model
from tests.support import serve

CRITERIA = list(load_rubric().criteria)


def _verdict(field: str, values: list) -> str:
    return json.dumps({"criteria": {n: {"reasoning": "because", field: v} for n, v in zip(CRITERIA, values)}})


def _always_a(messages) -> str:   # a judge with pure position bias
    return _verdict("winner", ["A"] * len(CRITERIA))


def _follows_content(messages) -> str:  # prefers the side whose changed lines carry the marker
    text = messages[1]["content"]
    side = "A" if re.search(r"^A: .*MARKER", text, re.M) else "B"
    return _verdict("winner", [side] * len(CRITERIA))


@pytest.fixture
def judge_gateway(gw_settings):
    """start(answer) -> (the llm_rubric judge, the scripted upstream app, the gateway's url)."""
    with contextlib.ExitStack() as stack:
        def start(answer, spend=None):
            upstream = scripted_model(answer)
            up_url = stack.enter_context(serve(upstream))
            url = stack.enter_context(serve(create_app(gw_settings, judge_config(up_url))))
            [judge] = resolve(["llm_rubric"], JudgeContext(gateway_url=url, spend=spend))
            return judge, upstream, url

        yield start


@pytest.fixture(scope="module")
def pair():
    """A calibration pair whose better side is a: its summary, the only change, carries a marker."""
    p = next(p for p in load_pairs() if p.failure == "off_job_summary" and p.label == "a")
    a, b = pair_results(p)
    a = {**a, "tailored_resume": a["tailored_resume"].replace("Staff engineer", "MARKER Staff engineer", 1)}
    return a, b


@pytest.mark.parametrize(("first", "second", "winner"), [
    ("A", "B", "a"), ("B", "A", "b"),                      # both orders name the same tailoring
    ("A", "A", "tie"), ("B", "B", "tie"),                  # each order prefers a position: bias, not a verdict
    ("tie", "B", "tie"), ("A", "tie", "tie"), ("tie", "tie", "tie"),
    (None, "B", "tie"), ("A", None, "tie"),                # an order without a valid answer decides nothing
])
def test_a_winner_needs_both_orders_to_agree(first, second, winner):
    assert combine(first, second) == winner


def test_an_order_is_won_by_more_criteria():
    assert order_winner({"x": {"winner": "A"}, "y": {"winner": "A"}, "z": {"winner": "B"}}) == "A"
    assert order_winner({"x": {"winner": "A"}, "y": {"winner": "B"}, "z": {"winner": "tie"}}) == "tie"


def test_changes_show_only_what_differs_with_each_side():
    text = changes("# R\nsame\nold line\nend\n", "# R\nsame\nnew line\nend\nextra\n")
    assert "A: old line\nB: new line" in text and "B: extra" in text and "A: (nothing here)" in text
    assert "same" not in text


def test_position_biased_judge_declares_no_winner(judge_gateway, pair):
    judge, upstream, _ = judge_gateway(_always_a)
    a, b = pair
    result = judge.compare(a, b)
    assert (result.first, result.second, result.winner) == ("a", "b", "tie")
    assert set(result.criteria.values()) == {"tie"}
    first, second = (m["messages"][1]["content"] for m in upstream.state.seen)
    assert re.search(r"^A: MARKER", first, re.M) and re.search(r"^B: MARKER", second, re.M)  # really swapped


def test_consistent_judge_picks_the_same_tailoring_in_both_orders(judge_gateway, pair):
    judge, _, _ = judge_gateway(_follows_content)
    a, b = pair
    assert judge.compare(a, b).winner == "a"
    assert judge.compare(b, a).winner == "b"


def test_judge_calls_are_deterministic_and_attributed_and_costed(judge_gateway, pair):
    spend = JudgeSpend()
    judge, upstream, url = judge_gateway(_follows_content, spend)
    a, b = pair
    judge.compare(a, b)
    body = upstream.state.seen[0]
    assert body["temperature"] == 0 and body["seed"] == 7 and body["model"] == "scripted"
    assert body["response_format"]["type"] == "json_object"
    assert body["response_format"]["schema"]["required"] == ["criteria"]
    usage = httpx.get(f"{url}/api/v1/requests/{a['request_id']}/usage").json()
    assert usage["calls"] == 2 and [r["agent"] for r in usage["by_agent"]] == ["judge"]
    assert float(usage["cost_usd"]) == pytest.approx(2 * (100 * 1 + 20 * 2) / 1e6)
    assert spend.take(a["request_id"]) == (2, Decimal(usage["cost_usd"]))  # the judges' own count agrees
    assert spend.take(a["request_id"]) == (0, 0)  # and is forgotten once taken
    calls = httpx.get(f"{url}/api/v1/requests/{a['request_id']}/calls").json()["rows"]
    assert {c["model_alias"] for c in calls} == {"judge"}


def test_pointwise_scores_every_criterion(judge_gateway, pair):
    judge, _, _ = judge_gateway(lambda m: _verdict("score", [5, 4, 3, 2]))
    scores = {s.name: s for s in judge.score(pair[0], {})}
    assert scores["rubric_valid"].value == 1.0
    assert [scores[f"rubric_{n}"].value for n in CRITERIA] == [5, 4, 3, 2]
    assert scores["rubric_mean"].value == 3.5
    assert scores["rubric_relevance"].judge_version == "1+resume_tailoring@1.0.0"


def test_invalid_answer_is_retried_once_then_recorded_as_invalid(judge_gateway, pair):
    judge, upstream, _ = judge_gateway(lambda m: "Sure! The resume is great, 5/5.")
    scores = judge.score(pair[0], {})
    assert [(s.name, s.value) for s in scores] == [("rubric_valid", 0.0)]
    assert scores[0].comment.startswith("invalid: json_invalid")
    assert len(upstream.state.seen) == 2
    retry = upstream.state.seen[1]["messages"]
    assert retry[2] == {"role": "assistant", "content": "Sure! The resume is great, 5/5."}
    assert "not valid" in retry[3]["content"]


def test_a_retry_that_answers_validly_counts(judge_gateway, pair):
    answers = iter(["{not json", "```json\n" + _verdict("score", [4, 4, 4, 4]) + "\n```"])
    judge, _, _ = judge_gateway(lambda m: next(answers))
    scores = {s.name: s.value for s in judge.score(pair[0], {})}
    assert scores["rubric_valid"] == 1.0 and scores["rubric_mean"] == 4.0


def test_a_score_outside_the_rubric_is_invalid(judge_gateway, pair):
    judge, _, _ = judge_gateway(lambda m: _verdict("score", [6, 4, 4, 4]))
    assert [s.name for s in judge.score(pair[0], {})] == ["rubric_valid"]


def test_without_inputs_the_judge_gives_no_score(judge_gateway, pair):
    judge, upstream, _ = judge_gateway(_always_a)
    bare = {k: v for k, v in pair[0].items() if k != "inputs"}
    assert judge.score(bare, {}) == [] and upstream.state.seen == []


def test_rubric_file_has_four_criteria_with_five_anchors_each():
    rubric = load_rubric()
    assert set(rubric.criteria) == {"relevance", "faithfulness", "clarity", "ats_friendliness"}
    assert all(sorted(c.anchors) == [1, 2, 3, 4, 5] for c in rubric.criteria.values())
    assert Path(__file__).resolve().parents[2].joinpath("evaluator", "rubrics", "resume_tailoring.yaml").is_file()
