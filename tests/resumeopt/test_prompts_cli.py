"""`resumeopt prompts list|show|diff|promote` as an operator runs them: a subprocess of the real CLI on a
copy of prompts/ (RESUMEOPT_PROMPTS_DIR). Promote without a platform moves the label in the files and
audits it in AUDIT.jsonl; with one (RESUMEOPT_PLATFORM_URL) the platform moves it in its registry, audits
it in the store too, under the key the command presents, and its next optimisation runs the new version."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from optimiser.client import PlatformClient
from optimiser.prompt_registry import audit_lines
from optimiser.prompts import PROMPTS_DIR
from tests.conftest import ADMIN_KEY
from tests.support import simulated_platform

REPO = Path(__file__).resolve().parents[2]


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in ("RESUMEOPT_PLATFORM_URL", "RESUMEOPT_API_KEY")}
    return subprocess.run([sys.executable, "-m", "resumeopt.cli", *args], capture_output=True, text=True, cwd=REPO,
                          timeout=120, env={**base, **(env or {})})


@pytest.fixture
def registry(tmp_path) -> Path:
    root = tmp_path / "prompts"
    shutil.copytree(PROMPTS_DIR, root, ignore=shutil.ignore_patterns("AUDIT.jsonl", ".lock"))
    return root


def _in(registry: Path, **env: str) -> dict:
    return {"RESUMEOPT_PROMPTS_DIR": str(registry), "RESUMEOPT_DATA_DIR": str(registry.parent / "data"), **env}


def test_list_show_and_diff(registry):
    out = cli("prompts", "list", "--name", "writer", "--json", env=_in(registry))
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert [(r["version"], r["labels"]) for r in rows] == [("1.0.0", []), ("1.1.0", ["production"]),
                                                            ("1.1.1", ["candidate-bad"])]
    assert rows[1]["model"] == {"alias": "local-smol", "temperature": 0.2, "max_tokens": 160, "seed": None}
    assert all(r["changelog"] for r in rows)
    everything = json.loads(cli("prompts", "list", "--json", env=_in(registry)).stdout)
    assert {r["name"] for r in everything} == {"job_analyst", "resume_analyst", "writer", "reviewer"}

    shown = cli("prompts", "show", "writer", "production", env=_in(registry))
    assert shown.stdout == (registry / "writer" / "1.1.0.yaml").read_text()
    parsed = json.loads(cli("prompts", "show", "writer", "1.0.0", "--json", env=_in(registry)).stdout)
    assert parsed["version"] == "1.0.0" and "{summary}" in parsed["task"]["description"]

    diffed = cli("prompts", "diff", "writer", "1.0.0", "production", env=_in(registry))
    assert diffed.returncode == 0 and diffed.stdout.startswith("--- writer/1.0.0.yaml\n+++ writer/1.1.0.yaml\n")
    assert "+labels: [production]" in diffed.stdout

    missing = cli("prompts", "show", "writer", "nosuch", env=_in(registry))
    assert missing.returncode == 1 and json.loads(missing.stderr)["error"]["code"] == "prompt_not_found"


def test_promote_without_a_platform_moves_the_label_and_audits_it_in_the_file(registry):
    out = cli("prompts", "promote", "writer", "1.0.0", "--label", "production", "--reason", "roll back", "--json",
              env=_in(registry, USER="tester"))
    assert out.returncode == 0, out.stderr
    done = json.loads(out.stdout)
    assert (done["from"], done["to"], done["who"], done["audited"]) == ("1.1.0", "1.0.0", "tester", ["AUDIT.jsonl"])
    assert "not in the store" in out.stderr
    rows = json.loads(cli("prompts", "list", "--name", "writer", "--json", env=_in(registry)).stdout)
    assert [(r["version"], r["labels"]) for r in rows] == [("1.0.0", ["production"]), ("1.1.0", []),
                                                            ("1.1.1", ["candidate-bad"])]
    assert [(a["who"], a["from"], a["to"], a["reason"]) for a in audit_lines(registry)] == [
        ("tester", "1.1.0", "1.0.0", "roll back")]
    bad = cli("prompts", "promote", "writer", "1.0.0", "--label", "Not A Label", env=_in(registry))
    assert bad.returncode == 1 and json.loads(bad.stderr)["error"]["code"] == "invalid_label"
    assert len(audit_lines(registry)) == 1


def test_promote_through_a_running_platform_audits_in_the_store_and_serves_the_new_version(secured, registry):
    with simulated_platform(secured, prompts_dir=registry) as (url, app):
        admin = PlatformClient(url, ADMIN_KEY)
        assert admin.optimise("Jane Smith\nPython engineer.", "Python")["prompt_versions"]["writer"] == "1.1.0"
        out = cli("prompts", "promote", "writer", "1.0.0", "--label", "production", "--reason", "regression", "--json",
                  env=_in(registry, RESUMEOPT_PLATFORM_URL=url, RESUMEOPT_API_KEY=ADMIN_KEY))
        assert out.returncode == 0, out.stderr
        done = json.loads(out.stdout)
        assert (done["from"], done["to"], done["who"]) == ("1.1.0", "1.0.0", "admin")
        assert done["audited"] == ["store", "AUDIT.jsonl"]
        assert [(a["who"], a["to"]) for a in audit_lines(registry)] == [("admin", "1.0.0")]
        audit = admin.call("GET", "/admin/v1/audit")["rows"]
        assert [(r["action"], r["target"], r["before"], r["after"], r["reason"]) for r in audit
                if r["action"] == "prompt.promote"] == [("prompt.promote", "prompt:writer:production", '"1.1.0"',
                                                         '"1.0.0"', "regression")]
        # the running platform's next optimisation resolves the label anew
        assert admin.optimise("Jane Smith\nPython engineer.", "Python")["prompt_versions"]["writer"] == "1.0.0"

        consumer = httpx.post(f"{url}/admin/v1/keys", json={"name": "c", "team": "acme", "role": "consumer"},
                              headers={"authorization": f"Bearer {ADMIN_KEY}"}).json()["key"]
        refused = cli("prompts", "promote", "writer", "1.1.0", "--label", "production",
                      env=_in(registry, RESUMEOPT_PLATFORM_URL=url, RESUMEOPT_API_KEY=consumer))
        assert refused.returncode == 1 and json.loads(refused.stderr)["error"]["code"] == "forbidden"
        for body, status, code in [({"version": "9.9.9", "label": "production"}, 404, "prompt_not_found"),
                                   ({"version": "1.1.0", "label": "Bad Label"}, 422, "invalid_request")]:
            resp = httpx.post(f"{url}/admin/v1/prompts/writer/promote", json=body,
                              headers={"authorization": f"Bearer {ADMIN_KEY}"})
            assert (resp.status_code, resp.json()["error"]["code"]) == (status, code)
        assert len(audit_lines(registry)) == 1
