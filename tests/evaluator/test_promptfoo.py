"""promptfoo against a real gateway over loopback: `resumeopt eval export-promptfoo` writes the config, the
pinned promptfoo (deploy/setup_promptfoo.sh) runs it with its network switches off, and its JSON results
agree, test by test and assert by assert, with what our judges say about the same outputs.

The model is the simulator with one scripted reply, so the outputs are known and some cases pass while
others fail; this tests the plumbing, it measures no prompt's quality. promptfoo missing is a failure,
not a skip: every machine of this project has Node, and `make setup` installs promptfoo."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from evaluator.datasets import load_dataset
from evaluator.promptfoo.export import PROMPTFOO_BIN, offline_env
from evaluator.promptfoo.judging import judge_writer_output
from gateway.app import create_app
from gateway.config import GatewayConfig
from optimiser.prompts import load_prompt
from tests.support import serve

# Names Python, Docker and PostgreSQL: grounded for the John Doe CV (which lists all three), a new skill
# for the resumes that do not, and none of the skills the frontend case must cover.
REPLY = "Backend engineer who builds Python services with Docker and PostgreSQL."
SIMULATED = GatewayConfig.model_validate({"default_alias": "local-smol", "models": [
    {"alias": "local-smol", "deployments": [{"name": "sim", "provider": "simulator", "model": "sim", "simulator": {
        "reply": REPLY, "completion_tokens": len(REPLY.split())}}]}]})
PROMPTFOO_FAILED = 100  # promptfoo's exit code when any test fails (PROMPTFOO_FAILED_TEST_EXIT_CODE)


@pytest.fixture
def gateway(gw_settings):
    app = create_app(gw_settings, SIMULATED)
    with serve(app) as url:
        yield url, app


def _export(*args: str) -> subprocess.CompletedProcess:
    """The CLI as a user runs it (its own process, so its logging set-up is its own)."""
    return subprocess.run([sys.executable, "-m", "resumeopt.cli", "eval", "export-promptfoo", *args],
                          capture_output=True, text=True, timeout=120)


def _promptfoo_env(gateway_url, home) -> dict:
    return {**os.environ, **offline_env(gateway_url), "PROMPTFOO_PYTHON": sys.executable,
            "PROMPTFOO_CONFIG_DIR": str(home),
            "RESUMEOPT_API_KEY": "any: this gateway runs without authentication"}


def _run_promptfoo(config, results, gateway_url, home) -> subprocess.CompletedProcess:
    assert PROMPTFOO_BIN.exists(), (
        f"promptfoo is not installed at {PROMPTFOO_BIN}: run deploy/setup_promptfoo.sh (`make setup` does), "
        "which needs Node ^20.20 or >=22.22 and npm")
    return subprocess.run([str(PROMPTFOO_BIN), "eval", "-c", str(config), "-o", str(results), "--no-cache",
                           "--no-progress-bar", "--no-table", "-j", "2"],
                          cwd=config.parent, env=_promptfoo_env(gateway_url, home), capture_output=True, text=True,
                          timeout=300)


def test_promptfoo_through_the_gateway_agrees_with_our_judges(gateway, tmp_path):
    url, app = gateway
    out = tmp_path / "export"
    export = _export("--dataset", "golden", "--out", str(out), "--gateway", url)
    assert export.returncode == 0, export.stderr
    config = out / "promptfooconfig.yaml"
    request_id = yaml.safe_load(config.read_text())["providers"][0]["config"]["headers"]["x-request-id"]

    proc = _run_promptfoo(config, tmp_path / "results.json", url, tmp_path / "promptfoo-home")
    assert proc.returncode == PROMPTFOO_FAILED, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())["results"]

    cases = {c.id: c for c in load_dataset("golden").cases}
    rows = {r["testCase"]["metadata"]["case_id"]: r for r in results["results"]}
    assert rows.keys() == cases.keys()
    verdicts = {}
    for case_id, row in rows.items():
        assert row["response"]["output"] == REPLY, row.get("error")
        verdict = judge_writer_output(cases[case_id], row["response"]["output"])
        asserts = {c["assertion"]["metric"]: c["pass"] for c in row["gradingResult"]["componentResults"]}
        assert (row["success"], asserts) == (verdict.passed, verdict.checks), (case_id, row["gradingResult"])
        verdicts[case_id] = verdict.passed
    # both outcomes exercised, not only agreement: REPLY is chosen for the golden cases (see above)
    assert set(verdicts.values()) == {True, False}, verdicts
    assert results["stats"]["successes"] == sum(verdicts.values())
    assert results["stats"]["errors"] == 0

    assert app.state.writer.flush(timeout=10)  # the gateway batches its rows off the request path
    calls = app.state.store.query("SELECT agent, prompt_name, prompt_version, model_alias, status "
                                  "FROM {db}.model_calls WHERE request_id = {rid:String}", {"rid": request_id})
    assert len(calls) == len(cases)
    assert {(c["agent"], c["prompt_name"], c["prompt_version"], c["model_alias"], c["status"]) for c in calls} == {
        ("promptfoo", "writer", load_prompt("writer", "production").version, "local-smol", "ok")}


@pytest.mark.parametrize("args, code, names", [
    (["--dataset", "no-such-set"], "unknown_dataset", "golden, smoke"),
    (["--prompt", "no-such-label"], "unknown_prompt", "no-such-label"),
])
def test_export_refuses_an_unknown_dataset_or_prompt_and_writes_nothing(tmp_path, args, code, names):
    out = tmp_path / "export"
    proc = _export("--out", str(out), *args)
    assert proc.returncode == 2, proc.stderr
    error = json.loads(proc.stderr)["error"]
    assert error["code"] == code and names in error["message"]
    assert not out.exists()
