"""Prompt experiments: live traffic split between versions of one prompt by weight, sticky per user.

`deploy/experiments.yaml` (RESUMEOPT_EXPERIMENTS_PATH), read and validated when the platform starts:

    experiments:
      - name: writer-v1.1
        prompt: writer
        arms: [{ref: "1.0.0", weight: 90}, {ref: "1.1.0", weight: 10}]
        enabled: true

A request that makes no prompt choice of its own gets, for each enabled experiment, the arm at a stable
hash of (experiment name, subject): the caller's user id, else its team and key subject. So one user
keeps one arm for the experiment's life on every replica, and the experiments' assignments are
independent of each other. The arms are chosen where a request is accepted (an async job keeps its
arms through retries), go into the flow's prompt set, out on every model call (`x-experiment`), into
`model_calls.experiments`, the `optimisations` row and the result (`experiments: {name: arm}`).
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from optimiser.prompts import PromptNotFound, load_prompt

log = logging.getLogger("resumeopt.optimiser.experiments")

# Names and refs travel in a header and land in a Map column: a narrow alphabet with no ',' or '='.
NAME_RE = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class Arm(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ref: str = Field(pattern=NAME_RE, description="a version or a label of the experiment's prompt")
    weight: int = Field(ge=0, le=1_000_000, description="share of subjects, relative to the other arms")
    name: str | None = Field(None, pattern=NAME_RE, description="what the arm is recorded as (default: ref)")

    @property
    def key(self) -> str:
        return self.name or self.ref


class Experiment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=NAME_RE)
    prompt: str = Field(pattern=NAME_RE)
    arms: list[Arm] = Field(min_length=1)
    enabled: bool = True

    @model_validator(mode="after")
    def _arms(self) -> Experiment:
        if sum(a.weight for a in self.arms) <= 0:
            raise ValueError(f"experiment {self.name}: the arms' weights add up to 0")
        keys = [a.key for a in self.arms]
        if len(set(keys)) != len(keys):
            raise ValueError(f"experiment {self.name}: two arms are recorded as the same name")
        return self

    def pick(self, subject: str) -> Arm:
        """The arm of `subject`: a point in [0, total weight) from the hash, then the cumulative weights."""
        total = sum(a.weight for a in self.arms)
        point = bucket(self.name, subject) * total
        upto = 0
        for arm in self.arms:
            upto += arm.weight
            if point < upto:
                return arm
        return [a for a in self.arms if a.weight][-1]  # float rounding at the very top


class ArmChoice(BaseModel):
    experiment: str
    prompt: str
    arm: str
    ref: str


class ExperimentsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    experiments: list[Experiment] = []


class Experiments:
    """The experiments of one process, validated against its prompt registry."""

    def __init__(self, experiments: list[Experiment], prompts_dir: Path):
        self.all, self._prompts_dir = experiments, prompts_dir
        names = [e.name for e in experiments]
        if len(set(names)) != len(names):
            raise ValueError("two experiments share a name")
        live = [e.prompt for e in experiments if e.enabled]
        if len(set(live)) != len(live):  # each would override the other's prompt: the record would lie
            raise ValueError("two enabled experiments vary the same prompt")
        for e in experiments:
            for arm in e.arms if e.enabled else ():
                load_prompt(e.prompt, arm.ref, prompts_dir)  # PromptNotFound: refuse to start

    @classmethod
    def load(cls, path: Path, prompts_dir: Path) -> Experiments:
        if not path.exists():
            return cls([], prompts_dir)
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return cls(ExperimentsFile.model_validate(data).experiments, prompts_dir)

    def get(self, name: str) -> Experiment | None:
        return next((e for e in self.all if e.name == name), None)

    def choose(self, subject: str) -> list[ArmChoice]:
        """The arms of `subject` in every enabled experiment. An arm whose ref no longer resolves (its
        label was promoted away) leaves that experiment out of this request: production serves, and
        the request is not recorded as the arm it did not run."""
        out = []
        for e in self.all:
            if not e.enabled:
                continue
            arm = e.pick(subject)
            try:
                load_prompt(e.prompt, arm.ref, self._prompts_dir)
            except PromptNotFound:
                log.warning("experiment %s: arm %s (%s) no longer resolves; left out", e.name, arm.key, arm.ref)
                continue
            out.append(ArmChoice(experiment=e.name, prompt=e.prompt, arm=arm.key, ref=arm.ref))
        return out


def bucket(experiment: str, subject: str) -> float:
    """A stable point in [0, 1) for (experiment, subject): the first 8 bytes of a SHA-256."""
    digest = hashlib.sha256(f"{experiment}\x00{subject}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def subject_of(user_id: str, team: str, key_subject: str) -> str:
    """Whom an assignment sticks to: the user, else the team's key (or JWT subject)."""
    return f"user:{user_id}" if user_id else f"key:{team}/{key_subject}"


def header(choices: list[ArmChoice]) -> str:
    """The `x-experiment` header: `name=arm` pairs, comma-separated."""
    return ",".join(f"{c.experiment}={c.arm}" for c in choices)
