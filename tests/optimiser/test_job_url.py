"""`POST /v1/optimise` with `job_url`, through the real platform (simulated model) over loopback HTTP: the
server fetches the job, so its SSRF rules answer, as JSON errors with a stable code and the right status."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx

from gateway.config import GatewayConfig
from gateway.local_model import free_port
from optimiser.client import PlatformClient
from optimiser.settings import OptimiserSettings
from resumeopt.platform import create_platform_app
from tests.support import serve

REPO = Path(__file__).resolve().parents[2]
RESUME = (REPO / "datasets" / "samples" / "resume.md").read_text()
SIMULATED = GatewayConfig.model_validate({"default_alias": "local-smol", "models": [
    {"alias": "local-smol", "deployments": [{"name": "sim", "provider": "simulator", "model": "sim", "simulator": {
        "reply": "A backend engineer with Python.", "completion_tokens": 8}}]}]})


@contextlib.contextmanager
def platform(gw_settings, **fetch_settings) -> Iterator[str]:
    port = free_port()
    opt = OptimiserSettings(gateway_url=f"http://127.0.0.1:{port}", fetch_max_bytes=256 * 1024, **fetch_settings)
    with serve(create_platform_app(gw_settings, SIMULATED, opt), port=port) as url:
        yield url


def error_of(url: str, body: dict) -> tuple[int, str]:
    resp = httpx.post(f"{url}/v1/optimise", json=body, timeout=30)
    error = resp.json()["error"]
    assert error["message"]
    return resp.status_code, error["code"]


def test_a_job_url_is_fetched_by_the_platform_and_refused_where_it_must_be(gw_settings, job_site, tmp_path):
    with platform(gw_settings, fetch_allow=["127.0.0.1"], fetch_timeout_s=1) as url:
        stages = []
        result = PlatformClient(url).optimise(RESUME, None, job_url=f"{job_site}/job", progress=stages.append)
        assert {"stage": "parsed", "work_entries": 2, "job_title": "Senior Backend Engineer"} in stages
        assert "Python" in result["match"]["matched"]
        for path, expected in [
            ("/to?url=http://10.0.0.1/", (400, "url_not_allowed")),
            ("/to?url=http://169.254.169.254/latest/meta-data/", (400, "url_not_allowed")),
            ("/loop", (502, "job_fetch_failed")),
            ("/big", (413, "job_too_large")),
            ("/job.pdf", (415, "unsupported_media_type")),
            ("/scripts-only", (422, "empty_job")),
            ("/gone", (502, "job_fetch_failed")),
            ("/trickle", (504, "job_fetch_timeout")),
        ]:
            assert error_of(url, {"resume": RESUME, "job_url": job_site + path}) == expected, path

        # the CLI sends a URL as job_url: the platform fetches it
        (tmp_path / "resume.md").write_text(RESUME)
        out = subprocess.run([sys.executable, "-m", "resumeopt.cli", "optimise", "--resume",
                              str(tmp_path / "resume.md"), "--job", f"{job_site}/job", "--json"],
                             cwd=REPO, env={**os.environ, "RESUMEOPT_PLATFORM_URL": url},
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr[-2000:]
        assert "Python" in json.loads(out.stdout)["match"]["matched"]


REFUSED = [
    ({"job_url": "http://127.0.0.1:{port}/job"}, (400, "url_not_allowed")),
    ({"job_url": "http://localhost:{port}/job"}, (400, "url_not_allowed")),
    ({"job_url": "http://[::ffff:127.0.0.1]:{port}/job"}, (400, "url_not_allowed")),
    ({"job_url": "http://169.254.169.254/latest/meta-data/"}, (400, "url_not_allowed")),
    ({"job_url": "file:///etc/passwd"}, (400, "invalid_url")),
    ({"job_url": "gopher://127.0.0.1:70/"}, (400, "invalid_url")),
    ({"job_url": "http://127.0.0.1:{port}/job", "job": "Engineer"}, (422, "conflicting_job")),
    ({}, (422, "missing_job")),
]


def test_without_an_allow_list_internal_urls_are_refused(gw_settings, job_site):
    port = job_site.rsplit(":", 1)[1]
    with platform(gw_settings) as url:
        for body, expected in REFUSED:
            body = {"resume": RESUME, **{k: v.format(port=port) for k, v in body.items()}}
            assert error_of(url, body) == expected, body


def test_an_uploaded_resume_with_a_job_url(gw_settings, job_site):
    """The multipart body takes `job_url` too, under the same rules: one of `job` and `job_url`."""
    from optimiser.parsing import parse_resume
    from optimiser.render_docx import to_docx

    cv = to_docx(parse_resume(RESUME))  # our own DOCX rendering, read back by the upload path
    with platform(gw_settings, fetch_allow=["127.0.0.1"]) as url:
        result = PlatformClient(url).optimise(cv, None, filename="cv.docx", job_url=f"{job_site}/job")
        assert "Python" in result["match"]["matched"]
        for fields, expected in [({"job_url": f"{job_site}/job", "job": "Engineer"}, (422, "conflicting_job")),
                                 ({}, (422, "missing_job")),
                                 ({"job_url": "http://169.254.169.254/"}, (400, "url_not_allowed"))]:
            resp = httpx.post(f"{url}/v1/optimise", files={"resume": ("cv.docx", cv)}, data=fields, timeout=30)
            assert (resp.status_code, resp.json()["error"]["code"]) == expected, fields
