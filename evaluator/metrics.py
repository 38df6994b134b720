"""What each metric is, for `eval compare` and `eval gate`: which way is better, and what kind of evidence
it is, which decides whether it may gate.

- `check`: an invariant or an expectation a person wrote into the case, verified by a deterministic rule
  whose own correctness is tested against labelled cases (grounding: datasets/grounding, 54 cases; the
  JSON Resume schema; contact leaks: datasets/pii; forbidden claims and must-cover skills: the case's own
  lists). A check is right or wrong about the output, not a preference, so it gates without a
  preference calibration.
- `measure`: what the run cost and how it behaved (cost, latency, model calls, degraded results, failed
  cases). Measured, not judged: it gates.
- `judgment`: a graded opinion of quality (keyword coverage, length, ATS score, embedding relevance, the
  LLM rubric, ragas). It gates only when its judge is reliable: calibrated at its current version to
  Cohen's kappa >= RESUMEOPT_EVAL_MIN_KAPPA on the team's labelled pairs (evaluator/registry.reliable).
  Otherwise the gate prints it as advisory and it cannot fail the build.

A metric not listed here is a judgment where higher is better. A few name no better direction
(`higher_is_better` None: the length in words or pages, the edit similarity to the original): a change is
reported as `changed`, never `better` or `worse`, and a tolerance on one bounds a move either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["check", "measure", "judgment"]


@dataclass(frozen=True)
class Metric:
    name: str
    kind: Kind
    higher_is_better: bool | None  # None: no better direction
    judge: str = ""

    def worse(self, before: float, after: float) -> float:
        """How much worse `after` is than `before` (negative: better); for a metric with no better
        direction, how far it moved either way."""
        if self.higher_is_better is None:
            return abs(after - before)
        return before - after if self.higher_is_better else after - before


_KNOWN = [
    # checks
    Metric("grounding_violations", "check", False, "grounding"),
    Metric("draft_violations", "check", False, "grounding"),
    Metric("structure_valid", "check", True, "structure"),
    Metric("forbidden_claims", "check", False, "forbidden"),
    Metric("must_cover", "check", True, "keyword_coverage"),
    Metric("meets_min_match", "check", True, "keyword_coverage"),
    Metric("safety_contact_leaks", "check", False, "safety"),
    Metric("safety_toxic_terms", "check", False, "safety"),
    Metric("safety_passed", "check", True, "safety"),
    Metric("ats_errors", "check", False, "ats"),
    Metric("length_over_two_pages", "check", False, "length"),
    Metric("rubric_valid", "measure", True, "llm_rubric"),
    Metric("ragas_rubric_valid", "measure", True, "ragas_rubric"),
    # measures (judge "run": evaluator/runs.py)
    Metric("degraded", "measure", False, "grounding"),
    Metric("cost_usd", "measure", False, "run"),
    Metric("latency_ms", "measure", False, "run"),
    Metric("model_calls", "measure", False, "run"),
    Metric("writer_attempts", "measure", False, "run"),
    Metric("case_failed", "measure", False, "run"),
    Metric("judge_calls", "measure", False, "run"),
    Metric("judge_cost_usd", "measure", False, "run"),
    # judgments whose better direction is down
    Metric("ats_issues", "judgment", False, "ats"),
    Metric("length_change", "judgment", False, "length"),
    # judgments, higher is better (named so the gate knows whose calibration decides)
    Metric("match_after", "judgment", True, "keyword_coverage"),
    Metric("coverage_uplift", "judgment", True, "keyword_coverage"),
    Metric("ats_score", "judgment", True, "ats"),
    Metric("ats_uplift", "judgment", True, "ats"),
    Metric("embedding_relevance", "judgment", True, "embedding_relevance"),
    Metric("embedding_uplift", "judgment", True, "embedding_relevance"),
    Metric("ragas_rubric_score", "judgment", True, "ragas_rubric"),
    # judgments with no better direction: descriptions of the output, not of its quality
    Metric("length_words", "judgment", None, "length"),
    Metric("length_pages", "judgment", None, "length"),
    Metric("length_ratio", "judgment", None, "length"),
    Metric("edit_similarity", "judgment", None, "ragas_string"),
]
METRICS: dict[str, Metric] = {m.name: m for m in _KNOWN}


def metric(name: str, judge: str = "") -> Metric:
    """The metric `name` (a judge's score): known, or a judgment where higher is better (the LLM rubric's
    per-criterion `rubric_*` scores are its judge's)."""
    if name in METRICS:
        return METRICS[name]
    return Metric(name, "judgment", True, judge or ("llm_rubric" if name.startswith("rubric_") else ""))
