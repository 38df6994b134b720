"""`resumeopt eval gate`: pass or fail a run against thresholds and a baseline, saying why.

Thresholds (YAML, evaluator/ci/thresholds.yaml for CI) bound each named metric's mean over the run:

    metrics:
      grounding_violations: {max: 0}
      structure_valid: {min: 1}
      draft_violations: {max: 0.5, tolerance: 0.25}    # and at most 0.25 worse than the baseline
      cost_usd: {tolerance_pct: 10}                    # within +10 % of the baseline's cost

`min`/`max` are absolute; `tolerance` (absolute) and `tolerance_pct` (percent of the baseline's value)
say how far the mean may move in the metric's worse direction from the baseline (the larger allowance
wins when both are given). The baseline (JSON) is an earlier run's means, written by
`eval gate --update-baseline` after a run passes; it names the dataset content hash it was measured on,
and a gate on other data refuses to compare with it (exit 2) rather than compare unlike things.

A metric gates if it is a check or a measure, or a judgment whose judge is reliable (evaluator/metrics.py);
a judgment whose judge is not reliable is reported as advisory and cannot fail the gate. A metric the
thresholds name but the run did not measure fails: a gate must not pass because a judge did not run.

Exit codes: 0 pass, 1 a gating metric failed, 2 the gate could not be evaluated (bad files, unknown or
unfinished run, stale baseline, nothing that may gate).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from evaluator.metrics import metric

PASS, FAIL, USAGE = 0, 1, 2


class GateError(ValueError):
    """The gate cannot be evaluated (exit 2)."""


class Bound(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min: float | None = None
    max: float | None = None
    tolerance: float | None = Field(None, ge=0)
    tolerance_pct: float | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _something(self) -> Bound:
        if self.min is None and self.max is None and self.tolerance is None and self.tolerance_pct is None:
            raise ValueError("a bound needs min, max, tolerance or tolerance_pct")
        return self


class Thresholds(BaseModel):
    model_config = ConfigDict(extra="forbid")
    metrics: dict[str, Bound] = Field(min_length=1)


class Baseline(BaseModel):
    model_config = ConfigDict(extra="forbid")
    run_id: str
    dataset: str
    content_hash: str
    prompt_version: str = ""
    judges: dict[str, str] = {}
    created: str = ""
    metrics: dict[str, float]


def load_thresholds(path: Path) -> Thresholds:
    return _load(path, Thresholds, yaml.safe_load)


def load_baseline(path: Path) -> Baseline:
    return _load(path, Baseline, json.loads)


def _load(path: Path, model, parse):
    try:
        return model.model_validate(parse(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise GateError(f"{path}: no such file") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise GateError(f"{path}: {where}: {first['msg']}") from None
    except (ValueError, yaml.YAMLError) as exc:
        raise GateError(f"{path}: {str(exc).splitlines()[0]} ({type(exc).__name__})") from None


def baseline_from(run: dict) -> Baseline:
    """A baseline from a finished run's row (GET /api/v1/eval/runs/{id}): its means, not its spreads."""
    return Baseline(run_id=run["run_id"], dataset=run["dataset"], content_hash=run["content_hash"],
                    prompt_version=run["prompt_version"], judges=dict(run["judges"]),
                    created=datetime.now(UTC).isoformat(timespec="seconds"),
                    metrics={k: v for k, v in run["aggregates"].items() if "@" not in k})


@dataclass
class Outcome:
    metric: str
    value: float | None
    status: str               # pass | fail | advisory (would fail, judge unreliable) | ok-advisory
    gating: bool
    reasons: list[str] = field(default_factory=list)
    baseline: float | None = None


@dataclass
class GateReport:
    run_id: str
    outcomes: list[Outcome]

    @property
    def passed(self) -> bool:
        return not any(o.status == "fail" for o in self.outcomes)

    @property
    def exit_code(self) -> int:
        return PASS if self.passed else FAIL


def evaluate(run: dict, thresholds: Thresholds, baseline: Baseline | None,
             reliable: Callable[[str], bool], first_baseline: bool = False) -> GateReport:
    """Gate a finished run (its row: dataset, content_hash, judges, aggregates). `first_baseline`: there is
    no baseline yet and this run may become it, so only the absolute bounds apply."""
    if run.get("status") != "finished":
        raise GateError(f"run {run.get('run_id')} is {run.get('status')!r}, not finished")
    if baseline is not None and baseline.content_hash != run["content_hash"]:
        raise GateError(f"the baseline was measured on dataset {baseline.dataset} ({baseline.content_hash}) and run "
                        f"{run['run_id']} on {run['dataset']} ({run['content_hash']}): the data changed, so "
                        "re-measure the baseline (eval gate --update-baseline on a run you trust)")
    judges = dict(run.get("judges") or {})
    values = run["aggregates"]
    outcomes = []
    for name, bound in thresholds.metrics.items():
        m = metric(name)
        gating = m.kind != "judgment" or reliable(m.judge)
        value = values.get(name)
        out = Outcome(name, value, "pass", gating)
        if value is None:
            out.reasons.append(f"not measured by this run (judge {m.judge or '?'} not run?)")
        else:
            if bound.min is not None and value < bound.min:
                out.reasons.append(f"{value:g} < min {bound.min:g}")
            if bound.max is not None and value > bound.max:
                out.reasons.append(f"{value:g} > max {bound.max:g}")
            if not first_baseline:
                out.reasons += _against_baseline(name, value, bound, baseline, judges, out)
        if out.reasons:
            out.status = "fail" if gating or value is None else "advisory"
        elif not gating:
            out.status = "ok-advisory"
        outcomes.append(out)
    if not any(o.gating for o in outcomes):
        raise GateError("no metric in the thresholds may gate (every one is a judgment of an unreliable judge)")
    return GateReport(run["run_id"], outcomes)


def _against_baseline(name: str, value: float, bound: Bound, baseline: Baseline | None, judges: dict[str, str],
                      out: Outcome) -> list[str]:
    if bound.tolerance is None and bound.tolerance_pct is None:
        return []
    if baseline is None:
        return ["a tolerance is set but no baseline was given (--baseline FILE)"]
    base = baseline.metrics.get(name)
    m = metric(name)
    if base is None:
        return [f"the baseline has no {name}"]
    if m.judge in judges and m.judge in baseline.judges and judges[m.judge] != baseline.judges[m.judge]:
        return [f"judge {m.judge} is version {judges[m.judge]} here and {baseline.judges[m.judge]} in the baseline: "
                "re-measure the baseline"]
    out.baseline = base
    allowed = max(bound.tolerance or 0.0, abs(base) * (bound.tolerance_pct or 0.0) / 100)
    worse = m.worse(base, value)
    if worse > allowed + 1e-9:
        direction = {True: "below", False: "above", None: "away from"}[m.higher_is_better]
        return [f"{value:g} is {worse:g} {direction} the baseline {base:g} (allowed {allowed:g})"]
    return []
