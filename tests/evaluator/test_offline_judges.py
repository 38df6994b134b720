"""The judges that need no model (ats, length, safety) and the registry that hands judges out."""

from __future__ import annotations

import copy
import json

import pytest

from evaluator.ats_judge import AtsJudge
from evaluator.datasets import DATASETS_DIR
from evaluator.length_judge import WORDS_PER_PAGE, LengthJudge, words
from evaluator.registry import STABLE, FACTORIES, JudgeContext, current_version, resolve
from evaluator.results import as_markdown, result_from_texts, with_inputs

RESUME = (DATASETS_DIR / "resumes" / "senior-engineer.resume.json").read_text()
JOB = (DATASETS_DIR / "jobs" / "backend-eng.txt").read_text()


@pytest.fixture(scope="module")
def result() -> dict:
    return result_from_texts(RESUME, JOB, RESUME, request_id="offline-1")


def _scores(judge, result) -> dict[str, float]:
    return {s.name: s.value for s in judge.score(result, {})}


def test_ats_judge_reads_the_report_after_and_its_uplift(result):
    report = {"before": {"score": 72, "issues": [{"code": "tables", "severity": "error"}], "checks": {}},
              "after": {"score": 92, "issues": [{"code": "date_styles", "severity": "warning"}], "checks": {}}}
    scores = {s.name: s for s in AtsJudge().score({**result, "ats": report}, {})}
    assert scores["ats_score"].value == 92 and scores["ats_score"].comment == "date_styles"
    assert scores["ats_issues"].value == 1 and scores["ats_errors"].value == 0
    assert scores["ats_uplift"].value == 20


@pytest.mark.parametrize("ats", [None, {}, {"before": {"score": 80, "issues": []}}])
def test_ats_judge_gives_no_score_without_a_report(result, ats):
    r = {k: v for k, v in result.items() if k != "ats"} | ({"ats": ats} if ats is not None else {})
    assert AtsJudge().score(r, {}) == []  # a missing check is not a passed one


def test_a_result_from_texts_carries_the_ats_report_of_our_rendering(result):
    scores = _scores(AtsJudge(), result)  # what calibration scores: each side rendered and read back
    assert 0 < scores["ats_score"] <= 100 and "ats_uplift" in scores


def test_length_of_an_unchanged_resume_is_the_original_length(result):
    scores = _scores(LengthJudge(), result)
    assert scores["length_ratio"] == 1.0 and scores["length_change"] == 0.0
    assert scores["length_words"] == words(as_markdown(RESUME))
    assert scores["length_over_two_pages"] == 0.0


def test_length_flags_a_resume_past_two_pages(result):
    padded = copy.deepcopy(json.loads(RESUME))
    padded["work"][0]["highlights"] += ["Shipped another important storage improvement for customers"] * 120
    scores = _scores(LengthJudge(), result_from_texts(RESUME, JOB, json.dumps(padded)))
    assert scores["length_words"] > 2 * WORDS_PER_PAGE and scores["length_over_two_pages"] == 1.0
    assert scores["length_ratio"] > 2


def test_length_without_the_original_reports_only_what_it_can(result):
    bare = {k: v for k, v in result.items() if k != "inputs"}
    assert set(_scores(LengthJudge(), bare)) == {"length_words", "length_pages", "length_over_two_pages"}


def test_words_ignore_markdown_markup():
    assert words("## Skills\n\n- **Languages**: Python, C++ | Go") == 5


def test_offline_result_has_what_judges_read(result):
    assert result["inputs"] == {"resume": RESUME, "job": JOB}
    assert result["grounding"]["passed"] and result["match"]["before"] == result["match"]["after"]
    assert with_inputs({"x": 1}, "r", "j") == {"x": 1, "inputs": {"resume": "r", "job": "j"}}


def test_registry_serves_every_stable_judge_without_a_platform():
    judges = resolve(None)
    assert [j.name for j in judges] == list(STABLE)
    assert {"ats", "length", "safety", "keyword_coverage", "grounding", "structure", "forbidden"} == set(STABLE)
    assert all(j.version == current_version(j.name) for j in judges)


@pytest.mark.parametrize("name", ["llm_rubric", "embedding_relevance", "ragas_rubric"])
def test_model_judges_refuse_to_start_without_a_gateway(name):
    with pytest.raises(ValueError, match="gateway_url"):
        resolve([name], JudgeContext())


def test_model_judges_are_registered_with_their_versions():
    assert {"llm_rubric", "embedding_relevance", "ragas_rubric", "ragas_string"} <= set(FACTORIES)
    assert current_version("llm_rubric") == "1+resume_tailoring@1.0.0"


def test_unknown_judge_names_the_known_ones():
    with pytest.raises(KeyError, match="llm_rubric"):
        resolve(["nope"])
