"""Comparing an experiment's arms: means and n per arm and metric, cost per optimisation, and the
difference from the baseline with a seeded bootstrap interval that covers a known difference and
straddles 0 when there is none."""

from __future__ import annotations

import numpy as np

from evaluator.arms import bootstrap_diff, compare


def _rows(arm: str, values: np.ndarray, name: str = "match_after") -> list[dict]:
    return [{"arm": arm, "request_id": f"{arm}-{i}", "name": name, "value": float(v)} for i, v in enumerate(values)]


def test_the_interval_covers_a_known_difference_and_straddles_zero_without_one():
    rng = np.random.default_rng(1)
    a, b = rng.normal(60, 5, 300), rng.normal(62, 5, 300)
    shifted = bootstrap_diff(list(a), list(b), np.random.default_rng(7))
    lo, hi = shifted["ci95"]
    assert 0 < lo < 2 < hi and abs(shifted["diff"] - (b.mean() - a.mean())) < 1e-6
    same = bootstrap_diff(list(a), list(rng.normal(60, 5, 300)), np.random.default_rng(7))
    assert same["ci95"][0] < 0 < same["ci95"][1]
    assert bootstrap_diff([1.0], [2.0, 3.0], np.random.default_rng(7)) == {"diff": 1.5, "ci95": None}
    assert bootstrap_diff([], [2.0], np.random.default_rng(7)) == {"diff": None, "ci95": None}


def test_compare_reports_each_arm_and_its_difference_from_the_baseline_reproducibly():
    rng = np.random.default_rng(3)
    scores = _rows("1.1.0", rng.normal(70, 4, 40)) + _rows("1.0.0", rng.normal(65, 4, 20)) + \
        _rows("1.0.0", np.array([0, 1, 0, 0]), "user_feedback")
    costs = [{"arm": "1.1.0", "request_id": f"1.1.0-{i}", "calls": 4, "cost_usd": "0.000100"} for i in range(40)] + \
        [{"arm": "1.0.0", "request_id": f"1.0.0-{i}", "calls": 3, "cost_usd": "0.000050"} for i in range(20)]
    report = compare(scores, costs, baseline="1.1.0")
    assert report == compare(scores, costs, baseline="1.1.0")  # seeded: the same numbers every time
    arms = {a["arm"]: a for a in report["arms"]}
    assert arms["1.1.0"]["optimisations"] == 40 and arms["1.1.0"]["cost_per_optimisation_usd"] == "0.0001"
    assert arms["1.0.0"]["cost_usd"] == "0.001" and arms["1.0.0"]["metrics"]["user_feedback"] == {"n": 4, "mean": 0.25}
    diffs = {d["metric"]: d for d in report["differences"]}
    assert set(diffs) == {"match_after", "user_feedback", "cost_usd"}  # feedback: no baseline values, no interval
    assert diffs["match_after"]["ci95"][1] < 0 and diffs["match_after"]["n"] == [40, 20]
    assert diffs["cost_usd"]["diff"] == -0.00005 and diffs["user_feedback"]["diff"] is None
    # without a configured baseline, the busiest arm is the one the others are compared with
    assert compare(scores, costs)["baseline"] == "1.1.0"
    assert compare([], [])["arms"] == [] and compare([], [])["baseline"] is None
