"""Prompt experiments: arms are sticky per user and follow the weights; the configuration is checked at
start; and through the real gateway (the simulator as the model) the arm a request ran is recorded on
every one of its model calls, on its optimisations row and in its result, for sync requests and jobs."""

from __future__ import annotations

import json
import shutil
import uuid
from collections import Counter
from pathlib import Path

import httpx
import pytest
import yaml

from gateway.settings import GatewaySettings
from gateway.telemetry import experiments as parse_header
from optimiser.client import PlatformClient
from optimiser.experiments import Experiment, Experiments, header, subject_of
from optimiser.prompt_registry import promote
from optimiser.prompts import PROMPTS_DIR, PromptNotFound
from tests.conftest import ADMIN_KEY
from tests.optimiser.test_jobs import JOB, RESUME
from tests.resumeopt.test_prompts_cli import cli
from tests.support import simulated_platform, wait_for

SPLIT = Experiment.model_validate({"name": "writer-split", "prompt": "writer",
                                   "arms": [{"ref": "1.1.0", "weight": 90}, {"ref": "1.0.0", "weight": 10}]})


def test_the_same_subject_gets_the_same_arm_and_the_weights_hold_over_many_subjects():
    assert {SPLIT.pick("user:ann").key for _ in range(50)} == {SPLIT.pick("user:ann").key}
    counts = Counter(SPLIT.pick(f"user:{i}").key for i in range(20_000))
    assert 0.88 < counts["1.1.0"] / 20_000 < 0.92
    # another experiment over the same users assigns independently of this one
    other = SPLIT.model_copy(update={"name": "writer-split-2"})
    agree = sum(SPLIT.pick(f"user:{i}").key == other.pick(f"user:{i}").key for i in range(20_000)) / 20_000
    assert 0.80 < agree < 0.84  # 0.9^2 + 0.1^2 when independent; 1.0 if they shared a hash
    never = Experiment.model_validate({"name": "x", "prompt": "writer",
                                       "arms": [{"ref": "1.0.0", "weight": 0}, {"ref": "1.1.0", "weight": 1}]})
    assert {never.pick(f"user:{i}").key for i in range(2000)} == {"1.1.0"}


def test_the_subject_is_the_user_else_the_teams_key():
    assert subject_of("ann", "acme", "k1") == subject_of("ann", "acme", "k2") == "user:ann"
    assert subject_of("", "acme", "k1") != subject_of("", "acme", "k2")


def test_configuration_is_checked_when_loaded(tmp_path):
    def load(*experiments) -> Experiments:
        path = tmp_path / "experiments.yaml"
        path.write_text(yaml.safe_dump({"experiments": list(experiments)}))
        return Experiments.load(path, PROMPTS_DIR)

    arms = [{"ref": "1.0.0", "weight": 1}, {"ref": "1.1.0", "weight": 1}]
    assert Experiments.load(tmp_path / "absent.yaml", PROMPTS_DIR).all == []
    with pytest.raises(PromptNotFound):
        load({"name": "a", "prompt": "writer", "arms": [{"ref": "7.0.0", "weight": 1}]})
    with pytest.raises(ValueError, match="same prompt"):
        load({"name": "a", "prompt": "writer", "arms": arms}, {"name": "b", "prompt": "writer", "arms": arms})
    with pytest.raises(ValueError, match="add up to 0"):
        load({"name": "a", "prompt": "writer", "arms": [{"ref": "1.0.0", "weight": 0}]})
    with pytest.raises(ValueError, match="should match pattern"):
        load({"name": "a,b", "prompt": "writer", "arms": arms})  # a name that the header could not carry
    off = load({"name": "a", "prompt": "writer", "arms": arms, "enabled": False},
               {"name": "b", "prompt": "writer", "arms": arms})
    assert [c.experiment for c in off.choose("user:ann")] == ["b"]


