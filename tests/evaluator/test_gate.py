"""The gate's decisions (evaluator/gate.py) on run rows as the platform returns them, and the paired
comparison of two runs (evaluator/compare.py) on score rows: what fails, what is only advisory, and why."""

from __future__ import annotations

import json

import pytest

from evaluator import gate as g
from evaluator.compare import compare_runs
from evaluator.metrics import metric


def _run(**aggregates) -> dict:
    return {"run_id": "r1", "status": "finished", "dataset": "ci", "content_hash": "abc",
            "prompt_version": "writer@1.1.0", "judges": {"grounding": "1", "keyword_coverage": "1"},
            "aggregates": aggregates}


def _thresholds(**metrics) -> g.Thresholds:
    return g.Thresholds.model_validate({"metrics": metrics})


def _baseline(**metrics) -> g.Baseline:
    return g.Baseline(run_id="base", dataset="ci", content_hash="abc", judges={"grounding": "1"}, metrics=metrics)


def never(_judge: str) -> bool:
    return False


def test_checks_gate_on_absolute_bounds_and_say_why():
    t = _thresholds(grounding_violations={"max": 0}, structure_valid={"min": 1})
    ok = g.evaluate(_run(grounding_violations=0.0, structure_valid=1.0), t, None, never)
    assert ok.passed and ok.exit_code == 0
    bad = g.evaluate(_run(grounding_violations=0.5, structure_valid=1.0), t, None, never)
    assert bad.exit_code == 1
    failed = [o for o in bad.outcomes if o.status == "fail"]
    assert [(o.metric, o.reasons) for o in failed] == [("grounding_violations", ["0.5 > max 0"])]


def test_tolerance_from_the_baseline_follows_the_metric_direction():
    t = _thresholds(draft_violations={"tolerance": 0.5}, must_cover={"tolerance": 0.1}, cost_usd={"tolerance_pct": 10})
    base = _baseline(draft_violations=1.0, must_cover=1.0, cost_usd=0.02)
    within = g.evaluate(_run(draft_violations=1.5, must_cover=0.9, cost_usd=0.022), t, base, never)
    assert within.passed, [o.reasons for o in within.outcomes]
    better = g.evaluate(_run(draft_violations=0.0, must_cover=1.0, cost_usd=0.001), t, base, never)
    assert better.passed  # lower violations and cost are improvements, never failures
    worse = g.evaluate(_run(draft_violations=1.6, must_cover=0.8, cost_usd=0.0221), t, base, never)
    reasons = {o.metric: o.reasons for o in worse.outcomes if o.status == "fail"}
    assert set(reasons) == {"draft_violations", "must_cover", "cost_usd"}
    assert reasons["cost_usd"] == ["0.0221 is 0.0021 above the baseline 0.02 (allowed 0.002)"]
    assert reasons["must_cover"][0].startswith("0.8 is 0.2 below the baseline 1")


def test_a_judgment_of_an_unreliable_judge_is_advisory_and_cannot_fail():
    t = _thresholds(match_after={"min": 50}, grounding_violations={"max": 0})
    report = g.evaluate(_run(match_after=10.0, grounding_violations=0.0), t, None, never)
    assert report.passed
    advisory = next(o for o in report.outcomes if o.metric == "match_after")
    assert (advisory.status, advisory.gating, advisory.reasons) == ("advisory", False, ["10 < min 50"])
    reliable = g.evaluate(_run(match_after=10.0, grounding_violations=0.0), t, None, lambda j: j == "keyword_coverage")
    assert not reliable.passed  # the same metric gates once its judge is calibrated


def test_a_metric_the_run_did_not_measure_fails_rather_than_passes():
    report = g.evaluate(_run(structure_valid=1.0), _thresholds(forbidden_claims={"max": 0}), None, never)
    assert not report.passed
    assert "not measured by this run" in report.outcomes[0].reasons[0]


def test_what_the_gate_refuses_to_evaluate():
    t = _thresholds(grounding_violations={"max": 0})
    with pytest.raises(g.GateError, match="not finished"):
        g.evaluate({**_run(grounding_violations=0.0), "status": "running"}, t, None, never)
    stale = g.Baseline(run_id="b", dataset="ci", content_hash="other", metrics={"grounding_violations": 0.0})
    with pytest.raises(g.GateError, match="the data changed"):
        g.evaluate(_run(grounding_violations=0.0), t, stale, never)
    with pytest.raises(g.GateError, match="no metric in the thresholds may gate"):
        g.evaluate(_run(match_after=1.0), _thresholds(match_after={"min": 0}), None, never)
    no_base = g.evaluate(_run(draft_violations=0.0), _thresholds(draft_violations={"tolerance": 0}), None, never)
    assert not no_base.passed and "no baseline was given" in no_base.outcomes[0].reasons[0]
    first = g.evaluate(_run(draft_violations=0.0), _thresholds(draft_violations={"tolerance": 0}), None, never,
                       first_baseline=True)
    assert first.passed  # the run that becomes the first baseline is held to the absolute bounds only


