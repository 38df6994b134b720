"""Async jobs over real loopback HTTP: the platform in-process with its in-process worker (the embedded
default) or the Redis broker (the scaled shape's queue), the simulator as the model, artifacts on disk.
The faults are real ones: a corrupt input artifact on disk (retried, then dead-lettered, then requeued
once it is repaired), a webhook receiver answering 503, a worker that is not running."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import websockets

from gateway.config import GatewayConfig
from gateway.local_model import free_port
from optimiser.client import PlatformClient, PlatformError
from optimiser.jobs.settings import JobSettings
from optimiser.notify.webhooks import verify
from optimiser.settings import OptimiserSettings
from resumeopt.platform import create_platform_app
from tests.conftest import new_gw_settings
from tests.optimiser.test_uploads import CV_LINES
from tests.support import clear_redis_prefix, serve, wait_for

JOB = (Path(__file__).resolve().parents[2] / "datasets" / "samples" / "job.txt").read_text()
RESUME = "\n".join(CV_LINES)
SIMULATED = GatewayConfig.model_validate({"default_alias": "local-smol", "models": [
    {"alias": "local-smol", "deployments": [{"name": "sim", "provider": "simulator", "model": "sim", "simulator": {
        "reply": "A backend engineer with Python.", "completion_tokens": 8}}]}]})
FINISHED = {"succeeded", "failed", "dead", "deleted"}


def _set_artifact_env(mp: pytest.MonkeyPatch, artifacts: Path) -> Path:
    mp.setenv("RESUMEOPT_ARTIFACT_DIR", str(artifacts))
    mp.setenv("RESUMEOPT_WEBHOOK_ALLOW", "127.0.0.1")
    mp.setenv("RESUMEOPT_WEBHOOK_BACKOFF_BASE_S", "0.05")
    mp.setenv("RESUMEOPT_WEBHOOK_BACKOFF_CAP_S", "0.2")
    return artifacts


@pytest.fixture
def artifact_env(tmp_path, monkeypatch):
    return _set_artifact_env(monkeypatch, tmp_path / "artifacts")


@contextlib.contextmanager
def _platform(gw_settings, queue: str):
    """(url, JobService): the platform with fast retries; `redis` uses its own key prefix."""
    prefix = f"resumeopt-test:{uuid.uuid4().hex[:8]}:"
    settings = JobSettings(job_queue=queue, redis_prefix=prefix, job_max_retries=2,
                           job_min_backoff_s=0.05, job_max_backoff_s=0.2)
    port = free_port()
    app = create_platform_app(gw_settings, SIMULATED, OptimiserSettings(gateway_url=f"http://127.0.0.1:{port}"),
                              jobs=settings)
    try:
        with serve(app, port=port) as url:
            yield url, app.state.jobs
    finally:
        clear_redis_prefix(prefix)


@pytest.fixture(params=["memory", "redis"])
def jobs_platform(request, gw_settings, artifact_env):
    with _platform(gw_settings, request.param) as running:
        yield running


def _wait(client: PlatformClient, job_id: str, statuses=FINISHED, timeout=60) -> dict:
    job = client.wait_job(job_id, timeout=timeout, statuses=tuple(statuses))
    assert job["status"] in statuses, job
    return job


def test_job_runs_to_a_result_in_every_format_with_progress_events(jobs_platform):
    url, _ = jobs_platform
    client = PlatformClient(url)
    resp = httpx.post(f"{url}/v1/jobs", json={"resume": RESUME, "job": JOB})
    assert resp.status_code == 202 and resp.headers["location"] == f"/v1/jobs/{resp.json()['id']}"
    job_id = resp.json()["id"]
    job = _wait(client, job_id)
    assert job["status"] == "succeeded" and job["attempts"] == 1 and job["completions"] == 1
    assert job["result"]["grounding_passed"] and "webhook_secret" not in job

    result = client.job_result(job_id)
    assert result["request_id"] == job["request_id"] and result["grounding"]["passed"]
    assert result["usage"]["calls"] >= 3  # the agents' calls, read back from the store
    assert client.job_result(job_id, "markdown") == result["tailored_resume"]
    assert client.job_result(job_id, "docx")[:2] == b"PK"

    # the whole event history, replayed to a late subscriber, ends with the outcome
    with httpx.stream("GET", f"{url}/v1/jobs/{job_id}/events", timeout=10) as sse:
        kinds = [line[7:] for line in sse.iter_lines() if line.startswith("event: ")]
    assert kinds[0] == "queued" and kinds[1] == "started" and kinds[-1] == "succeeded"
    assert "progress" in kinds

    async def ws_events() -> list[dict]:
        async with websockets.connect(f"ws{url[4:]}/v1/jobs/{job_id}/ws") as ws:
            return [json.loads(m) async for m in ws]

    assert [e["type"] for e in asyncio.run(ws_events())] == kinds


def test_websocket_follows_a_running_job_live(jobs_platform):
    url, _ = jobs_platform
    job_id = PlatformClient(url).submit_job(RESUME, JOB)["id"]

    async def ws_events() -> list[dict]:
        async with websockets.connect(f"ws{url[4:]}/v1/jobs/{job_id}/ws") as ws:
            return [json.loads(m) async for m in ws]

    events = asyncio.run(ws_events())
    assert events[0]["type"] == "queued" and events[-1]["type"] == "succeeded"
    assert any(e["type"] == "progress" and e["stage"] == "agents_started" for e in events)


def test_same_idempotency_key_gives_one_job_and_a_different_body_is_refused(jobs_platform):
    url, service = jobs_platform
    key = f"order-{uuid.uuid4().hex}"
    first = httpx.post(f"{url}/v1/jobs", json={"resume": RESUME, "job": JOB}, headers={"idempotency-key": key})
    again = httpx.post(f"{url}/v1/jobs", json={"resume": RESUME, "job": JOB}, headers={"idempotency-key": key})
    assert first.status_code == 202 and again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true" and again.json()["id"] == first.json()["id"]
    other = httpx.post(f"{url}/v1/jobs", json={"resume": RESUME, "job": JOB + " Go."}, headers={"idempotency-key": key})
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_key_reused"
    _wait(PlatformClient(url), first.json()["id"])
    assert service.store.get(first.json()["id"])["completions"] == 1
    assert len(service.runner.artifacts.list("jobs/")) == 4  # one job's input + 3 renderings, no orphans


@pytest.fixture(scope="module")
def refusing_platform(data_dir, tmp_path_factory):
    """(url, app): one platform for the bad submissions below. Each is refused before anything is stored,
    so each still sees no artifact at all; a platform each cost ~0.9 s to start and stop, 6 times. Its
    settings are artifact_env's (read when the platform is created and started), kept for its lifetime;
    every other test of this module sets its own over them."""
    with pytest.MonkeyPatch.context() as mp:
        _set_artifact_env(mp, tmp_path_factory.mktemp("refusing") / "artifacts")
        port = free_port()
        app = create_platform_app(new_gw_settings(data_dir), SIMULATED,
                                  OptimiserSettings(gateway_url=f"http://127.0.0.1:{port}"),
                                  jobs=JobSettings(job_queue="memory"))
        with serve(app, port=port) as url:
            yield url, app


@pytest.mark.parametrize("body,headers,status,code", [
    (b"{not json", {}, 400, "invalid_json"),
    (json.dumps({"resume": RESUME}).encode(), {}, 422, "missing_job"),
    (json.dumps({"resume": "", "job": JOB}).encode(), {}, 422, "invalid_request"),
    (json.dumps({"resume": RESUME, "job": JOB}).encode(), {"idempotency-key": "has space"}, 400,
     "invalid_idempotency_key"),
    (json.dumps({"resume": RESUME, "job": JOB, "webhook_url": "http://169.254.169.254/latest"}).encode(), {}, 422,
     "invalid_webhook_url"),
    (json.dumps({"resume": RESUME, "job": JOB, "notify_email": "a@b.co\r\nBcc: x@y.z"}).encode(), {}, 422,
     "invalid_request"),
])
def test_bad_submissions_are_refused_with_a_json_code_and_create_nothing(refusing_platform, body, headers,
                                                                        status, code):
    url, app = refusing_platform
    resp = httpx.post(f"{url}/v1/jobs", content=body, headers={"content-type": "application/json", **headers})
    assert resp.status_code == status and resp.json()["error"]["code"] == code
    assert app.state.jobs.runner.artifacts.list("jobs/") == []


def test_unknown_and_unfinished_jobs_and_delete_purges(gw_settings, artifact_env):
    port = free_port()
    app = create_platform_app(gw_settings, SIMULATED, OptimiserSettings(gateway_url=f"http://127.0.0.1:{port}"),
                              jobs=JobSettings(job_queue="memory", run_worker=False))  # nothing works the queue
    with serve(app, port=port) as url:
        missing = httpx.get(f"{url}/v1/jobs/job_nope")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "job_not_found"
        job_id = PlatformClient(url).submit_job(RESUME, JOB)["id"]
        pending = httpx.get(f"{url}/v1/jobs/{job_id}/result")
        assert pending.status_code == 409 and pending.json()["error"]["code"] == "job_not_finished"
        assert pending.json()["error"]["status"] == "queued"
        assert app.state.jobs.runner.artifacts.exists(f"jobs/{job_id}/input.json")
        deleted = httpx.delete(f"{url}/v1/jobs/{job_id}")
        assert deleted.status_code == 200 and deleted.json()["deleted"] is True
        assert app.state.jobs.runner.artifacts.list(f"jobs/{job_id}/") == []
        gone = httpx.get(f"{url}/v1/jobs/{job_id}/result")
        assert gone.status_code == 410 and gone.json()["error"]["code"] == "job_deleted"
        # the worker starts later: the deleted job is not run
        app.state.jobs.start_worker()
        job = PlatformClient(url).job(job_id)
        assert job["status"] == "deleted" and job["attempts"] == 0


def test_a_failing_job_is_retried_then_dead_lettered_then_requeued_once_repaired(jobs_platform, artifact_env):
    url, service = jobs_platform
    client = PlatformClient(url)
    service.stop_worker()  # submit first, then break its input on disk before any worker reads it
    job_id = client.submit_job(RESUME, JOB)["id"]
    stored = next((artifact_env / "jobs" / job_id).iterdir())
    good = stored.read_bytes()
    stored.write_bytes(good[:20] + bytes(b ^ 0xFF for b in good[20:40]) + good[40:])  # bit rot
    service.start_worker()
    job = _wait(client, job_id)
    assert job["status"] == "dead" and job["attempts"] == 3  # the first try and job_max_retries=2
    assert job["error"]["code"] == "retries_exhausted"
    dlq = client.call("GET", "/admin/v1/jobs/dlq")
    assert [j["id"] for j in dlq["jobs"]] == [job_id] and dlq["queue"]["dead"] == 1
    kinds = [e["type"] for e in service.store.events(job_id)]
    assert kinds.count("attempt_failed") == 3 and kinds[-1] == "dead"

    stored.write_bytes(good)  # the operator repairs the cause, then requeues
    assert client.call("POST", "/admin/v1/jobs/dlq/requeue", json={})["requeued"] == [job_id]
    job = _wait(client, job_id)
    assert job["status"] == "succeeded" and job["completions"] == 1 and job["attempts"] == 4
    assert client.call("GET", "/admin/v1/jobs/dlq")["jobs"] == []
    assert client.call("GET", "/admin/v1/jobs/dlq")["queue"]["dead"] == 0


class _Receiver:
    """A webhook endpoint on loopback that answers the scripted statuses, then 200."""

    def __init__(self, statuses: list[int]):
        self.statuses, self.received = list(statuses), []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["content-length"]))
                receiver.received.append((dict(self.headers), body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


def test_webhook_is_signed_retried_and_logged(jobs_platform):
    url, _ = jobs_platform
    receiver = _Receiver([503])
    try:
        client = PlatformClient(url)
        created = client.submit_job(RESUME, JOB, webhook_url=receiver.url)
        secret = created["webhook_secret"]  # generated, shown once
        assert secret.startswith("whsec_") and "webhook_secret" not in client.job(created["id"])
        wait_for(lambda: len(client.job(created["id"])["deliveries"]) == 2, timeout=30, what="two deliveries")
        job = client.job(created["id"])
        assert [d["status"] for d in job["deliveries"]] == [503, 200]
        assert [d["delivered"] for d in job["deliveries"]] == [False, True]
        assert len(receiver.received) == 2
        headers, body = receiver.received[-1]
        verify(secret, {k.lower(): v for k, v in headers.items()}, body)  # raises if the signature is wrong
        event = json.loads(body)
        assert event["type"] == "job.succeeded" and event["job_id"] == created["id"]
        assert event["data"]["result_url"] == f"/v1/jobs/{created['id']}/result"
        # both attempts carry the same webhook-id: a receiver dedupes a redelivery by it
        assert receiver.received[0][0]["webhook-id"] == headers["webhook-id"]
        with pytest.raises(Exception):
            verify("whsec_" + "x" * 40, {k.lower(): v for k, v in headers.items()}, body)
    finally:
        receiver.close()


def test_jobs_are_private_to_their_owner(secured, artifact_env):
    port = free_port()
    app = create_platform_app(secured, SIMULATED, OptimiserSettings(gateway_url=f"http://127.0.0.1:{port}"),
                              jobs=JobSettings(job_queue="memory", run_worker=False))
    with serve(app, port=port) as url:
        admin = PlatformClient(url, api_key=secured.admin_key.get_secret_value())
        keys = {team: admin.call("POST", "/admin/v1/keys", json={"name": team, "team": team, "role": "consumer",
                                                                  "reason": "test"})["key"] for team in ("a", "b")}
        job_id = PlatformClient(url, api_key=keys["a"]).submit_job(RESUME, JOB)["id"]
        assert PlatformClient(url, api_key=keys["a"]).job(job_id)["team"] == "a"
        with pytest.raises(PlatformError) as other:
            PlatformClient(url, api_key=keys["b"]).job(job_id)
        assert other.value.status == 404
        assert httpx.get(f"{url}/v1/jobs/{job_id}").status_code == 401
        assert admin.job(job_id)["id"] == job_id

        async def ws_refused() -> int:
            try:
                async with websockets.connect(f"ws{url[4:]}/v1/jobs/{job_id}/ws",
                                              additional_headers={"authorization": f"Bearer {keys['b']}"}) as ws:
                    await ws.recv()
            except websockets.exceptions.InvalidStatus as exc:
                return exc.response.status_code
            except websockets.exceptions.ConnectionClosed as exc:
                return exc.rcvd.code if exc.rcvd else 0
            return 0

        assert asyncio.run(ws_refused()) in (403, 4404)


def test_gdpr_export_then_erase_a_users_jobs_artifacts_and_call_rows(secured, artifact_env):
    port = free_port()
    app = create_platform_app(secured, SIMULATED, OptimiserSettings(gateway_url=f"http://127.0.0.1:{port}"),
                              jobs=JobSettings(job_queue="memory"))
    with serve(app, port=port) as url:
        admin = PlatformClient(url, api_key=secured.admin_key.get_secret_value())
        key = admin.call("POST", "/admin/v1/keys", json={"name": "u", "team": "a", "role": "consumer",
                                                         "user_id": "user-42", "plan": "premium", "reason": "test"})["key"]
        other = admin.call("POST", "/admin/v1/keys", json={"name": "v", "team": "a", "role": "consumer",
                                                           "user_id": "user-43", "plan": "premium", "reason": "test"})["key"]
        mine = PlatformClient(url, api_key=key).submit_job(RESUME, JOB)["id"]
        theirs = PlatformClient(url, api_key=other).submit_job(RESUME, JOB)["id"]
        for job_id in (mine, theirs):
            assert admin.wait_job(job_id, timeout=60)["status"] == "succeeded"

        export = admin.call("POST", "/admin/v1/gdpr/export", json={"user_id": "user-42"})
        assert [j["job"]["id"] for j in export["jobs"]] == [mine]
        files = export["jobs"][0]["artifacts"]
        assert {"input.json", "result.json", "result.md", "result.docx"} <= set(files)
        assert "jane@example.com" in files["input.json"]["input"]["resume"]
        assert "gateway_key" not in json.dumps(export)  # never hand a credential back
        calls = export["model_calls"]
        assert len(calls) >= 3 and {c["user_id"] for c in calls} == {"user-42"}

        erased = admin.call("POST", "/admin/v1/gdpr/erase", json={"user_id": "user-42"})
        assert erased["jobs_deleted"] == 1 and erased["artifacts_deleted"] == 4
        assert erased["model_calls_pseudonymised"] == len(calls)
        after = admin.call("POST", "/admin/v1/gdpr/export", json={"user_id": "user-42"})
        assert after["jobs"] == [] and after["model_calls"] == []
        rows = app.state.store.query("SELECT count() AS n, max(prompt) AS p FROM {db}.model_calls "
                                     "WHERE user_id = {u:String}", {"u": erased["pseudonym"]})[0]
        assert rows["n"] == len(calls) and rows["p"] == ""  # cost rows kept for finance, content gone
        assert app.state.jobs.runner.artifacts.list(f"jobs/{mine}/") == []
        # the other user's data is untouched
        assert admin.job(theirs)["status"] == "succeeded"
        assert len(app.state.jobs.runner.artifacts.list(f"jobs/{theirs}/")) == 4
        bad = httpx.post(f"{url}/admin/v1/gdpr/erase", json={"user_id": ""},
                         headers={"authorization": f"Bearer {secured.admin_key.get_secret_value()}"})
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_request"


def test_job_completion_is_emailed_through_smtp(gw_settings, artifact_env, monkeypatch):
    from aiosmtpd.controller import Controller

    from tests.optimiser.test_email import Inbox, received

    inbox, smtp_port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    for name, value in {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp_port), "SMTP_STARTTLS": "false",
                        "SMTP_FROM": "Resumeopt <noreply@resumeopt.example>",
                        "PUBLIC_URL": "https://resumeopt.example"}.items():
        monkeypatch.setenv(f"RESUMEOPT_{name}", value)
    port = free_port()
    app = create_platform_app(gw_settings, SIMULATED, OptimiserSettings(gateway_url=f"http://127.0.0.1:{port}"),
                              jobs=JobSettings(job_queue="memory"))
    try:
        with serve(app, port=port) as url:
            client = PlatformClient(url)
            job_id = client.submit_job(RESUME, JOB, notify_email="jane@example.com")["id"]
            assert _wait(client, job_id)["status"] == "succeeded"
            wait_for(lambda: inbox.envelopes, timeout=10, what="the e-mail")
            envelope, message, _ = received(inbox)
            assert envelope.rcpt_tos == ["jane@example.com"]
            body = message.get_body(("plain",)).get_content()
            assert job_id in body and f"https://resumeopt.example/v1/jobs/{job_id}/result" in body
            assert "Acme" not in message.as_string()  # a link to the result, never the resume itself
    finally:
        controller.stop()


def test_dlq_cli_against_the_running_platform(gw_settings, artifact_env):
    with _platform(gw_settings, "redis") as (url, service):
        _dlq_cli(url, service, artifact_env)


def _dlq_cli(url, service, artifact_env):
    service.stop_worker()
    job_id = PlatformClient(url).submit_job(RESUME, JOB)["id"]
    (artifact_env / "jobs" / job_id / "input.json").write_bytes(b"not an artifact")
    service.start_worker()
    _wait(PlatformClient(url), job_id)

    def cli(*args: str) -> dict:
        out = subprocess.run([sys.executable, "-m", "resumeopt.cli", "jobs", "dlq", *args, "--json"],
                             env={**os.environ, "RESUMEOPT_PLATFORM_URL": url},
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    assert [j["id"] for j in cli("list")["jobs"]] == [job_id]
    assert cli("purge") == {"purged": 1}
    assert cli("list")["queue"]["dead"] == 0
    assert PlatformClient(url).job(job_id)["status"] == "dead"


def test_submission_while_redis_is_unreachable_is_a_503_that_queues_nothing(gw_settings, artifact_env):
    port = free_port()
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    app = create_platform_app(gw_settings, SIMULATED, OptimiserSettings(gateway_url=f"http://127.0.0.1:{port}"),
                              jobs=JobSettings(job_queue="redis", redis_url=dead_redis, run_worker=False))
    with serve(app, port=port) as url:
        resp = httpx.post(f"{url}/v1/jobs", json={"resume": RESUME, "job": JOB}, timeout=30)
        assert resp.status_code == 503 and resp.json()["error"]["code"] == "queue_unavailable"
        assert resp.headers["retry-after"] == "5"
        assert app.state.jobs.runner.artifacts.list("jobs/") == []  # its inputs were not left behind
