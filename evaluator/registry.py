"""Judges by name: what `resumeopt eval run --judges`, the online sampler and the CI gate resolve.

Each judge has a name and a version (evaluator/judges.py's `Judge` protocol). Judges that call a model
(LLM-as-judge, embedding relevance, ragas rubrics) get a `JudgeContext` that points them at the gateway,
so their calls and cost land in `model_calls` like every other call. `STABLE` are the judges whose
scores are reproducible from the result alone (no model): the only ones the CI gate uses by default.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from evaluator.judges import DETERMINISTIC, Judge


@dataclass(frozen=True)
class JudgeContext:
    gateway_url: str = ""        # the platform's base URL (…/v1 is appended by the judges that call it)
    api_key: str = ""            # the key the judges present (their calls are attributed to it)
    judge_model: str = "judge"   # gateway alias of the judge model; differs from the writer's by default
    embedding_model: str = "local-smol"


# name -> factory(ctx) -> Judge. Model-calling judges register here next to the deterministic ones.
FACTORIES: dict[str, Callable[[JudgeContext], Judge]] = {j.name: (lambda ctx, j=j: j) for j in DETERMINISTIC}
STABLE: tuple[str, ...] = tuple(j.name for j in DETERMINISTIC)


def resolve(names: list[str] | None, ctx: JudgeContext | None = None) -> list[Judge]:
    """The judges named (default: the stable ones), or KeyError naming the unknown ones."""
    names = list(names or STABLE)
    unknown = [n for n in names if n not in FACTORIES]
    if unknown:
        raise KeyError(f"unknown judges: {', '.join(unknown)}; known: {', '.join(sorted(FACTORIES))}")
    return [FACTORIES[n](ctx or JudgeContext()) for n in names]
