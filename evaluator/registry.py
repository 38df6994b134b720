"""Judges by name: what `resumeopt eval run --judges`, the online sampler and the CI gate resolve.

Each judge has a name and a version (evaluator/judges.py's `Judge` protocol). Judges that call a model
(LLM-as-judge, embedding relevance, ragas rubrics) get a `JudgeContext` that points them at the gateway,
so their calls and cost land in `model_calls` like every other call. `STABLE` are the judges whose
scores are reproducible from the result alone (no model): the only ones the CI gate uses by default.

`reliable(name)` says whether a judge may gate: its last calibration (evaluator/calibration.json, written
by `resumeopt eval calibrate`) was for its current version and reached the minimum Cohen's kappa.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from evaluator.ats_judge import AtsJudge
from evaluator.calibration import OUTPUT_PATH as CALIBRATION_PATH
from evaluator.calibration import MIN_PAIRS, CalibrationSettings
from evaluator.embedding_judge import EmbeddingRelevance
from evaluator.gateway import JudgeGateway, JudgeSpend
from evaluator.judges import DETERMINISTIC, Judge
from evaluator.length_judge import LengthJudge
from evaluator.llm_judge import LlmRubric
from evaluator.ragas_judges import RagasRubric, RagasStringSimilarity  # ragas itself loads on first build
from evaluator.rubric import load_rubric
from evaluator.safety import SafetyJudge


@dataclass(frozen=True)
class JudgeContext:
    gateway_url: str = ""        # the platform's base URL (…/v1 is appended by the judges that call it)
    api_key: str = ""            # the key the judges present (their calls are attributed to it)
    judge_model: str = "judge"   # gateway alias of the judge model; differs from the writer's by default
    embedding_model: str = "local-smol"
    judge_seed: int = 7          # sent with every judge call at temperature 0: the same verdict each run
    judge_json_mode: str = "llama_schema"  # how the answer is constrained: llama_schema (llama.cpp's
                                           # server), json_schema (OpenAI), json_object, none
    rubric: str = "resume_tailoring"       # evaluator/rubrics/<rubric>.yaml
    spend: JudgeSpend | None = field(default=None, compare=False)  # adds up the judges' calls and cost


def _gateway(ctx: JudgeContext, judge: str, version: str) -> JudgeGateway:
    if not ctx.gateway_url:
        raise ValueError(f"judge {judge!r} calls a model: JudgeContext.gateway_url must name the platform")
    return JudgeGateway(ctx.gateway_url, ctx.api_key, judge, version, spend=ctx.spend)


def _embedding(ctx: JudgeContext) -> Judge:
    return EmbeddingRelevance(_gateway(ctx, EmbeddingRelevance.name, EmbeddingRelevance.version),
                              ctx.embedding_model)


def _llm_rubric(ctx: JudgeContext) -> Judge:
    rubric = load_rubric(ctx.rubric)
    return LlmRubric(_gateway(ctx, LlmRubric.name, LlmRubric.version_for(rubric)), ctx.judge_model, rubric,
                     ctx.judge_seed, ctx.judge_json_mode)  # type: ignore[arg-type]


def _ragas_rubric(ctx: JudgeContext) -> Judge:
    if not ctx.gateway_url:
        raise ValueError("judge 'ragas_rubric' calls a model: JudgeContext.gateway_url must name the platform")
    return RagasRubric(ctx.gateway_url, ctx.api_key, ctx.judge_model, ctx.judge_seed, ctx.spend)


def _ragas_string(ctx: JudgeContext) -> Judge:
    return RagasStringSimilarity()


_OFFLINE: tuple[Judge, ...] = (*DETERMINISTIC, AtsJudge(), LengthJudge(), SafetyJudge())

# name -> factory(ctx) -> Judge. Model-calling judges register here next to the deterministic ones.
FACTORIES: dict[str, Callable[[JudgeContext], Judge]] = {j.name: (lambda ctx, j=j: j) for j in _OFFLINE}
FACTORIES.update({"embedding_relevance": _embedding, "llm_rubric": _llm_rubric,
                  "ragas_rubric": _ragas_rubric, "ragas_string": _ragas_string})
STABLE: tuple[str, ...] = tuple(j.name for j in _OFFLINE)


def current_version(name: str) -> str:
    """The version a judge built today would report (the LLM judge's includes its default rubric's)."""
    if name == LlmRubric.name:
        return LlmRubric.version_for(load_rubric(JudgeContext().rubric))
    fixed = {j.name: j.version for j in (*_OFFLINE, EmbeddingRelevance, RagasRubric, RagasStringSimilarity)}
    return fixed[name]


def resolve(names: list[str] | None, ctx: JudgeContext | None = None) -> list[Judge]:
    """The judges named (default: the stable ones), or KeyError naming the unknown ones."""
    names = list(names or STABLE)
    unknown = [n for n in names if n not in FACTORIES]
    if unknown:
        raise KeyError(f"unknown judges: {', '.join(unknown)}; known: {', '.join(sorted(FACTORIES))}")
    return [FACTORIES[n](ctx or JudgeContext()) for n in names]


def calibration(path: Path = CALIBRATION_PATH) -> dict[str, dict]:
    """The last calibration by judge name ({} when there is none)."""
    if not path.is_file():
        return {}
    return {row["judge"]: row for row in json.loads(path.read_text(encoding="utf-8"))["judges"]}


def reliable(name: str, path: Path = CALIBRATION_PATH, min_kappa: float | None = None) -> bool:
    """True only when the judge was calibrated at its current version and its kappa reaches the
    configured minimum (RESUMEOPT_EVAL_MIN_KAPPA, read now: raising it takes effect without a new
    calibration) on at least MIN_PAIRS pairs. An uncalibrated judge, one changed since its calibration,
    or one calibrated on a `--limit` subset cannot gate."""
    row = calibration(path).get(name)
    if not row or name not in FACTORIES or row.get("version") != current_version(name):
        return False
    floor = CalibrationSettings().eval_min_kappa if min_kappa is None else min_kappa
    return int(row["n"]) >= MIN_PAIRS and float(row["kappa"]) >= floor
