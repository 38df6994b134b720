"""Deterministic judges on real optimiser results (the deterministic path, no model needed)."""

from __future__ import annotations

import copy

import pytest

from evaluator.datasets import load_dataset
from evaluator.judges import judge_all
from optimiser.agents import prompt_set
from optimiser.flow import OptimiseState, assemble
from optimiser.parsing import parse_job, parse_resume
from optimiser.tools.skills import job_requirements
from optimiser.tools.tailoring import deterministic_tailor


def _result(case) -> dict:
    original = parse_resume(case.resume_text(), case.resume_format)
    job = parse_job(case.job_text())
    reqs = job_requirements(job)
    state = OptimiseState(request_id=case.id, original=original, job=job, requirements=reqs,
                          baseline=deterministic_tailor(original, reqs), crew_error="ConnectError")
    return assemble(state, prompt_set("production"))


def _scores(result, expect) -> dict[str, float]:
    return {s.name: s.value for s in judge_all(result, expect)}


@pytest.mark.parametrize("case", load_dataset("golden").cases, ids=lambda c: c.id)
def test_golden_cases_score_grounded_valid_and_never_worse(case):
    scores = _scores(_result(case), case.expect.model_dump())
    assert scores["grounding_violations"] == 0
    assert scores["structure_valid"] == 1.0
    assert scores["coverage_uplift"] >= 0
    assert scores["degraded"] == 1.0  # no model in this test: the deterministic tailoring shipped


def test_scores_are_reproducible():
    case = load_dataset("smoke").cases[0]
    a, b = _result(case), _result(case)
    expect = case.expect.model_dump()
    assert _scores(a, expect) == _scores(b, expect)


def test_structure_judge_catches_an_invalid_resume():
    result = _result(load_dataset("smoke").cases[0])
    broken = copy.deepcopy(result)
    broken["tailored_resume_json"]["work"][0]["startDate"] = "sometime in 2020"
    assert _scores(broken, {})["structure_valid"] == 0.0


def test_grounding_judge_counts_shipped_violations():
    result = _result(load_dataset("smoke").cases[0])
    bad = copy.deepcopy(result)
    bad["grounding"]["violations"] = [{"kind": "employer", "text": "Acme", "where": "work[0]"}]
    assert _scores(bad, {})["grounding_violations"] == 1.0


def test_must_cover_reports_missing_skills():
    result = _result(load_dataset("smoke").cases[0])
    scores = {s.name: s for s in judge_all(result, {"must_cover": ["Python", "Kafka"]})}
    assert scores["must_cover"].value == 0.5
    assert "Kafka" in scores["must_cover"].comment


def test_score_rows_of_a_result_fit_the_scores_api():
    """The e2e run found this: four agents' version tag outgrew the API's 64-character prompt_version."""
    from evaluator.runner import score_rows
    from gateway.api.reports import ScoreIn

    result = _result(load_dataset("smoke").cases[0])
    rows = score_rows(judge_all(result, {}), result, run_id="r1", dataset="smoke", case_id="c1")
    assert rows and rows[0]["prompt_version"].count("@") == len(result["prompt_versions"]) == 4
    for row in rows:
        ScoreIn.model_validate(row)
