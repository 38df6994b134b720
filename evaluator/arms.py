"""Comparing the arms of a prompt experiment on live traffic: per arm, each online metric's mean and n
and the cost per optimisation; per arm against the baseline, the difference of means with a seeded
percentile-bootstrap 95 % interval (resampling each arm's optimisations independently).

The interval says how much the difference could move with other users in the arms; an interval that
straddles 0 is no evidence either way. Online scores come from deterministic judges on real results
(and from users' feedback), not from the simulator: a figure here is only as good as the traffic behind it.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

import numpy as np

RESAMPLES = 2000
SEED = 7
# Resampled means are drawn in blocks of at most this many indices (~16 MB of int64), whatever n is.
BLOCK = 2_000_000


def compare(score_rows: list[dict], cost_rows: list[dict], baseline: str | None = None,
            resamples: int = RESAMPLES, seed: int = SEED) -> dict:
    """`score_rows`: (arm, request_id, name, value); `cost_rows`: (arm, request_id, calls, cost_usd),
    one per optimisation (gateway/store/online.py). The baseline is the given arm, else the busiest."""
    values: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in score_rows:
        values[r["arm"]][r["name"]].append(float(r["value"]))
    costs: dict[str, list[Decimal]] = defaultdict(list)
    for r in cost_rows:
        costs[r["arm"]].append(Decimal(r["cost_usd"] or 0))
    arms = sorted(set(values) | set(costs), key=lambda a: (-len(costs[a]), a))
    if baseline not in arms:
        baseline = arms[0] if arms else None
    rng = np.random.default_rng(seed)
    out = {"baseline": baseline, "resamples": resamples, "seed": seed,
           "arms": [_arm(a, values[a], costs[a]) for a in arms], "differences": []}
    for arm in arms:
        if arm == baseline:
            continue
        metrics = {**{m: (values[baseline].get(m, []), v) for m, v in values[arm].items()},
                   "cost_usd": ([float(c) for c in costs[baseline]], [float(c) for c in costs[arm]])}
        for metric, (a, b) in sorted(metrics.items()):
            out["differences"].append({"arm": arm, "vs": baseline, "metric": metric, "n": [len(a), len(b)],
                                       **bootstrap_diff(a, b, rng, resamples)})
    return out


def _arm(arm: str, metrics: dict[str, list[float]], costs: list[Decimal]) -> dict:
    total = sum(costs, Decimal(0))
    per = total / len(costs) if costs else Decimal(0)
    return {"arm": arm, "optimisations": len(costs), "cost_usd": _usd(total), "cost_per_optimisation_usd": _usd(per),
            "metrics": {m: {"n": len(v), "mean": round(float(np.mean(v)), 4)} for m, v in sorted(metrics.items())}}


def bootstrap_diff(a: list[float], b: list[float], rng: np.random.Generator, resamples: int = RESAMPLES) -> dict:
    """mean(b) - mean(a), and its percentile-bootstrap 95 % interval (None when an arm has < 2 values)."""
    if not a or not b:
        return {"diff": None, "ci95": None}
    diff = float(np.mean(b) - np.mean(a))
    if len(a) < 2 or len(b) < 2:
        return {"diff": round(diff, 6), "ci95": None}
    draws = _resampled_means(np.asarray(b), rng, resamples) - _resampled_means(np.asarray(a), rng, resamples)
    lo, hi = np.percentile(draws, [2.5, 97.5])
    return {"diff": round(diff, 6), "ci95": [round(float(lo), 6), round(float(hi), 6)]}


def _resampled_means(x: np.ndarray, rng: np.random.Generator, resamples: int) -> np.ndarray:
    per_block = max(1, BLOCK // len(x))
    out = []
    for start in range(0, resamples, per_block):
        k = min(per_block, resamples - start)
        out.append(x[rng.integers(0, len(x), size=(k, len(x)))].mean(axis=1))
    return np.concatenate(out)


def _usd(x: Decimal) -> str:
    return format(x.quantize(Decimal("1e-9")).normalize(), "f")
