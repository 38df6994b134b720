"""Offline runs end to end over real HTTP on the secured platform, with the simulator as the model (the
machinery: what is stored, read back, compared and gated; tests/e2e/test_eval_gate_e2e.py makes the
claims about prompt quality with the real local model):

- `eval run --repeat 2`: one run row and one score row per (case, repeat, metric) in ClickHouse, the
  run's cost/latency/model-call measures among them, spreads across repeats in the aggregates;
- `eval compare` and `eval gate --run` read stored runs; the gate's exit codes 0, 1, 2;
- a prompt choice is checked at the door (403 for a consumer, 422 for what does not resolve);
- the runs API: who may write and read runs, bad bodies."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import uuid

import httpx
import pytest
from pydantic import SecretStr

from gateway.settings import GatewaySettings

from optimiser.client import PlatformClient, PlatformError
from tests.conftest import ADMIN_KEY
from tests.optimiser.test_jobs import JOB, RESUME
from tests.support import simulated_platform

REPO = Path(__file__).resolve().parents[2]
ADMIN = {"authorization": f"Bearer {ADMIN_KEY}"}


def _key(url: str, team: str, role: str) -> str:
    resp = httpx.post(f"{url}/admin/v1/keys", json={"name": f"{team}-{role}", "team": team, "role": role}, headers=ADMIN)
    assert resp.status_code == 201, resp.text
    return resp.json()["key"]


@pytest.fixture(scope="module")
def platform(tmp_path_factory, data_dir):
    """One secured platform for the module (runs accumulate in its store, as they do for a team)."""
    secured = GatewaySettings(data_dir=data_dir, store_database=f"t_{uuid.uuid4().hex[:10]}", writer_flush_interval_s=0.05,
                              auth="required", admin_key=SecretStr(ADMIN_KEY))
    with simulated_platform(secured) as (url, app):
        yield url, app, tmp_path_factory.mktemp("evalcli")


def cli(url: str, key: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "RESUMEOPT_PLATFORM_URL": url, "RESUMEOPT_API_KEY": key}
    return subprocess.run([sys.executable, "-m", "resumeopt.cli", "eval", *args], capture_output=True, text=True,
                          cwd=REPO, timeout=300, env=env)


def _run(url: str, *args: str, key: str = ADMIN_KEY) -> dict:
    out = cli(url, key, "run", "--dataset", "ci", "--json", *args)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_a_run_with_repeats_is_stored_case_by_case_and_read_back(platform):
    url, _, _ = platform
    run = _run(url, "--repeat", "2", "--note", "machinery")
    assert (run["status"], run["dataset"], run["repeats"], run["cases"], run["failed_cases"]) == ("finished", "ci", 2, 4, 0)
    assert run["prompt_ref"] == "production" and "writer@1.1.0" in run["prompt_version"]
    assert run["judges"]["grounding"] == "1" and "forbidden" in run["judges"]
    agg = run["aggregates"]
    assert {"grounding_violations", "structure_valid", "cost_usd", "latency_ms", "model_calls", "case_failed",
            "forbidden_claims", "must_cover", "judge_calls", "judge_cost_usd"} <= set(agg)
    assert agg["judge_calls"] == 0  # the stable judges call no model
    assert agg["grounding_violations@sd"] == 0.0 and "latency_ms@sd" in agg
    full = httpx.get(f"{url}/api/v1/eval/runs/{run['run_id']}", headers=ADMIN).json()
    scores = full["scores"]
    assert {(s["case_id"], s["repeat"]) for s in scores} == {(c, r) for c in ("analyst__marketing-insights",
                                                                              "sysadmin__devops") for r in (0, 1)}
    per_case = [s for s in scores if s["case_id"] == "sysadmin__devops" and s["repeat"] == 1]
    assert len({s["name"] for s in per_case}) == len(per_case)  # one row per metric: nothing counted twice
    assert all(s["request_id"] for s in scores) and len({s["request_id"] for s in scores}) == 4
    assert {s["judge"] for s in scores if s["name"] in ("cost_usd", "latency_ms")} == {"run"}
    listed = httpx.get(f"{url}/api/v1/eval/runs", params={"dataset": "ci"}, headers=ADMIN).json()["runs"]
    assert run["run_id"] in [r["run_id"] for r in listed] and "scores" not in listed[0]


def test_what_judging_cost_is_reported_per_case_as_the_store_recorded_it(platform):
    url, _, _ = platform
    run = _run(url, "--judges", "structure,embedding_relevance")  # embeddings through the (priced) gateway
    assert run["aggregates"]["judge_calls"] > 0 and run["aggregates"]["judge_cost_usd"] > 0
    scores = httpx.get(f"{url}/api/v1/eval/runs/{run['run_id']}", headers=ADMIN).json()["scores"]
    for rid in {s["request_id"] for s in scores}:
        mine = {s["name"]: s["value"] for s in scores if s["request_id"] == rid}
        usage = httpx.get(f"{url}/api/v1/requests/{rid}/usage", headers=ADMIN).json()
        judge = next(r for r in usage["by_agent"] if r["agent"] == "judge")
        assert (mine["judge_calls"], mine["judge_cost_usd"]) == (judge["calls"], pytest.approx(float(judge["cost_usd"])))
        assert mine["cost_usd"] == pytest.approx(float(usage["cost_usd"]) - float(judge["cost_usd"]))
    table = cli(url, ADMIN_KEY, "compare", run["run_id"], run["run_id"])
    assert table.returncode == 0, table.stderr


def test_compare_and_gate_read_stored_runs(platform):
    url, _, tmp = platform
    a, b = _run(url), _run(url, "--prompt", "writer=1.0.0")
    assert "writer@1.0.0" in b["prompt_version"] and b["prompt_ref"] == "writer=1.0.0"
    out = cli(url, ADMIN_KEY, "compare", a["run_id"], b["run_id"], "--json")
    assert out.returncode == 0, out.stderr
    metrics = {m["metric"]: m for m in json.loads(out.stdout)["metrics"]}
    assert metrics["grounding_violations"]["n"] == 2 and metrics["grounding_violations"]["verdict"] == "same"
    assert metrics["structure_valid"]["kind"] == "check" and metrics["cost_usd"]["kind"] == "measure"
    table = cli(url, ADMIN_KEY, "compare", a["run_id"], b["run_id"])
    assert table.returncode == 0 and "grounding_violations" in table.stdout and "verdict" in table.stdout

    loose, strict, baseline = tmp / "loose.yaml", tmp / "strict.yaml", tmp / "baseline.json"
    loose.write_text("metrics:\n  grounding_violations: {max: 0}\n  model_calls: {tolerance_pct: 50}\n")
    strict.write_text("metrics:\n  grounding_violations: {max: 0}\n  model_calls: {max: 0}\n")
    first = cli(url, ADMIN_KEY, "gate", "--run", a["run_id"], "--thresholds", str(loose), "--baseline", str(baseline),
                "--update-baseline")
    assert first.returncode == 0, first.stdout + first.stderr
    assert json.loads(baseline.read_text())["run_id"] == a["run_id"] and "GATE PASSED" in first.stdout
    again = cli(url, ADMIN_KEY, "gate", "--run", b["run_id"], "--thresholds", str(loose), "--baseline", str(baseline),
                "--json")
    assert again.returncode == 0 and json.loads(again.stdout)["passed"] is True
    failed = cli(url, ADMIN_KEY, "gate", "--run", b["run_id"], "--thresholds", str(strict))
    assert failed.returncode == 1 and "GATE FAILED" in failed.stdout and "model_calls" in failed.stdout
    unknown = cli(url, ADMIN_KEY, "gate", "--run", "nosuchrun", "--thresholds", str(loose))
    assert unknown.returncode == 2 and json.loads(unknown.stderr)["error"]["code"] == "run_not_found"
    stale = json.loads(baseline.read_text()) | {"content_hash": "0000"}
    baseline.write_text(json.dumps(stale))
    refused = cli(url, ADMIN_KEY, "gate", "--run", b["run_id"], "--thresholds", str(loose), "--baseline", str(baseline))
    assert refused.returncode == 2 and "the data changed" in refused.stderr


def test_a_run_asking_for_an_unknown_prompt_stops_at_once_and_is_marked_failed(platform):
    url, _, _ = platform
    out = cli(url, ADMIN_KEY, "run", "--dataset", "ci", "--prompt", "nosuch-label", "--json")
    assert out.returncode == 2 and json.loads(out.stderr)["error"]["code"] == "unknown_prompt"
    runs = httpx.get(f"{url}/api/v1/eval/runs", params={"dataset": "ci", "limit": 1}, headers=ADMIN).json()["runs"]
    assert (runs[0]["status"], runs[0]["prompt_ref"], runs[0]["cases"]) == ("failed", "nosuch-label", 0)


def test_prompt_choice_is_checked_when_the_request_is_accepted(platform):
    url, _, _ = platform
    engineer = PlatformClient(url, _key(url, "acme", "engineer"))
    consumer = PlatformClient(url, _key(url, "acme", "consumer"))
    with pytest.raises(PlatformError) as exc:
        consumer.optimise(RESUME, JOB, prompt_label="candidate-bad")
    assert (exc.value.status, exc.value.code) == (403, "prompt_choice_forbidden")
    for kwargs, param in (({"prompts": {"nosuch": "1.0.0"}}, "nosuch"), ({"prompts": {"writer": "9.9.9"}}, "writer@9.9.9"),
                          ({"prompt_label": "nolabel"}, "nolabel")):
        with pytest.raises(PlatformError) as exc:
            engineer.optimise(RESUME, JOB, **kwargs)
        assert (exc.value.status, exc.value.code) == (422, "unknown_prompt") and param in exc.value.message
    result = engineer.optimise(RESUME, JOB, prompt_label="candidate-bad")
    # the label where a prompt has it, production for the others; no experiment arm for a chosen prompt
    assert result["prompt_versions"] == {"job_analyst": "1.0.0", "resume_analyst": "1.0.0", "writer": "1.1.1",
                                         "reviewer": "1.1.0"}
    assert result["experiments"] == {}
    job = httpx.post(f"{url}/v1/jobs", json={"resume": RESUME, "job": JOB, "prompts": {"writer": "0.0.1"}},
                     headers={"authorization": f"Bearer {engineer.api_key}"})
    assert job.status_code == 422 and job.json()["error"]["code"] == "unknown_prompt"  # jobs too, before the 202


def test_runs_api_roles_teams_and_bad_bodies(platform):
    url, _, _ = platform
    keys = {role: _key(url, "acme", role) for role in ("engineer", "consumer", "finance")}
    other = _key(url, "globex", "engineer")
    body = {"run_id": "acme-run-1", "status": "finished", "dataset": "ci", "content_hash": "abc", "judges": {"grounding": "1"},
            "repeats": 1, "cases": 2, "aggregates": {"grounding_violations": 0.0}, "started_at": "2026-11-29T10:00:00Z"}
    h = lambda k: {"authorization": f"Bearer {k}"}  # noqa: E731
    assert httpx.post(f"{url}/api/v1/eval/runs", json=body, headers=h(keys["engineer"])).status_code == 202
    assert httpx.post(f"{url}/api/v1/eval/runs", json=body, headers=h(keys["consumer"])).status_code == 403
    taken = httpx.post(f"{url}/api/v1/eval/runs", json=body, headers=h(other))
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "run_id_taken"
    got = httpx.get(f"{url}/api/v1/eval/runs/acme-run-1", headers=h(keys["finance"]))
    assert got.status_code == 200 and got.json()["team"] == "acme" and got.json()["aggregates"] == {"grounding_violations": 0.0}
    hidden = httpx.get(f"{url}/api/v1/eval/runs/acme-run-1", headers=h(other))
    assert hidden.status_code == 404 and hidden.json()["error"]["code"] == "run_not_found"
    for bad in ({**body, "status": "done"}, {**body, "run_id": "has space"}, {**body, "repeats": 0},
                {k: v for k, v in body.items() if k != "dataset"}, {**body, "surprise": 1}):
        resp = httpx.post(f"{url}/api/v1/eval/runs", json=bad, headers=h(keys["engineer"]))
        assert resp.status_code == 422 and resp.json()["error"]["code"], resp.text
    malformed = httpx.post(f"{url}/api/v1/eval/runs", content=b"{not json", headers={**h(keys["engineer"]),
                                                                                     "content-type": "application/json"})
    assert malformed.status_code in (400, 422) and "error" in malformed.json()
