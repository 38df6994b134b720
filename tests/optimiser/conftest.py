"""Example inputs for the optimiser tests: the resumes and jobs in datasets/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from optimiser.parsing import parse_resume
from optimiser.resume import Resume

DATASETS = Path(__file__).resolve().parents[2] / "datasets"
RESUME_FILES = sorted((DATASETS / "resumes").glob("*.resume.json")) + [DATASETS / "resumes" / "john-doe.cv.md"]
JOB_FILES = sorted((DATASETS / "jobs").glob("*.txt"))


def load_resume(path: Path) -> Resume:
    text = path.read_text(encoding="utf-8")
    return Resume.model_validate(json.loads(text)) if path.suffix == ".json" else parse_resume(text)


@pytest.fixture(params=RESUME_FILES, ids=lambda p: p.name)
def example_resume(request) -> Resume:
    return load_resume(request.param)


@pytest.fixture(params=JOB_FILES, ids=lambda p: p.stem)
def job_text(request) -> str:
    return request.param.read_text(encoding="utf-8")


@pytest.fixture
def datasets() -> Path:
    return DATASETS


@pytest.fixture
def load_example():
    """Load a resume from datasets/resumes by file name."""
    return lambda name: load_resume(DATASETS / "resumes" / name)


@pytest.fixture
def john_doe() -> Resume:
    """The Markdown CV (crewAI example), parsed: two roles, one degree, no invented facts."""
    return load_resume(DATASETS / "resumes" / "john-doe.cv.md")


@pytest.fixture
def backend_job_text() -> str:
    return (DATASETS / "jobs" / "backend-eng.txt").read_text(encoding="utf-8")
