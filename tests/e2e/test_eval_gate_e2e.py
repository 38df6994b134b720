"""The evaluator's acceptance, with the real local model behind the real gateway:

- the CI gate (`eval gate` with the committed thresholds and baseline, evaluator/ci/) passes on the
  production prompts and fails on the deliberately worse writer (1.1.1, `candidate-bad`, which invites
  invented employers and metrics), saying which metrics and why;
- determinism: two runs of the same dataset, prompts and judges give identical deterministic scores
  (the agents' calls are seeded; the judges read the result alone)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from evaluator.metrics import metric

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
CI = REPO / "evaluator" / "ci"


def _eval(url: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "RESUMEOPT_API_KEY"} | {"RESUMEOPT_PLATFORM_URL": url}
    return subprocess.run([sys.executable, "-m", "resumeopt.cli", "eval", *args], capture_output=True, text=True,
                          cwd=REPO, timeout=900, env=env)


def _gate(url: str, prompt: str) -> tuple[int, dict]:
    out = _eval(url, "gate", "--dataset", "ci", "--prompt", prompt, "--thresholds", str(CI / "thresholds.yaml"),
                "--baseline", str(CI / "baseline.json"), "--json")
    assert out.returncode in (0, 1), out.stderr
    return out.returncode, json.loads(out.stdout)


def test_the_gate_passes_production_and_fails_the_worse_prompt_with_reasons(platform_factory, live_config):
    _, server = platform_factory(live_config)
    with server as url:
        code, production = _gate(url, "production")
        assert code == 0, [o for o in production["outcomes"] if o["status"] == "fail"]
        code, worse = _gate(url, "candidate-bad")
        assert code == 1
        failed = {o["metric"]: o for o in worse["outcomes"] if o["status"] == "fail"}
        # the writer's drafts invented claims; the guard rejected them, so what shipped stays grounded
        assert "draft_violations" in failed and failed["draft_violations"]["value"] > 1
        assert all(metric(m).kind != "judgment" for m in failed)  # only checks and measures fail the gate
        grounded = next(o for o in worse["outcomes"] if o["metric"] == "grounding_violations")
        assert grounded["status"] == "pass" and grounded["value"] == 0

        # determinism: another production run scores exactly as the gate's run did, case by case
        again = _eval(url, "run", "--dataset", "ci", "--json")
        assert again.returncode == 0, again.stderr
        first, second = (httpx.get(f"{url}/api/v1/eval/runs/{rid}").json()["scores"]
                         for rid in (production["run_id"], json.loads(again.stdout)["run_id"]))
        stable = lambda rows: {(r["case_id"], r["name"]): r["value"] for r in rows  # noqa: E731
                               if r["judge"] != "run" or r["name"] in ("model_calls", "writer_attempts")}
        assert stable(first) == stable(second)
