"""Offline runs: every case of a dataset through the optimiser API, judged, scores stored under a run id."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from evaluator.datasets import Case, Dataset
from evaluator.judges import Score, judge_all
from optimiser.client import PlatformClient


@dataclass
class CaseResult:
    case_id: str
    request_id: str
    degraded: bool
    scores: list[Score]


@dataclass
class RunReport:
    run_id: str
    dataset: str
    content_hash: str
    prompt_versions: str = ""
    cases: list[CaseResult] = field(default_factory=list)

    def means(self) -> dict[str, float]:
        by_name: dict[str, list[float]] = {}
        for c in self.cases:
            for s in c.scores:
                by_name.setdefault(s.name, []).append(s.value)
        return {k: round(sum(v) / len(v), 4) for k, v in by_name.items()}


def prompt_version_tag(versions: dict[str, str]) -> str:
    """One label for the set of prompt versions that produced a result: `job_analyst@1.0.0+...`."""
    return "+".join(f"{name}@{v}" for name, v in sorted(versions.items()))


def score_rows(scores: list[Score], result: dict, *, run_id: str = "", dataset: str = "",
               case_id: str = "") -> list[dict]:
    tag = prompt_version_tag(result.get("prompt_versions", {}))
    return [{"name": s.name, "value": s.value, "judge": s.judge, "judge_version": s.judge_version,
             "comment": s.comment, "request_id": result["request_id"], "run_id": run_id,
             "dataset": dataset, "case_id": case_id, "prompt_version": tag} for s in scores]


def run_dataset(client: PlatformClient, ds: Dataset,
                on_case: Callable[[Case, CaseResult], None] | None = None) -> RunReport:
    report = RunReport(run_id=uuid.uuid4().hex[:12], dataset=ds.name, content_hash=ds.content_hash)
    for case in ds.cases:
        result = client.optimise(case.resume_text(), case.job_text(), case.resume_format)
        scores = judge_all(result, case.expect.model_dump())
        client.post_scores(score_rows(scores, result, run_id=report.run_id, dataset=ds.name, case_id=case.id))
        report.prompt_versions = prompt_version_tag(result.get("prompt_versions", {}))
        done = CaseResult(case.id, result["request_id"], result["degraded"], scores)
        report.cases.append(done)
        if on_case:
            on_case(case, done)
    return report
