"""Deterministic judges. Each has a name and a version; a score is reproducible from the result alone.

A judge reads an optimisation result (the JSON `POST /v1/optimise` returns) and the case's
expectations, and returns one or more named scores.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "datasets" / "jsonresume" / "schema.json"


@dataclass(frozen=True)
class Score:
    name: str
    value: float
    judge: str
    judge_version: str
    comment: str = ""


class Judge(Protocol):
    name: str
    version: str

    def score(self, result: dict[str, Any], expect: dict[str, Any]) -> list[Score]: ...


# A judge may also name its `primary` score and whether `higher_is_better`: calibration
# (evaluator/calibration.py) then compares two tailorings by that score. One with a `compare(a, b)`
# method (the LLM judge's pairwise mode) is calibrated through it instead.


class KeywordCoverage:
    """Match score after tailoring, and its uplift over the original (points out of 100)."""

    name, version = "keyword_coverage", "1"
    primary, higher_is_better = "match_after", True

    def score(self, result, expect):
        before, after = float(result["match"]["before"]), float(result["match"]["after"])
        must = [s for s in expect.get("must_cover", []) if s not in result["match"]["matched"]]
        out = [Score("match_after", after, self.name, self.version),
               Score("coverage_uplift", round(after - before, 1), self.name, self.version)]
        if "min_match_after" in expect:
            ok = after >= float(expect["min_match_after"])
            out.append(Score("meets_min_match", 1.0 if ok else 0.0, self.name, self.version,
                             "" if ok else f"{after} < {expect['min_match_after']}"))
        if expect.get("must_cover"):
            covered = 1 - len(must) / len(expect["must_cover"])
            out.append(Score("must_cover", round(covered, 3), self.name, self.version,
                             f"missing: {', '.join(must)}" if must else ""))
        return out


class Grounding:
    """Violations in what shipped (must be 0), and whether the agents' draft had to be rejected."""

    name, version = "grounding", "1"
    primary, higher_is_better = "grounding_violations", False

    def score(self, result, expect):
        shipped = result["grounding"]["violations"]
        drafted = result["grounding"].get("candidate_violations", [])
        kinds = ", ".join(sorted({v["kind"] for v in shipped}))
        return [Score("grounding_violations", float(len(shipped)), self.name, self.version, kinds),
                Score("draft_violations", float(len(drafted)), self.name, self.version),
                Score("degraded", 1.0 if result["degraded"] else 0.0, self.name, self.version)]


class StructureValidity:
    """1.0 when the tailored JSON Resume validates against the JSON Resume schema (v1.2.1)."""

    name, version = "structure", "1"
    primary, higher_is_better = "structure_valid", True

    def score(self, result, expect):
        import jsonschema

        validator = jsonschema.validators.validator_for(_schema())(_schema())
        errors = list(validator.iter_errors(result["tailored_resume_json"]))
        # path and rule only: a schema message quotes the offending value, which may be contact data
        comment = "; ".join(f"{'/'.join(map(str, e.path))}: {e.validator}" for e in errors[:3])
        has_md = bool(result.get("tailored_resume", "").strip())
        valid = not errors and has_md
        return [Score("structure_valid", 1.0 if valid else 0.0, self.name, self.version, comment)]


class ForbiddenClaims:
    """Claims the case forbids (`expect.forbidden`) that the tailored resume makes and the source resume does
    not: each term matched case-insensitively as a whole word or phrase. A check, not a preference: the
    case's author wrote down what would be a fabrication for this candidate."""

    name, version = "forbidden", "1"

    def score(self, result, expect):
        terms = expect.get("forbidden") or []
        if not terms:
            return []
        source = (result.get("inputs") or {}).get("resume")  # evaluator/results.with_inputs
        tailored = result.get("tailored_resume") or ""
        made = [t for t in terms if _mentions(tailored, t) and not (source and _mentions(source, t))]
        return [Score("forbidden_claims", float(len(made)), self.name, self.version, ", ".join(made))]


def _mentions(text: str, term: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(term)}(?!\w)", text, re.IGNORECASE) is not None


@lru_cache(maxsize=1)
def _schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


DETERMINISTIC: tuple[Judge, ...] = (KeywordCoverage(), Grounding(), StructureValidity(), ForbiddenClaims())


def judge_all(result: dict[str, Any], expect: dict[str, Any], judges=DETERMINISTIC) -> list[Score]:
    return [s for j in judges for s in j.score(result, expect)]