def test_a_changed_judge_makes_its_baseline_stale():
    t = _thresholds(grounding_violations={"tolerance": 0})
    run = {**_run(grounding_violations=0.0), "judges": {"grounding": "2"}}
    report = g.evaluate(run, t, _baseline(grounding_violations=0.0), never)
    assert "judge grounding is version 2 here and 1 in the baseline" in report.outcomes[0].reasons[0]


def test_threshold_and_baseline_files_are_validated(tmp_path):
    bad = tmp_path / "t.yaml"
    bad.write_text("metrics:\n  grounding_violations: {maximum: 0}\n")
    with pytest.raises(g.GateError, match="t.yaml"):
        g.load_thresholds(bad)
    empty = tmp_path / "e.yaml"
    empty.write_text("metrics:\n  grounding_violations: {}\n")
    with pytest.raises(g.GateError, match="needs min, max, tolerance"):
        g.load_thresholds(empty)
    with pytest.raises(g.GateError, match="no such file"):
        g.load_baseline(tmp_path / "missing.json")
    base = g.baseline_from({**_run(x=1.0, **{"x@sd": 0.1}), "judges": {"grounding": "1"}})
    (tmp_path / "b.json").write_text(base.model_dump_json())
    assert g.load_baseline(tmp_path / "b.json").metrics == {"x": 1.0}  # spreads are not baselines
    assert json.loads((tmp_path / "b.json").read_text())["content_hash"] == "abc"


def test_the_committed_ci_thresholds_and_baseline_load_and_gate_on_checks():
    from pathlib import Path

    ci = Path(__file__).resolve().parents[2] / "evaluator" / "ci"
    t, base = g.load_thresholds(ci / "thresholds.yaml"), g.load_baseline(ci / "baseline.json")
    gating = {name for name in t.metrics if metric(name).kind != "judgment"}
    assert {"grounding_violations", "draft_violations", "structure_valid", "cost_usd"} <= gating
    assert set(t.metrics) <= set(base.metrics)  # every bounded metric has a baseline value
    from evaluator.datasets import load_dataset

    assert base.content_hash == load_dataset("ci").content_hash, "evaluator/ci/baseline.json is stale: re-measure it"


def _rows(values: dict[str, dict[str, list[float]]]) -> list[dict]:
    return [{"name": name, "case_id": case, "value": v, "judge": "j", "repeat": i}
            for name, cases in values.items() for case, vs in cases.items() for i, v in enumerate(vs)]


def test_compare_pairs_cases_and_finds_the_regressions():
    a = _rows({"draft_violations": {f"c{i}": [0.0] for i in range(8)},
               "match_after": {f"c{i}": [50.0 + i] for i in range(8)},
               "structure_valid": {f"c{i}": [1.0] for i in range(8)}})
    b = _rows({"draft_violations": {f"c{i}": [float(i % 3 + 1)] for i in range(8)},
               "match_after": {f"c{i}": [50.0 + i + (0.5 if i % 2 else -0.5)] for i in range(8)},
               "structure_valid": {f"c{i}": [1.0] for i in range(8)}})
    out = {r["metric"]: r for r in compare_runs(a, b)}
    dv = out["draft_violations"]
    assert dv["verdict"] == "worse" and dv["n"] == 8 and dv["diff"] == pytest.approx(15 / 8)
    assert dv["ci95"][0] > 0 and [c["case_id"] for c in dv["regressed"]][:3] == ["c2", "c5", "c1"]
    assert out["match_after"]["verdict"] == "unclear"  # +-0.5 around no change: the interval straddles 0
    assert out["structure_valid"]["verdict"] == "same" and out["structure_valid"]["regressed"] == []


def test_a_metric_with_no_better_direction_is_changed_never_worse():
    a = _rows({"length_words": {f"c{i}": [400.0 + i] for i in range(6)}})
    b = _rows({"length_words": {f"c{i}": [520.0 + i] for i in range(6)}})
    (m,) = compare_runs(a, b)
    assert (m["verdict"], m["higher_is_better"], m["regressed"]) == ("changed", None, [])
    # a tolerance on it bounds a move either way
    fewer = metric("length_words").worse(500, 380)
    assert fewer == metric("length_words").worse(500, 620) == 120


def test_compare_averages_repeats_and_counts_unpaired_cases():
    a = _rows({"m": {"c1": [1.0, 3.0], "c2": [2.0], "only_a": [9.0]}})
    b = _rows({"m": {"c1": [2.0], "c2": [2.0], "only_b": [9.0]}})
    (m,) = compare_runs(a, b)
    assert (m["n"], m["only_a"], m["only_b"], m["diff"]) == (2, 1, 1, 0.0)
    assert m["mean_a"] == pytest.approx(13 / 3, abs=1e-6)  # per-case means: c1 (1+3)/2, c2 2, only_a 9
    assert m["verdict"] == "same"
