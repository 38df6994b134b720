"""The written rubric of the LLM judge (evaluator/rubrics/*.yaml), the prompts made from it, and the
JSON the judge must answer with, as pydantic models and as a JSON schema for constrained decoding."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator

RUBRICS_DIR = Path(__file__).resolve().parent / "rubrics"
# Each text in a prompt is cut here (~2,000 tokens): two resumes and a job then fit the local model's
# 8,192-token context with the rubric and the answer.
MAX_TEXT_CHARS = 8000
REASONING_CHARS = 300  # per criterion, as stored: a longer reasoning is cut, not refused


class Criterion(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str
    anchors: dict[int, str] = Field(min_length=5, max_length=5)


class Rubric(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    version: str
    role: str
    criteria: dict[str, Criterion] = Field(min_length=1)
    pointwise: str
    pairwise: str

    def system_prompt(self, mode: Literal["pointwise", "pairwise"]) -> str:
        """Pointwise prompts carry every anchor; pairwise ones only the questions: a comparison needs no
        absolute scale, and ~400 fewer tokens matter on a 2-core CPU (prompt evaluation is the bulk of a call)."""
        lines = [self.role, "", getattr(self, mode), "", "CRITERIA"]
        for name, c in self.criteria.items():
            lines.append(f"- {name}: {c.question}")
            if mode == "pointwise":
                lines += [f"    {score}: {text}" for score, text in sorted(c.anchors.items())]
        field = '"score": 1-5' if mode == "pointwise" else '"winner": "A" | "B" | "tie"'
        example = ", ".join(f'"{n}": {{"reasoning": "...", {field}}}' for n in self.criteria)
        lines += ["", f'Answer with only this JSON object: {{"criteria": {{{example}}}}}']
        return "\n".join(lines)

    def schema(self, mode: Literal["pointwise", "pairwise"]) -> dict:
        """The answer's JSON schema, written out without `$ref`s, which not every grammar converter follows.
        No `maxLength`: llama.cpp expands it into one grammar rule per character, and sampling slowed to
        ~1 s a token here with 300."""
        field, values = ("score", {"type": "integer", "enum": [1, 2, 3, 4, 5]}) if mode == "pointwise" \
            else ("winner", {"type": "string", "enum": ["A", "B", "tie"]})
        item = _object({"reasoning": {"type": "string"}, field: values})
        return _object({"criteria": _object({name: item for name in self.criteria})})

    def parse(self, text: str, mode: Literal["pointwise", "pairwise"]) -> dict[str, dict]:
        """The criteria of a valid answer as plain dicts; ValueError (pydantic's) when it is not."""
        verdict = _verdict_model(tuple(self.criteria), mode).model_validate_json(_json_part(text))
        return {name: getattr(verdict.criteria, name).model_dump() for name in self.criteria}


class _Reasoned(BaseModel):
    reasoning: str

    @field_validator("reasoning")
    @classmethod
    def _cut(cls, text: str) -> str:
        return text[:REASONING_CHARS]


class PointwiseCriterion(_Reasoned):
    score: Literal[1, 2, 3, 4, 5]


class PairwiseCriterion(_Reasoned):
    winner: Literal["A", "B", "tie"]


@lru_cache(maxsize=16)
def _verdict_model(names: tuple[str, ...], mode: str) -> type[BaseModel]:
    item = PointwiseCriterion if mode == "pointwise" else PairwiseCriterion
    criteria = create_model(f"{mode.title()}Criteria", **{n: (item, ...) for n in names})
    return create_model(f"{mode.title()}Verdict", criteria=(criteria, ...))


def _object(properties: dict) -> dict:
    return {"type": "object", "properties": properties, "required": list(properties),
            "additionalProperties": False}


def _json_part(text: str) -> str:
    """The outermost {...} of an answer: models often wrap JSON in a code fence or a sentence."""
    start, end = text.find("{"), text.rfind("}")
    return text[start:end + 1] if 0 <= start < end else text


def clip(text: str, limit: int = MAX_TEXT_CHARS) -> str:
    return text if len(text) <= limit else text[:limit] + "\n[... cut ...]"


@lru_cache(maxsize=8)
def load_rubric(name: str = "resume_tailoring") -> Rubric:
    return Rubric.model_validate(yaml.safe_load((RUBRICS_DIR / f"{name}.yaml").read_text(encoding="utf-8")))
