"""Online evaluation: the sampler decides by request id alone; scoring runs in the background, off the
request path (a response comes back while a slow judge is still scoring it), through a bounded queue that
drops rather than waits; and the scores land in `scores` (dataset `online`, the request id, the prompt
versions, the owner's team) for sync optimisations and for jobs."""

from __future__ import annotations

import threading
import uuid

import httpx
import pytest

from evaluator.judges import Score
from evaluator.online import OnlineEvalSettings, OnlineEvaluator, sampled
from evaluator.registry import STABLE, resolve
from optimiser.client import PlatformClient
from tests.optimiser.test_jobs import JOB, RESUME
from tests.support import simulated_platform, wait_for


class GatedJudge:
    """A judge that scores only once the test lets it: scoring that is slow for as long as the test says."""

    name, version = "gated", "1"

    def __init__(self):
        self.started, self.release = threading.Event(), threading.Event()
        self.seen: list[str] = []

    def score(self, result, expect):
        self.started.set()
        if not self.release.wait(60):
            raise TimeoutError("never released")
        self.seen.append(result["request_id"])
        return [Score("gated", 1.0, self.name, self.version, "slow")]


class BrokenJudge:
    name, version = "broken", "1"

    def score(self, result, expect):
        raise RuntimeError("a judge bug")


def _result(request_id: str) -> dict:
    return {"request_id": request_id, "prompt_versions": {"writer": "1.1.0", "reviewer": "1.1.0"}}


def test_the_sampler_decides_by_request_id_alone():
    ids = [uuid.uuid4().hex for _ in range(10_000)]
    picked = [sampled(i, 0.3) for i in ids]
    assert picked == [sampled(i, 0.3) for i in ids]
    assert not any(sampled(i, 0.0) for i in ids) and all(sampled(i, 1.0) for i in ids)
    assert 0.28 < sum(picked) / len(ids) < 0.32
    # a larger share keeps every request a smaller one picked: raising the share only adds requests
    assert all(sampled(i, 0.5) for i, p in zip(ids, picked) if p)


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("RESUMEOPT_ONLINE_EVAL_SHARE", "0.25")
    monkeypatch.setenv("RESUMEOPT_ONLINE_EVAL_JUDGES", "grounding, structure")
    online = OnlineEvaluator.from_settings()
    assert online.settings.share == 0.25 and [j.name for j in online.judges] == ["grounding", "structure"]
    monkeypatch.delenv("RESUMEOPT_ONLINE_EVAL_JUDGES")
    assert [j.name for j in OnlineEvaluator.from_settings().judges] == list(STABLE)
    monkeypatch.setenv("RESUMEOPT_ONLINE_EVAL_JUDGES", "grounding,nosuch")
    with pytest.raises(KeyError, match="nosuch"):
        OnlineEvaluator.from_settings()
    monkeypatch.setenv("RESUMEOPT_ONLINE_EVAL_SHARE", "1.5")
    with pytest.raises(ValueError):
        OnlineEvalSettings()


def test_a_full_queue_drops_and_counts_and_never_blocks_the_caller():
    judge = GatedJudge()
    online = OnlineEvaluator(OnlineEvalSettings(share=1.0, queue_size=1), [judge])
    rows: list[dict] = []
    online.start(lambda table, row: rows.append(row))
    try:
        assert online.offer(_result("a"), "acme")
        assert judge.started.wait(10)  # the worker holds "a"
        assert online.offer(_result("b"), "acme")  # waits in the queue
        answers: list[bool] = []
        caller = threading.Thread(target=lambda: answers.append(online.offer(_result("c"), "acme")))
        caller.start()
        caller.join(2)  # a blocking offer would still be waiting for the gated judge
        assert not caller.is_alive() and answers == [False]
        assert online.stats()["dropped"] == 1
        judge.release.set()
        wait_for(lambda: len(rows) == 2, timeout=10, what="two scores")
    finally:
        judge.release.set()
        online.stop()
    assert judge.seen == ["a", "b"] and online.stats()["scored"] == 2
    assert {(r["dataset"], r["team"], r["prompt_version"]) for r in rows} == {
        ("online", "acme", "reviewer@1.1.0+writer@1.1.0")}


