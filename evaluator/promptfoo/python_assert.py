"""The `python` assert of an exported config: promptfoo runs `get_assert(output, context)` in the Python
that PROMPTFOO_PYTHON names (ours: it imports the optimiser), once per test, in a process of its own.

The assert's `config` names the case (dataset, case id, the dataset's content hash at export); the
answer is promptfoo's GradingResult with every stable judge score as a named score."""

from __future__ import annotations

from pathlib import Path

from evaluator.datasets import load_dataset
from evaluator.promptfoo.judging import case_inputs, grounding_check, grounding_result


def get_assert(output: str, context: dict) -> dict:
    cfg = context["config"]
    ds = load_dataset(cfg["dataset"], Path(cfg["datasets_root"]))
    if ds.content_hash != cfg["content_hash"]:
        return _result(False, f"dataset {ds.name} changed since the export ({cfg['content_hash']} -> "
                              f"{ds.content_hash}): export the config again", {})
    case = next(c for c in ds.cases if c.id == cfg["case"])
    result, scores = grounding_result(case, case_inputs(case), output)
    passed, reasons = grounding_check(result)
    return _result(passed, "; ".join(reasons) or "grounded: the optimiser would ship this summary",
                   {s.name: s.value for s in scores})


def _result(passed: bool, reason: str, named: dict[str, float]) -> dict:
    return {"pass": passed, "score": 1.0 if passed else 0.0, "reason": reason, "named_scores": named}