def test_an_arm_whose_label_was_promoted_away_is_left_out_rather_than_recorded(tmp_path):
    root = tmp_path / "prompts"
    shutil.copytree(PROMPTS_DIR, root)
    promote(root, "writer", "1.0.0", "trial", "test")
    book = Experiments([Experiment.model_validate({"name": "t", "prompt": "writer",
                                                   "arms": [{"ref": "trial", "weight": 1}]})], root)
    assert [(c.arm, c.ref) for c in book.choose("user:ann")] == [("trial", "trial")]
    (root / "writer" / "1.0.0.yaml").write_text((root / "writer" / "1.0.0.yaml").read_text()
                                                .replace("labels: [trial]", "labels: []"))
    assert book.choose("user:ann") == []


def test_the_header_carries_name_arm_pairs_and_the_gateway_reads_them_back():
    choices = Experiments([SPLIT], PROMPTS_DIR).choose("user:ann")
    assert parse_header(header(choices)) == {"writer-split": SPLIT.pick("user:ann").key}
    assert parse_header("a=1, b=2,bad,=x,c=,d=4=5,$dec=1,e=x y") == {"a": "1", "b": "2"}
    assert parse_header(None) == {}


# --- through the real gateway ------------------------------------------------------------------------

EXPERIMENT = "writer-live"
ARMS = [{"ref": "1.1.0", "weight": 50}, {"ref": "1.0.0", "weight": 50}]


@pytest.fixture(scope="module")
def live(data_dir, tmp_path_factory):
    """(url, app, {arm: user key}): the secured platform with one writer experiment, every result scored
    online, and a consumer of team acme in each arm. The consumers are on the premium plan: on the default
    (free) plan, 20 rpm with a 3 s burst, each optimisation's model calls waited out 429 back-offs (~6 s
    an optimisation); rate limits are tests/gateway/test_governance.py's subject, not this module's."""
    from evaluator.online import OnlineEvalSettings, OnlineEvaluator
    from evaluator.registry import resolve

    path = tmp_path_factory.mktemp("experiments") / "experiments.yaml"
    path.write_text(yaml.safe_dump({"experiments": [{"name": EXPERIMENT, "prompt": "writer", "arms": ARMS}]}))
    gw = GatewaySettings(data_dir=data_dir, store_database=f"t_{uuid.uuid4().hex[:10]}", writer_flush_interval_s=0.05,
                         auth="required", admin_key=ADMIN_KEY)
    online = OnlineEvaluator(OnlineEvalSettings(share=1.0), resolve(None))
    with simulated_platform(gw, online=online, experiments_path=path) as (url, app):
        experiment = Experiment.model_validate({"name": EXPERIMENT, "prompt": "writer", "arms": ARMS})
        users: dict[str, str] = {}
        for i in range(64):
            arm = experiment.pick(subject_of(f"user{i}", "acme", "")).key
            if arm not in users:
                users[arm] = _key(url, "acme", "consumer", user_id=f"user{i}", plan="premium")
        assert set(users) == {"1.1.0", "1.0.0"}
        yield url, app, users


def _key(url: str, team: str, role: str, **extra) -> str:
    resp = httpx.post(f"{url}/admin/v1/keys", json={"name": f"{team}-{role}", "team": team, "role": role, **extra},
                      headers={"authorization": f"Bearer {ADMIN_KEY}"})
    assert resp.status_code == 201, resp.text
    return resp.json()["key"]


def _rows(app, sql: str, request_id: str) -> list[dict]:
    app.state.writer.flush(timeout=10)
    return app.state.store.query(sql, {"rid": request_id})


def test_the_arm_is_recorded_on_every_call_the_row_and_the_result_and_sticks_to_the_user(live):
    url, app, users = live
    for arm, key in users.items():
        client = PlatformClient(url, key)
        first, again = client.optimise(RESUME, JOB), client.optimise(RESUME, JOB)
        for result in (first, again):
            assert result["experiments"] == {EXPERIMENT: arm} and result["prompt_versions"]["writer"] == arm
            calls = _rows(app, "SELECT agent, prompt_version, experiments FROM {db}.model_calls FINAL "
                               "WHERE request_id = {rid:String}", result["request_id"])
            assert len(calls) >= 4 and all(c["experiments"] == {EXPERIMENT: arm} for c in calls)
            assert {c["prompt_version"] for c in calls if c["agent"] == "writer"} == {arm}
            row = _rows(app, "SELECT experiments, team FROM {db}.optimisations FINAL WHERE request_id = {rid:String}",
                        result["request_id"])
            assert row == [{"experiments": {EXPERIMENT: arm}, "team": "acme"}]


