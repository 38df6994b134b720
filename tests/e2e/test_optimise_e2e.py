"""End to end, against real parts: the optimiser's agents call the real gateway, which calls the real
local model; rows land in ClickHouse (chDB); the evaluator's scores land beside them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from evaluator.judges import judge_all
from evaluator.runner import score_rows
from gateway.local_model import free_port
from optimiser.client import PlatformClient
from tests.conftest import new_gw_settings
from tests.e2e.conftest import start_platform

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
RESUME = (REPO / "datasets" / "samples" / "resume.md").read_text()
JOB = (REPO / "datasets" / "samples" / "job.txt").read_text()
AGENTS = {"job_analyst", "resume_analyst", "writer", "reviewer"}


def test_optimisation_through_gateway_lands_in_clickhouse_with_scores(platform_factory, live_config):
    app, server = platform_factory(live_config)
    with server as url:
        client = PlatformClient(url)
        events: list[dict] = []
        result = client.optimise(RESUME, JOB, progress=events.append)
        stages = [e["stage"] for e in events]
        assert stages[0] == "accepted" and "agents_started" in stages and stages[-1] == "checked"

        # what shipped is grounded, whatever the model wrote
        assert result["grounding"]["passed"] and result["grounding"]["violations"] == []
        assert result["match"]["after"] >= result["match"]["before"]
        if result["degraded"]:
            assert result["degraded_reasons"]
        assert result["prompt_versions"] == {"job_analyst": "1.0.0", "resume_analyst": "1.0.0", "writer": "1.1.0",
                                             "reviewer": "1.1.0"}
        assert 1 <= result["writer_attempts"] <= 3  # the first draft and at most two rewrites (the default)
        assert result["research"]["status"] == "skipped"  # no SERPER_API_KEY: skipped, and said

        rows = httpx.get(f"{url}/api/v1/requests/{result['request_id']}/calls").json()["rows"]
        assert {r["agent"] for r in rows} == AGENTS - set(result["agents_skipped"])  # advisory ones, when late
        assert set(result["agents_skipped"]) <= {"resume_analyst", "reviewer"}
        assert all(r["status"] == "ok" and r["input_tokens"] > 0 and r["output_tokens"] > 0 for r in rows)
        assert result["usage"]["calls"] == len(rows)
        assert result["usage"]["input_tokens"] == sum(r["input_tokens"] for r in rows)

        scores = judge_all(result, {"must_cover": ["Python"]})
        client.post_scores(score_rows(scores, result, dataset="e2e"))
        stored = httpx.get(f"{url}/api/v1/requests/{result['request_id']}/scores").json()["rows"]
        # the online sampler may also score this request (10 % by request id): ours must all be there
        assert {s.name for s in scores} <= {s["name"] for s in stored}
        assert next(s["value"] for s in stored if s["name"] == "grounding_violations") == 0
        assert next(s["value"] for s in stored if s["name"] == "structure_valid") == 1.0

        app.state.writer.flush(10)
        opt = app.state.store.query("SELECT degraded, match_after, degraded_reasons FROM {db}.optimisations "
                                    "WHERE request_id = {r:String}", {"r": result["request_id"]})
        assert opt == [{"degraded": result["degraded"], "match_after": result["match"]["after"],
                        "degraded_reasons": result["degraded_codes"]}]
        # stored reasons are codes: no text quoted from the resume or the model's draft
        assert all(":" not in c or c.startswith("grounding_failed:") for c in result["degraded_codes"])


@pytest.fixture(scope="module")
def dead_model_platform(data_dir, base_config):
    """The platform's URL, its local model's address refusing connections (port 9: privileged, so no test's
    free_port() can hand it to a server meanwhile). One platform for the tests below, which never reach a
    model or only see it fail, and read only the answers to their own requests: a platform each cost
    ~0.9 s to start and stop, 7 times."""
    dead = base_config.with_local_base("http://127.0.0.1:9/v1")
    _, server = start_platform(new_gw_settings(data_dir), dead)
    with server as url:
        yield url


def test_model_down_still_ships_a_grounded_deterministic_result(dead_model_platform):
    result = PlatformClient(dead_model_platform).optimise(RESUME, JOB)
    assert result["degraded"] is True
    assert any("model unavailable" in r for r in result["degraded_reasons"])
    assert result["grounding"]["passed"]
    assert result["tailored_resume"].startswith("# John Doe")


@pytest.mark.parametrize(("body", "status", "code"), [
    (b"{oops", 400, "invalid_json"),
    (json.dumps({"resume": RESUME}).encode(), 422, "missing_job"),
    (json.dumps({"resume": "", "job": JOB}).encode(), 422, "invalid_request"),
    (json.dumps({"resume": "   \n\n", "job": JOB, "resume_format": "text"}).encode(), 422, None),
    (json.dumps({"resume": "{not a resume", "job": JOB, "resume_format": "json"}).encode(), 422, None),
    (json.dumps({"resume": "x" * (3 * 1024 * 1024), "job": JOB}).encode(), 413, "payload_too_large"),
])
def test_bad_optimise_requests_get_clear_json_errors(dead_model_platform, body, status, code):
    resp = httpx.post(f"{dead_model_platform}/v1/optimise", content=body, headers={"content-type": "application/json"})
    assert resp.status_code == status
    err = resp.json()["error"]
    assert err["message"] and (code is None or err["code"] == code)


def test_cli_optimise_json_against_a_running_platform(platform_factory, live_config, tmp_path):
    _, server = platform_factory(live_config)
    resume, job = tmp_path / "resume.md", tmp_path / "job.txt"
    resume.write_text(RESUME)
    job.write_text(JOB)
    with server as url:
        out = subprocess.run([sys.executable, "-m", "resumeopt.cli", "optimise", "--resume", str(resume),
                              "--job", str(job), "--json"], capture_output=True, text=True, timeout=600,
                             env={**os.environ, "RESUMEOPT_PLATFORM_URL": url})
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout)
    for key in ("tailored_resume", "degraded", "prompt_versions"):
        assert key in result
    assert result["match"]["before"] <= result["match"]["after"]
    assert isinstance(result["grounding"]["passed"], bool) and isinstance(result["grounding"]["violations"], list)
    assert result["usage"]["calls"] >= 3 and result["usage"]["input_tokens"] > 0
    assert result["usage"]["output_tokens"] > 0 and result["usage"]["cost_usd"] == "0"


def test_demo_runs_end_to_end_on_the_embedded_default(tmp_path):
    """The README's main command, as a user runs it: starts everything, prints the report, stops."""
    env = {**os.environ, "RESUMEOPT_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "120"}
    env.pop("RESUMEOPT_PLATFORM_URL", None)
    out = subprocess.run([sys.executable, "-m", "resumeopt.cli", "demo"], capture_output=True, text=True,
                         timeout=900, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    for needle in ("Tailored resume", "Match score", "Grounding", "Model calls (read back from ClickHouse",
                   "job_analyst", "writer", "reviewer", "Evaluator scores", "resumeopt up"):
        assert needle in out.stdout, needle
    assert (tmp_path / "data" / "store").is_dir()  # the store persists after the demo


def test_cli_eval_run_prints_a_table_and_stores_scores(platform_factory, live_config):
    app, server = platform_factory(live_config)
    with server as url:
        out = subprocess.run([sys.executable, "-m", "resumeopt.cli", "eval", "run", "--dataset", "ci"],
                             capture_output=True, text=True, timeout=600,
                             env={**os.environ, "RESUMEOPT_PLATFORM_URL": url, "COLUMNS": "160"})
        assert out.returncode == 0, out.stderr[-2000:]
        assert "eval run" in out.stdout and ": ci (" in out.stdout and "grounding_violations" in out.stdout
        assert "analyst__marketing-insights #0" in out.stderr  # progress, case by case
        app.state.writer.flush(10)
        rows = app.state.store.query("SELECT run_id, dataset, case_id, name, value FROM {db}.scores FINAL "
                                     "WHERE dataset = 'ci'")
    assert {r["case_id"] for r in rows} == {"analyst__marketing-insights", "sysadmin__devops"}
    assert len({r["run_id"] for r in rows}) == 1
    assert {"match_after", "must_cover", "structure_valid", "grounding_violations"} <= {r["name"] for r in rows}


def test_up_serves_platform_and_dashboard_until_terminated(tmp_path):
    from tests.support import wait_for

    port, dash = free_port(), free_port()
    env = {**os.environ, "RESUMEOPT_DATA_DIR": str(tmp_path / "data")}
    env.pop("RESUMEOPT_PLATFORM_URL", None)
    proc = subprocess.Popen([sys.executable, "-m", "resumeopt.cli", "up", "--port", str(port),
                             "--dashboard-port", str(dash)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        def up(url):
            try:
                return httpx.get(url, timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(lambda: up(f"http://127.0.0.1:{port}/healthz"), timeout=120, what="platform", interval=0.5)
        wait_for(lambda: up(f"http://127.0.0.1:{dash}/_stcore/health"), timeout=120, what="dashboard", interval=0.5)
        assert httpx.get(f"http://127.0.0.1:{port}/v1/models").status_code == 401  # auth is on by default
        admin = (tmp_path / "data" / "admin.key").read_text().strip()  # created by `up`, mode 0600
        models = httpx.get(f"http://127.0.0.1:{port}/v1/models", headers={"authorization": f"Bearer {admin}"}).json()
        assert [m["id"] for m in models["data"]] == ["local-smol", "judge"]
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-2000:]


def test_demo_against_a_store_held_by_another_process_is_a_clear_error(data_dir, gw_settings):
    from gateway.store.client import Store

    held = Store(gw_settings.resolved_store_dsn(), "resumeopt")
    held.query("SELECT 1")  # this test process holds the chDB path now
    env = {**os.environ, "RESUMEOPT_DATA_DIR": str(data_dir)}
    env.pop("RESUMEOPT_PLATFORM_URL", None)
    out = subprocess.run([sys.executable, "-m", "resumeopt.cli", "demo"], capture_output=True, text=True,
                         timeout=120, env=env)
    assert out.returncode == 3
    assert "cannot open the store" in out.stderr and "RESUMEOPT_PLATFORM_URL" in out.stderr
    assert "Traceback" not in out.stderr
    held.query("SELECT 1")  # still ours


def test_a_docx_upload_as_a_job_through_the_local_model(platform_factory, live_config):
    """The async path end to end: a DOCX resume uploaded to POST /v1/jobs, worked in-process through the
    gateway and the real local model; progress events before the outcome; the DOCX result reads back."""
    from optimiser.docx_text import docx_text
    from optimiser.parsing import parse_resume
    from optimiser.render_docx import to_docx

    app, server = platform_factory(live_config)
    with server as url:
        resp = httpx.post(f"{url}/v1/jobs", files={"resume": ("cv.docx", to_docx(parse_resume(RESUME, None)))}, data={"job": JOB},
                          headers={"idempotency-key": "e2e-docx-job"})
        assert resp.status_code == 202, resp.text
        job_id = resp.json()["id"]
        with httpx.stream("GET", f"{url}/v1/jobs/{job_id}/events", timeout=600) as sse:
            kinds = [line[7:] for line in sse.iter_lines() if line.startswith("event: ")]
        assert kinds[:2] == ["queued", "started"] and kinds[-1] == "succeeded" and "progress" in kinds
        client = PlatformClient(url)
        result = client.job_result(job_id)
        assert result["grounding"]["passed"] and result["usage"]["calls"] >= 3
        rows = httpx.get(f"{url}/api/v1/requests/{result['request_id']}/calls").json()["rows"]
        assert {r["agent"] for r in rows} == AGENTS - set(result["agents_skipped"])  # advisory ones, when late
        assert all(r["status"] == "ok" for r in rows)
        text, _, _ = docx_text(client.job_result(job_id, "docx"))
        assert "John Doe" in text and "EXPERIENCE" in text.upper()