def test_a_failing_judge_costs_only_its_own_scores():
    online = OnlineEvaluator(OnlineEvalSettings(share=1.0), [BrokenJudge(), *resolve(["grounding"])])
    rows: list[dict] = []
    online.start(lambda table, row: rows.append(row))
    result = {**_result("r1"), "degraded": False, "grounding": {"passed": True, "violations": []}}
    online.offer(result, "acme")
    online.stop()
    assert {r["name"] for r in rows} == {"grounding_violations", "draft_violations", "degraded"}
    assert online.stats()["failed"] == 1
    # the same result scored again (a job worked twice) gives the same score ids: the table keeps one
    again: list[dict] = []
    second = OnlineEvaluator(OnlineEvalSettings(share=1.0), resolve(["grounding"]))
    second.start(lambda table, row: again.append(row))
    second.offer(result, "acme")
    second.stop()
    assert sorted(r["score_id"] for r in again) == sorted(r["score_id"] for r in rows)


def _online_scores(app, request_id: str) -> list[dict]:
    app.state.writer.flush(timeout=10)
    return app.state.store.query("SELECT name, judge, dataset, team, prompt_version FROM {db}.scores FINAL "
                                 "WHERE request_id = {rid:String} ORDER BY name", {"rid": request_id})


def test_the_response_returns_before_scoring_finishes_and_the_scores_land_after(gw_settings):
    judge = GatedJudge()
    online = OnlineEvaluator(OnlineEvalSettings(share=1.0), [judge, *resolve(None)])
    with simulated_platform(gw_settings, online=online) as (url, app):
        try:
            # the judge waits up to 60 s for release: scoring on the request path would time this call out
            result = PlatformClient(url, timeout=40).optimise(RESUME, JOB)
            assert judge.started.wait(10) and judge.seen == []
            assert _online_scores(app, result["request_id"]) == []
        finally:
            judge.release.set()
        # the stable judges' scores (no expectations online) and the gated one's
        core = {"gated", "keyword_coverage", "grounding", "structure"}
        rows = wait_for(lambda: (r := _online_scores(app, result["request_id"])) and core <= {x["judge"] for x in r}
                        and r, timeout=30, what="every online score")
        tag = "+".join(f"{k}@{v}" for k, v in sorted(result["prompt_versions"].items()))
        assert {r["judge"] for r in rows} <= {"gated", *STABLE}
        assert {"match_after", "grounding_violations", "structure_valid"} <= {r["name"] for r in rows}
        assert {(r["dataset"], r["prompt_version"]) for r in rows} == {("online", tag)}
        metrics = httpx.get(f"{url}/metrics").text
        assert "resumeopt_online_eval_sampled_total 1.0" in metrics and "resumeopt_online_eval_dropped_total 0.0" in metrics


def test_a_jobs_result_is_sampled_and_scored_too_and_share_zero_scores_nothing(gw_settings):
    online = OnlineEvaluator(OnlineEvalSettings(share=1.0), resolve(None))
    with simulated_platform(gw_settings, online=online) as (url, app):
        client = PlatformClient(url)
        job = client.wait_job(client.submit_job(RESUME, JOB)["id"], timeout=60)
        assert job["status"] == "succeeded", job
        rows = wait_for(lambda: _online_scores(app, job["request_id"]), timeout=30, what="the job's scores")
        assert {r["dataset"] for r in rows} == {"online"}
    none = OnlineEvaluator(OnlineEvalSettings(share=0.0), resolve(None))
    with simulated_platform(gw_settings.model_copy(update={"store_database": gw_settings.store_database + "z"}),
                            online=none) as (url, app):
        result = PlatformClient(url).optimise(RESUME, JOB)
        assert none.stats()["offered"] == 1 and none.stats()["sampled"] == 0
        assert _online_scores(app, result["request_id"]) == []
