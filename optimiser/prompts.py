"""The prompt registry on disk: `prompts/<name>/<version>.yaml`, resolved by label or exact version.

Resolution is cached per prompt folder *state*: the cache key holds every file's (name, inode, mtime,
size), so a label moved by `resumeopt prompts promote` (which replaces files with os.replace: a new
inode each time) is seen by the next resolution in a running platform, without a reload endpoint. The
check is one scandir and a stat per file (a handful per prompt), against a flow that runs for seconds.
"""

from __future__ import annotations

import os
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
    seed: int | None = Field(None, description="sampling seed; None: the optimiser's RESUMEOPT_LLM_SEED")


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
    drill: bool = False  # a deliberately bad version for fault and gate drills: never `production`
    model: ModelParams = ModelParams()
    agent: AgentText
    task: TaskText


class PromptNotFound(LookupError):
    pass


def load_prompt(name: str, ref: str = "production", root: Path = PROMPTS_DIR) -> Prompt:
    """`ref` is a label or an exact version. Among versions carrying a label, the highest wins."""
    return _load_prompt(name, ref, root, folder_state(root / name))


def has_ref(name: str, ref: str, root: Path = PROMPTS_DIR) -> bool:
    """Whether prompt `name` has a version or a label `ref`."""
    try:
        load_prompt(name, ref, root)
    except PromptNotFound:
        return False
    return True


def folder_state(folder: Path) -> tuple:
    """What a cached resolution of this folder depends on: its YAML files as they are on disk now."""
    try:
        entries = [e for e in os.scandir(folder) if e.name.endswith(".yaml")]
    except FileNotFoundError:
        return ()
    return tuple(sorted((e.name, e.inode(), e.stat().st_mtime_ns, e.stat().st_size) for e in entries))


@lru_cache(maxsize=256)
def _load_prompt(name: str, ref: str, root: Path, state: tuple) -> Prompt:
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
