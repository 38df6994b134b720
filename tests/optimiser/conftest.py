"""Example inputs for the optimiser tests: the resumes and jobs in datasets/, and a job site on loopback."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from optimiser.parsing import parse_resume
from optimiser.resume import Resume
from tests.support import serve

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


# --- a job site (job URLs: tests/optimiser/test_fetch.py, test_job_url.py) ---------------------------

JOB_PAGE = """<!doctype html><html><head><title>Careers</title><style>.x{color:red}</style>
<script>window.secret = "tracking-script-text";</script></head><body>
<nav><ul><li>Home</li><li>All jobs</li></ul></nav>
<h1>Senior Backend Engineer</h1><p>Company: Acme &amp; Co</p>
<h2>Requirements</h2><ul><li>5+ years of <b>Python</b></li><li><p>Kafka and PostgreSQL</p></li></ul>
<footer>Copyright footer-text</footer></body></html>"""
CHUNK = 64 * 1024
BIG_TOTAL = 64 * 1024 * 1024  # what the server would send if nobody stopped reading


def job_app(state: dict) -> Starlette:
    async def big(_: Request):
        async def chunks():
            try:
                for _ in range(BIG_TOTAL // CHUNK):
                    state["sent"] += CHUNK
                    yield b"x" * CHUNK
                    await asyncio.sleep(0.001)  # a real upstream's pace; lets the server see the client go
            finally:
                state["stopped"] = True
        return StreamingResponse(chunks(), media_type="text/plain")

    async def trickle(_: Request):  # a byte every 0.1 s: no single read times out, only the deadline can
        async def drip():
            for _ in range(300):
                yield b"x"
                await asyncio.sleep(0.1)
        return StreamingResponse(drip(), media_type="text/plain")

    job_json = {"title": "Data Engineer", "company": "Acme", "description": "Build pipelines.",
                "skills": [{"name": "Data", "keywords": ["Spark", "SQL"]}]}
    return Starlette(routes=[
        Route("/job", lambda _: HTMLResponse(JOB_PAGE)),
        Route("/host", lambda r: PlainTextResponse(f"Host: {r.headers['host']}")),
        Route("/job.json", lambda _: Response(json.dumps(job_json), media_type="application/json")),
        Route("/scripts-only", lambda _: HTMLResponse("<html><script>only()</script><nav>menu</nav></html>")),
        Route("/job.pdf", lambda _: Response(b"%PDF-1.7", media_type="application/pdf")),
        Route("/gone", lambda _: PlainTextResponse("gone", status_code=404)),
        Route("/to", lambda r: RedirectResponse(r.query_params["url"], status_code=302)),
        Route("/loop", lambda _: RedirectResponse("/loop", status_code=302)),
        Route("/big", big), Route("/trickle", trickle),
    ])


@pytest.fixture(scope="module")
def job_site_state() -> dict:
    """What the job site's oversized page sent, and whether it stopped (the client went away)."""
    return {"sent": 0, "stopped": False}


@pytest.fixture(scope="module")
def job_site(job_site_state):
    """The base URL of `job_app` served on 127.0.0.1."""
    with serve(job_app(job_site_state)) as url:
        yield url
