"""Calibration: Cohen's kappa against hand-computed values, the labelled pairs, and `reliable`."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from evaluator import calibration as cal
from evaluator import registry
from evaluator.calibration import (JudgeCalibration, calibrate, cohen_kappa, load_pairs, pair_results, prefer,
                                   write)
from evaluator.datasets import DATASETS_DIR
from evaluator.llm_judge import PairwiseResult
from evaluator.registry import resolve


def test_kappa_matches_a_hand_computed_example_with_a_tie():
    labels = list("aaaabbbbbb")
    predictions = ["a", "a", "a", "b", "b", "b", "b", "b", "a", "tie"]
    # p_o = 7/10; p_e = (4/10 * 4/10) + (6/10 * 5/10) + (0 * 1/10) = 0.46; (0.70 - 0.46) / 0.54
    assert cohen_kappa(labels, predictions) == pytest.approx(0.24 / 0.54)


def test_kappa_matches_the_textbook_two_by_two():
    # 50 items: both yes 20, both no 15, yes/no 5, no/yes 10: p_o = 0.7, p_e = 0.5 * 0.6 + 0.5 * 0.4 = 0.5
    labels = ["y"] * 25 + ["n"] * 25
    predictions = ["y"] * 20 + ["n"] * 5 + ["y"] * 10 + ["n"] * 15
    assert cohen_kappa(labels, predictions) == pytest.approx(0.4)


def test_kappa_of_perfect_chance_and_degenerate_raters():
    assert cohen_kappa(list("abab"), list("abab")) == 1.0
    assert cohen_kappa(list("abab"), list("aaaa")) == 0.0      # always the first: no better than chance
    assert cohen_kappa(list("aaaa"), list("aaaa")) == 0.0      # undefined: one category each, say 0
    with pytest.raises(ValueError):
        cohen_kappa(["a"], [])


def test_pairs_are_enough_balanced_and_point_at_real_files():
    pairs = load_pairs()
    assert len(pairs) >= 30
    assert Counter(p.label for p in pairs) == {"a": len(pairs) // 2, "b": len(pairs) // 2}
    assert set(Counter(p.failure for p in pairs)) >= {"fabricated_metric", "irrelevant_emphasis", "dropped_section",
                                                      "keyword_stuffing", "off_job_summary"}
    for p in pairs:
        assert all((DATASETS_DIR / rel).is_file() for rel in (p.resume, p.job, p.a, p.b)), p.id
        assert p.reason


def test_every_better_tailoring_is_grounded():
    for p in load_pairs():
        better = pair_results(p)[0 if p.label == "a" else 1]
        assert better["grounding"]["passed"], (p.id, better["grounding"]["violations"])


class AlwaysFirst:
    name, version = "always_first", "1"

    def compare(self, a, b):
        return PairwiseResult("a", "a", "a", {})


def test_a_judge_that_always_prefers_the_first_side_has_kappa_zero():
    [row] = calibrate([AlwaysFirst()], load_pairs(), min_kappa=0.4)
    assert row.accuracy == 0.5 and row.kappa == 0.0 and not row.reliable


def test_deterministic_judges_on_the_pairs():
    rows = {r.judge: r for r in calibrate(resolve(["grounding", "structure", "ats"]), load_pairs(), min_kappa=0.4)}
    # 5 of 6: it misses "3-location" -> "8-location": the resume says "8" elsewhere (numbers are not tied to what they count)
    assert rows["grounding"].by_failure["fabricated_metric"] == pytest.approx(5 / 6, abs=0.001)
    assert rows["grounding"].by_failure["irrelevant_emphasis"] == 0.0  # true but off-target: invisible to it
    assert rows["structure"].ties == rows["structure"].n               # both sides always valid: no signal
    assert rows["ats"].scored == rows["ats"].ties == 36  # measured on our DOCX of each side: the same checks pass
    assert all(r.n == len(load_pairs()) for r in rows.values())


def test_a_tie_counts_as_disagreement():
    pair = load_pairs()[0]
    a, b = pair_results(pair)
    [structure] = resolve(["structure"])
    assert prefer(structure, a, b) == ("tie", True, "")


def _row(judge: str, version: str, kappa: float) -> JudgeCalibration:
    return JudgeCalibration(judge, version, 36, 0.8, kappa, kappa >= 0.4, 0, 36, {}, [])


def test_reliable_reads_the_file_and_the_configured_minimum(tmp_path, monkeypatch):
    path = tmp_path / "calibration.json"
    write([_row("grounding", "1", 0.55), _row("length", "1", 0.2), _row("llm_rubric", "0+old@0", 0.9)],
          0.4, {"judge_model": "judge"}, path=path)
    assert registry.reliable("grounding", path) and not registry.reliable("length", path)
    assert not registry.reliable("llm_rubric", path)      # calibrated at another version: must recalibrate
    assert not registry.reliable("structure", path)       # never calibrated
    monkeypatch.setenv("RESUMEOPT_EVAL_MIN_KAPPA", "0.6")
    assert not registry.reliable("grounding", path)       # the bar is read at gate time


def test_a_judge_calibrated_on_a_few_pairs_is_never_reliable(tmp_path):
    path = tmp_path / "calibration.json"
    few = JudgeCalibration("grounding", "1", 6, 1.0, 1.0, False, 0, 6, {}, [])
    write([few], 0.4, {}, path=path)
    assert not registry.reliable("grounding", path)
    [row] = calibrate([AlwaysFirst()], load_pairs()[:6], min_kappa=-1)
    assert not row.reliable


def test_write_keeps_judges_not_recalibrated(tmp_path):
    path = tmp_path / "calibration.json"
    write([_row("grounding", "1", 0.5)], 0.4, {}, path=path)
    write([_row("length", "1", 0.1)], 0.4, {}, path=path)
    doc = json.loads(path.read_text())
    assert [r["judge"] for r in doc["judges"]] == ["grounding", "length"]
    assert doc["pairs"] == "datasets/calibration/pairs.jsonl" and len(doc["pairs_sha256"]) == 16
    assert {"n", "accuracy", "kappa", "reliable", "version", "min_kappa"} <= set(doc["judges"][0])


def test_shipped_calibration_file_covers_the_stable_judges():
    shipped = registry.calibration()
    # every stable judge that can prefer one tailoring to another; `forbidden` only checks a case's own list
    comparable = {j.name for j in registry.resolve(None) if cal.comparable(j)}
    assert comparable == set(registry.STABLE) - {"forbidden"}
    assert comparable <= set(shipped)
    assert all(shipped[name]["n"] >= 30 for name in comparable)
    assert all(row["version"] == registry.current_version(name) for name, row in shipped.items())  # not stale
