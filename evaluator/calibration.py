"""Judge calibration: how often each judge agrees with the team's labels on pairs of tailorings.

The pairs (datasets/calibration/pairs.jsonl) each hold a resume, a job, two tailorings `a` and `b`, and
the label of the better one. A judge with a `compare(a, b)` method (the LLM judge, both orders) is asked
directly; any other judge with a `primary` score is run on both sides and prefers the side whose
primary score is better; equal scores, a missing score or a `tie` count as disagreement. Per judge:
accuracy and Cohen's kappa against the labels, and `reliable` when kappa reaches
RESUMEOPT_EVAL_MIN_KAPPA (default 0.4, the lower edge of "moderate" agreement in Landis & Koch 1977) on
at least MIN_PAIRS pairs (a kappa from a handful of pairs is noise).
Results go to evaluator/calibration.json, which `evaluator.registry.reliable` reads: an unreliable
judge cannot gate.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from evaluator.datasets import DATASETS_DIR
from evaluator.results import result_from_texts

PAIRS_PATH = DATASETS_DIR / "calibration" / "pairs.jsonl"
OUTPUT_PATH = Path(__file__).resolve().parent / "calibration.json"
MIN_PAIRS = 30  # below this a kappa's 95% interval spans most of [-1, 1]: no judge is reliable on fewer


class CalibrationSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RESUMEOPT_", extra="ignore")
    eval_min_kappa: float = Field(0.4, ge=-1, le=1, description="a judge below this kappa cannot gate")


class Pair(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    resume: str
    job: str
    a: str
    b: str
    label: Literal["a", "b"]
    failure: str
    reason: str


@dataclass(frozen=True)
class JudgeCalibration:
    judge: str
    version: str
    n: int
    accuracy: float
    kappa: float
    reliable: bool
    ties: int
    scored: int                    # pairs where the judge gave a verdict on both sides (or in both orders)
    by_failure: dict[str, float]   # accuracy per failure kind: where the judge is blind
    notes: list[str]               # why verdicts were missing (invalid answers, failed calls), a few distinct


def cohen_kappa(labels: list[str], predictions: list[str]) -> float:
    """Cohen's kappa of two raters over the same items: (p_o - p_e) / (1 - p_e), p_e from each rater's
    own category frequencies. A category only one rater uses (a judge's `tie`) still counts. When both
    raters put everything in one and the same category, agreement beyond chance is undefined: 0."""
    if len(labels) != len(predictions) or not labels:
        raise ValueError("kappa needs two equally long, non-empty lists of ratings")
    n = len(labels)
    observed = sum(x == y for x, y in zip(labels, predictions)) / n
    mine, theirs = Counter(labels), Counter(predictions)
    expected = sum(mine[k] * theirs[k] for k in mine) / (n * n)
    return 0.0 if expected == 1 else (observed - expected) / (1 - expected)


def load_pairs(path: Path = PAIRS_PATH) -> list[Pair]:
    return [Pair.model_validate_json(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def comparable(judge) -> bool:
    return hasattr(judge, "compare") or getattr(judge, "primary", None) is not None


def prefer(judge, a: dict[str, Any], b: dict[str, Any]) -> tuple[str, bool, str]:
    """The judge's preference between two results for the same inputs ("a", "b" or "tie"), whether it
    gave a verdict on both (a judge with nothing to score, like `ats` without an ATS report, did not),
    and why not."""
    if hasattr(judge, "compare"):
        res = judge.compare(a, b)
        return res.winner, res.first is not None and res.second is not None, res.comment
    va, vb = _primary(judge, a), _primary(judge, b)
    if va is None or vb is None:
        return "tie", False, f"no {judge.primary} score"
    if va == vb:
        return "tie", True, ""
    better_a = va > vb if judge.higher_is_better else va < vb
    return ("a" if better_a else "b"), True, ""


def _primary(judge, result: dict[str, Any]) -> float | None:
    return next((s.value for s in judge.score(result, {}) if s.name == judge.primary), None)


def pair_results(pair: Pair, run_id: str = "", root: Path = DATASETS_DIR) -> tuple[dict, dict]:
    """Results for both sides; judge calls about this pair carry `calibration-<run id>-<pair id>`."""
    resume, job = (root / pair.resume).read_text(encoding="utf-8"), (root / pair.job).read_text(encoding="utf-8")
    rid = f"calibration-{run_id}-{pair.id}" if run_id else f"calibration-{pair.id}"
    a, b = (result_from_texts(resume, job, (root / side).read_text(encoding="utf-8"), request_id=rid)
            for side in (pair.a, pair.b))
    return a, b


def calibrate(judges: list, pairs: list[Pair], min_kappa: float,
              on_pair: Callable[[str, Pair, str], None] | None = None, run_id: str = "") -> list[JudgeCalibration]:
    results = {p.id: pair_results(p, run_id) for p in pairs}
    rows = []
    for judge in [j for j in judges if comparable(j)]:
        predictions, scored, notes = [], 0, {}
        for pair in pairs:
            winner, verdict, note = prefer(judge, *results[pair.id])
            predictions.append(winner)
            scored += verdict
            if note:
                notes.setdefault(note, None)
            if on_pair:
                on_pair(judge.name, pair, winner)
        rows.append(_row(judge, pairs, predictions, scored, list(notes)[:5], min_kappa))
    return rows


def _row(judge, pairs: list[Pair], predictions: list[str], scored: int, notes: list[str],
         min_kappa: float) -> JudgeCalibration:
    labels = [p.label for p in pairs]
    kappa = cohen_kappa(labels, predictions)
    hits: dict[str, list[bool]] = {}
    for p, pred in zip(pairs, predictions):
        hits.setdefault(p.failure, []).append(pred == p.label)
    return JudgeCalibration(
        judge=judge.name, version=judge.version, n=len(pairs),
        accuracy=round(sum(x == y for x, y in zip(labels, predictions)) / len(pairs), 4),
        kappa=round(kappa, 4), reliable=kappa >= min_kappa and len(pairs) >= MIN_PAIRS, ties=predictions.count("tie"), scored=scored,
        by_failure={k: round(sum(v) / len(v), 3) for k, v in hits.items()}, notes=notes)


def write(rows: list[JudgeCalibration], min_kappa: float, context: dict[str, str],
          path: Path = OUTPUT_PATH, pairs_path: Path = PAIRS_PATH) -> None:
    """Merge `rows` into the file: judges not recalibrated this time keep their last row."""
    kept = {}
    if path.is_file():
        kept = {r["judge"]: r for r in json.loads(path.read_text(encoding="utf-8")).get("judges", [])}
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    for row in rows:
        kept[row.judge] = {**asdict(row), "min_kappa": min_kappa, "calibrated_at": stamp, **context}
    doc = {"pairs": str(pairs_path.relative_to(DATASETS_DIR.parent)),
           "pairs_sha256": hashlib.sha256(pairs_path.read_bytes()).hexdigest()[:16],
           "judges": sorted(kept.values(), key=lambda r: r["judge"])}
    path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
