"""The scaled shape's promise, tested with real processes: a `resumeopt worker` killed with SIGKILL in the
middle of a job loses nothing. Its heartbeat stops, another worker takes the job back from the Redis
queue and finishes it, and the job completes exactly once: one result, one `succeeded` transition, one
optimisation row in the store, one webhook."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import uuid

import pytest

from gateway.config import GatewayConfig
from gateway.local_model import free_port
from optimiser.client import PlatformClient
from optimiser.jobs.settings import JobSettings
from optimiser.settings import OptimiserSettings
from resumeopt.platform import create_platform_app
from tests.optimiser.test_jobs import JOB, RESUME, _Receiver
from tests.support import clear_redis_prefix, serve, stop_process, wait_for

SLOW = GatewayConfig.model_validate({"default_alias": "local-smol", "models": [
    {"alias": "local-smol", "deployments": [{"name": "sim", "provider": "simulator", "model": "sim", "simulator": {
        "reply": "A backend engineer with Python.", "completion_tokens": 8,
        "latency": {"distribution": "fixed", "ms": 1500}}}]}]})


@pytest.fixture
def scaled(tmp_path, gw_settings, monkeypatch):
    prefix = f"resumeopt-test:{uuid.uuid4().hex[:8]}:"
    env = {"RESUMEOPT_JOB_QUEUE": "redis", "RESUMEOPT_REDIS_PREFIX": prefix,
           "RESUMEOPT_QUEUE_HEARTBEAT_TIMEOUT_S": "2", "RESUMEOPT_QUEUE_MAINTENANCE_CHANCE": "1000000",
           "RESUMEOPT_ARTIFACT_DIR": str(tmp_path / "artifacts"),  # shared storage (S3 in production)
           "RESUMEOPT_ARTIFACT_KEYS": "k1:" + base64.b64encode(os.urandom(32)).decode(),
           "RESUMEOPT_TELEMETRY_QUEUE": "redis", "RESUMEOPT_WEBHOOK_ALLOW": "127.0.0.1",
           "RESUMEOPT_AUTH": "off"}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    gw = gw_settings.model_copy(update={"telemetry_queue": "redis", "redis_prefix": prefix, "store_writer": True})
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    app = create_platform_app(gw, SLOW, OptimiserSettings(gateway_url=url),
                              jobs=JobSettings(job_queue="redis", redis_prefix=prefix, run_worker=False))
    workers: list[subprocess.Popen] = []

    def worker(name: str) -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, "-m", "resumeopt.cli", "worker"],
                                env={**os.environ, "RESUMEOPT_GATEWAY_URL": url,
                                     "RESUMEOPT_DATA_DIR": str(tmp_path / name)},
                                stdout=subprocess.DEVNULL, stderr=open(tmp_path / f"{name}.log", "ab"))
        workers.append(proc)
        return proc

    try:
        with serve(app, port=port):
            yield url, app, worker
    finally:
        for proc in workers:
            stop_process(proc)
        clear_redis_prefix(prefix)


def test_a_worker_killed_mid_job_is_replaced_and_the_job_completes_exactly_once(scaled):
    url, app, worker = scaled
    client = PlatformClient(url)
    receiver = _Receiver([])
    try:
        first = worker("worker-a")
        job_id = client.submit_job(RESUME, JOB, webhook_url=receiver.url)["id"]
        store = app.state.jobs.store
        wait_for(lambda: any(e["type"] == "progress" and e.get("stage") == "agents_started"
                             for e in store.events(job_id)), timeout=60, what="the job inside its model calls")
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        assert client.job(job_id)["status"] == "running"  # its worker is gone; the job is not lost

        worker("worker-b")
        job = client.wait_job(job_id, timeout=120)
        assert job["status"] == "succeeded", job
        assert job["attempts"] == 2 and job["completions"] == 1
        kinds = [e["type"] for e in store.events(job_id)]
        assert kinds.count("started") == 2 and kinds.count("succeeded") == 1
        assert client.job_result(job_id)["grounding"]["passed"]

        def rows() -> int:
            app.state.writer.flush(timeout=5)
            return app.state.store.query("SELECT count() AS n FROM {db}.optimisations WHERE request_id = {r:String}",
                                         {"r": job["request_id"]})[0]["n"]

        wait_for(lambda: rows() >= 1, timeout=30, what="the optimisation row through the stream")
        wait_for(lambda: len(receiver.received) >= 1, timeout=30, what="the webhook")
        assert rows() == 1
        assert [json.loads(body)["type"] for _, body in receiver.received] == ["job.succeeded"]
    finally:
        receiver.close()