def test_a_job_runs_the_arm_chosen_when_it_was_submitted(live):
    url, app, users = live
    arm, key = sorted(users.items())[0]
    client = PlatformClient(url, key)
    job = client.wait_job(client.submit_job(RESUME, JOB)["id"], timeout=60)
    assert job["status"] == "succeeded", job
    result = client.job_result(job["id"])
    assert result["experiments"] == {EXPERIMENT: arm} and result["prompt_versions"]["writer"] == arm
    calls = _rows(app, "SELECT experiments FROM {db}.model_calls FINAL WHERE request_id = {rid:String}",
                  result["request_id"])
    assert calls and all(c["experiments"] == {EXPERIMENT: arm} for c in calls)
    wait_for(lambda: _rows(app, "SELECT name FROM {db}.scores FINAL WHERE request_id = {rid:String} "
                                "AND dataset = 'online' AND team = 'acme'", result["request_id"]),
             timeout=30, what="the job's online scores")


def test_eval_arms_compares_the_arms_online_scores_feedback_and_cost(live):
    url, app, users = live
    results = {arm: PlatformClient(url, key).optimise(RESUME, JOB) for arm, key in users.items()}
    feedback = httpx.post(f"{url}/v1/feedback", json={"request_id": results["1.0.0"]["request_id"], "rating": "down",
                                                       "reason": "too_long"}, headers=_bearer(users["1.0.0"]))
    assert feedback.status_code == 202, feedback.text
    engineer = _key(url, "acme", "engineer")

    def scored() -> dict | None:
        resp = httpx.get(f"{url}/api/v1/eval/experiments/{EXPERIMENT}", headers=_bearer(engineer), timeout=30)
        assert resp.status_code == 200, resp.text
        data = resp.json()
        arms = {a["arm"]: a for a in data["arms"]}
        ready = set(arms) == set(users) and all("match_after" in a["metrics"] for a in arms.values())
        return data if ready and "user_feedback" in arms["1.0.0"]["metrics"] else None

    data = wait_for(scored, timeout=30, what="online scores of both arms")
    arms = {a["arm"]: a for a in data["arms"]}
    assert data["baseline"] == "1.1.0" and data["team"] == "acme"  # the configured first arm; an engineer's own team
    assert arms["1.0.0"]["metrics"]["user_feedback"]["mean"] == 0.0
    for arm in arms.values():
        assert arm["optimisations"] >= 1 and float(arm["cost_per_optimisation_usd"]) > 0  # the priced simulator
    diffs = {d["metric"]: d for d in data["differences"]}
    assert {d["arm"] for d in data["differences"]} == {"1.0.0"} and {"match_after", "cost_usd"} <= set(diffs)
    assert diffs["match_after"]["n"][0] >= 1 and diffs["match_after"]["diff"] is not None

    out = cli("eval", "arms", "--experiment", EXPERIMENT, "--json",
              env={"RESUMEOPT_PLATFORM_URL": url, "RESUMEOPT_API_KEY": engineer})
    assert out.returncode == 0, out.stderr
    assert {a["arm"] for a in json.loads(out.stdout)["arms"]} == set(users)
    via_compare = cli("eval", "compare", "--experiment", EXPERIMENT, "--json",
                      env={"RESUMEOPT_PLATFORM_URL": url, "RESUMEOPT_API_KEY": engineer})
    assert via_compare.returncode == 0 and json.loads(via_compare.stdout)["arms"] == json.loads(out.stdout)["arms"]
    neither = cli("eval", "compare", env={"RESUMEOPT_PLATFORM_URL": url, "RESUMEOPT_API_KEY": engineer})
    assert neither.returncode == 2 and "two run ids" in neither.stderr
    missing = httpx.get(f"{url}/api/v1/eval/experiments/no-such", headers=_bearer(engineer))
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "experiment_not_found"
    consumer = httpx.get(f"{url}/api/v1/eval/experiments/{EXPERIMENT}", headers=_bearer(users["1.0.0"]))
    assert consumer.status_code == 403


def _bearer(key: str) -> dict:
    return {"authorization": f"Bearer {key}"}
