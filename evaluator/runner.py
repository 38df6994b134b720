"""Scores as the store keeps them: a judge's `Score`s as `scores` rows of one result, tagged with the set of
prompt versions behind it. Offline runs (evaluator/runs.py), the demo, the online sampler and feedback use it."""

from __future__ import annotations

from evaluator.judges import Score


def prompt_version_tag(versions: dict[str, str]) -> str:
    """One label for the set of prompt versions that produced a result: `job_analyst@1.0.0+...`."""
    return "+".join(f"{name}@{v}" for name, v in sorted(versions.items()))


def score_rows(scores: list[Score], result: dict, *, run_id: str = "", dataset: str = "",
               case_id: str = "") -> list[dict]:
    tag = prompt_version_tag(result.get("prompt_versions", {}))
    return [{"name": s.name, "value": s.value, "judge": s.judge, "judge_version": s.judge_version,
             "comment": s.comment, "request_id": result["request_id"], "run_id": run_id,
             "dataset": dataset, "case_id": case_id, "prompt_version": tag} for s in scores]
