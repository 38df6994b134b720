"""Golden datasets: `datasets/golden/<name>.yaml`, validated on load and named by a content hash, so a
run says exactly which data it used."""

from __future__ import annotations

import hashlib
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

DATASETS_DIR = Path(__file__).resolve().parent.parent / "datasets"


class Expect(BaseModel):
    model_config = ConfigDict(extra="forbid")
    must_cover: list[str] = []
    # Claims a tailoring of this case must not make unless the resume makes them (an employer the
    # candidate never had, a certificate, a metric the writer might invent): the `forbidden` judge.
    forbidden: list[str] = []
    min_match_after: float = Field(0.0, ge=0, le=100)


class Case(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    resume: str = Field(description="path under datasets/")
    job: str = Field(description="path under datasets/")
    resume_format: str | None = None
    expect: Expect = Expect()
    _root: Path = PrivateAttr(DATASETS_DIR)

    def resume_text(self) -> str:
        return (self._root / self.resume).read_text(encoding="utf-8")

    def job_text(self) -> str:
        return (self._root / self.job).read_text(encoding="utf-8")


class Dataset(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""
    cases: list[Case] = Field(min_length=1)
    content_hash: str = ""


def load_dataset(name: str, root: Path = DATASETS_DIR) -> Dataset:
    path = root / "golden" / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in (root / "golden").glob("*.yaml"))
        raise FileNotFoundError(f"no dataset {name!r}; known: {', '.join(known)}")
    ds = Dataset.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    digest = hashlib.sha256(path.read_bytes())
    for case in ds.cases:  # the hash covers the files the cases point at, not just the index
        case._root = root
        digest.update(case.resume_text().encode())
        digest.update(case.job_text().encode())
    ds.content_hash = digest.hexdigest()[:16]
    return ds
