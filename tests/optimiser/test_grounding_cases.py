"""The grounding acceptance set (datasets/grounding/cases.jsonl): every fabrication is flagged with its
kind, every faithful tailoring passes, every original passes against itself."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from optimiser.parsing import parse_resume
from optimiser.tools.grounding import check_grounding

HERE = Path(__file__).resolve().parents[2] / "datasets" / "grounding"
CASES = [json.loads(line) for line in (HERE / "cases.jsonl").read_text(encoding="utf-8").splitlines()]
ORIGINALS = sorted({c["original"] for c in CASES})


def _resume(rel: str):
    return parse_resume((HERE / rel).read_text(encoding="utf-8"))


def test_the_set_covers_every_kind_several_times():
    kinds = [k for c in CASES for k in c["kinds"]]
    for kind in ("employer", "title", "date", "degree", "number", "certificate", "skill", "person",
                 "section_dropped"):
        assert kinds.count(kind) >= 3, kind
    assert len(CASES) >= 40 and sum(c["passed"] for c in CASES) >= 10


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_case(case):
    report = check_grounding(_resume(case["original"]), _resume(case["tailored"]), case["approved_skills"])
    found = {v.kind for v in report.violations}
    assert report.passed is case["passed"], [(v.kind, v.text) for v in report.violations]
    assert set(case["kinds"]) <= found


@pytest.mark.parametrize("original", ORIGINALS)
def test_untouched_original_passes(original):
    resume = _resume(original)
    assert check_grounding(resume, resume).violations == []
