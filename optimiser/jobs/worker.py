"""`resumeopt worker`: a job worker process of the scaled shape. It takes optimisation jobs from the
Redis queue, calls the gateway over HTTP like the platform does, emits its optimisation rows to the
telemetry stream (the store writer inserts them) and reads usage back from the read API."""

from __future__ import annotations

import dataclasses
import logging
import signal
import threading
import time

import httpx

from gateway.settings import GatewaySettings
from gateway.store.stream import encode, stream_key
from gateway.tracing import Tracing
from optimiser.api.optimise import Hooks
from optimiser.jobs.service import JobService
from optimiser.jobs.settings import JobSettings
from optimiser.jobs.wiring import runner_for
from optimiser.settings import OptimiserSettings

log = logging.getLogger("resumeopt.worker")


def worker_hooks(opt: OptimiserSettings, gw: GatewaySettings) -> Hooks:
    import redis

    client = redis.Redis.from_url(gw.redis_url, socket_timeout=5)
    key = stream_key(gw.redis_prefix)

    def emit(table: str, row: dict) -> None:
        client.xadd(key, {"e": encode(table, row)})  # the stream is durable: the store writer inserts it

    def usage(request_id: str, team: str | None) -> dict:
        """The gateway's calls of this optimisation, read back once the count stops growing (they reach
        the store through the stream, a moment behind). Best effort: usage is never worth failing a job."""
        url = f"{opt.gateway_url.rstrip('/')}/api/v1/requests/{request_id}/usage"
        headers = {"authorization": f"Bearer {opt.gateway_api_key}"}
        last, deadline = None, time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                resp = httpx.get(url, headers=headers, timeout=5)
            except httpx.HTTPError:
                break
            if resp.status_code != 200:
                return {"calls": None, "error": f"usage unavailable (HTTP {resp.status_code})"}
            data = resp.json()
            if last is not None and data == last:
                return data
            last = data
            time.sleep(0.5)
        return last or {"calls": None, "error": "usage unavailable"}

    return Hooks(usage=usage, emit=emit, tracing=Tracing.from_settings(gw.tracing))


def run_worker(threads: int | None = None) -> int:
    settings = JobSettings()
    if settings.job_queue != "redis":
        raise SystemExit("resumeopt worker needs RESUMEOPT_JOB_QUEUE=redis (the embedded platform works its own jobs)")
    gw, opt = GatewaySettings(), OptimiserSettings()
    if not opt.gateway_url:
        raise SystemExit("resumeopt worker needs RESUMEOPT_GATEWAY_URL (the platform's base URL)")
    from evaluator.online import OnlineEvaluator
    from evaluator.registry import JudgeContext

    hooks = worker_hooks(opt, gw)
    online = OnlineEvaluator.from_settings(ctx=JudgeContext(opt.gateway_url, opt.gateway_api_key))
    online.start(hooks.emit)  # the results this worker produces are sampled and scored here
    service = JobService(settings, runner_for(opt, dataclasses.replace(hooks, finished=online.offer)))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    service.start_worker(threads)
    log.info("worker started: %d threads on %s", threads or settings.worker_threads, settings.redis_prefix)
    stop.wait()
    service.close()  # jobs in hand finish; prefetched ones go back to the queue
    online.stop()
    return 0
