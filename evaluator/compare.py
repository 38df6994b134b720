"""`resumeopt eval compare RUN_A RUN_B`: per metric, how run B differs from run A, with a paired
bootstrap 95 % interval, and the cases that regressed.

Pairing: both runs scored the same cases (the same dataset), so the difference is taken case by case
(a case's score is the mean of its repeats) and the mean of those differences is resampled by case.
Pairing removes the spread between cases (a long resume scores differently from a short one whichever
prompt wrote it), so a real change shows with far fewer cases than comparing two independent means.
Cases only one run has are counted and left out of the difference.

Verdicts: `better` / `worse` when the interval excludes 0 (in the metric's direction, evaluator/
metrics.py; `changed` for a metric with no better direction, such as the length), `same` when every
case scored the same in both runs, otherwise `unclear` (the interval straddles 0, or too few cases to
draw one). Only a metric with a direction has regressed cases.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from evaluator.arms import RESAMPLES, SEED, _resampled_means
from evaluator.metrics import metric

EPS = 1e-9


def per_case(rows: list[dict]) -> dict[str, dict[str, float]]:
    """metric -> case id -> mean over the case's repeats."""
    values: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    judges: dict[str, str] = {}
    for r in rows:
        values[r["name"]][r["case_id"]].append(float(r["value"]))
        judges.setdefault(r["name"], r.get("judge", ""))
    return {name: {c: float(np.mean(v)) for c, v in cases.items()} for name, cases in values.items()}


def compare_runs(rows_a: list[dict], rows_b: list[dict], resamples: int = RESAMPLES, seed: int = SEED) -> list[dict]:
    """One entry per metric either run has: means, the paired difference B - A with its 95 % interval,
    the verdict, and the regressed cases (worst first)."""
    a_cases, b_cases = per_case(rows_a), per_case(rows_b)
    judges = {r["name"]: r.get("judge", "") for r in (*rows_a, *rows_b)}
    rng = np.random.default_rng(seed)
    out = []
    for name in sorted(set(a_cases) | set(b_cases)):
        m = metric(name, judges.get(name, ""))
        a, b = a_cases.get(name, {}), b_cases.get(name, {})
        common = sorted(set(a) & set(b))
        diffs = np.array([b[c] - a[c] for c in common])
        entry = {"metric": name, "kind": m.kind, "higher_is_better": m.higher_is_better, "n": len(common),
                 "only_a": len(set(a) - set(b)), "only_b": len(set(b) - set(a)),
                 "mean_a": _mean(a.values()), "mean_b": _mean(b.values()),
                 "diff": round(float(diffs.mean()), 6) if len(diffs) else None, "ci95": None}
        if len(diffs) >= 2 and np.any(diffs != diffs[0]):
            lo, hi = np.percentile(_resampled_means(diffs, rng, resamples), [2.5, 97.5])
            entry["ci95"] = [round(float(lo), 6), round(float(hi), 6)]
        elif len(diffs) >= 2:  # every case moved by the same amount: the interval is that amount
            entry["ci95"] = [entry["diff"], entry["diff"]]
        entry["verdict"] = _verdict(entry, m.higher_is_better, diffs)
        worse = [(c, m.worse(a[c], b[c])) for c in common] if m.higher_is_better is not None else []
        entry["regressed"] = [{"case_id": c, "a": round(a[c], 6), "b": round(b[c], 6)}
                              for c, w in sorted(worse, key=lambda x: -x[1]) if w > EPS]
        out.append(entry)
    return out


def _verdict(entry: dict, higher_is_better: bool | None, diffs: np.ndarray) -> str:
    if not len(diffs):
        return "unclear"
    if np.all(np.abs(diffs) <= EPS):
        return "same"
    ci = entry["ci95"]
    if ci is None:
        return "unclear"
    lo, hi = ci
    if lo > EPS or hi < -EPS:
        up = lo > EPS
        if higher_is_better is None:
            return "changed"
        return "better" if up == higher_is_better else "worse"
    return "unclear"


def _mean(values) -> float | None:
    values = list(values)
    return round(float(np.mean(values)), 6) if values else None
