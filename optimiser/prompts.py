"""The prompt registry on disk: `prompts/<name>/<version>.yaml`, resolved by label or exact version."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

PROMPTS_DIR = Path(__file__).resolve().parent.parent / "prompts"


class ModelParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    alias: str | None = None
    temperature: float = Field(0.0, ge=0, le=2)
    max_tokens: int = Field(256, ge=1, le=8192)


class AgentText(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: str
    goal: str
    backstory: str


class TaskText(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: str
    expected_output: str
    feedback: str = Field("", description="filled into {feedback} when the agent is asked again; {claims}: why")


class Prompt(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    version: str = Field(pattern=r"^\d+\.\d+\.\d+$")
    labels: list[str] = []
    changelog: str
    model: ModelParams = ModelParams()
    agent: AgentText
    task: TaskText


class PromptNotFound(LookupError):
    pass


@lru_cache(maxsize=64)
def load_prompt(name: str, ref: str = "production", root: Path = PROMPTS_DIR) -> Prompt:
    """`ref` is a label or an exact version. Among versions carrying a label, the highest wins."""
    versions = [_read(p) for p in sorted((root / name).glob("*.yaml"))]
    if not versions:
        raise PromptNotFound(f"no prompt named {name!r} in {root}")
    exact = [p for p in versions if p.version == ref]
    labelled = [p for p in versions if ref in p.labels]
    chosen = exact or sorted(labelled, key=lambda p: tuple(int(x) for x in p.version.split(".")))
    if not chosen:
        raise PromptNotFound(f"prompt {name!r} has no version or label {ref!r}")
    return chosen[-1]


def _read(path: Path) -> Prompt:
    with open(path, encoding="utf-8") as fh:
        prompt = Prompt.model_validate(yaml.safe_load(fh))
    if prompt.name != path.parent.name or prompt.version != path.stem:
        raise ValueError(f"{path}: name/version inside the file must match its path")
    return prompt
