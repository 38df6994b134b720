"""Async optimisation jobs on dramatiq: submit, work, retry, dead-letter, notify.

Why dramatiq: its Redis broker gives at-least-once delivery with a worker heartbeat (a worker killed
with SIGKILL has its unacknowledged jobs put back on the queue once its heartbeat is stale), retries
with exponential backoff as middleware, a dead-letter queue per queue, and a stub broker plus an
in-process `Worker` for the embedded default; all with threads, which the synchronous CrewAI flow needs.
RQ forks per job (no in-process mode, and a fork of a process holding chDB is unsafe), arq is
asyncio-only with no dead letters, Celery is far heavier for the same guarantees.

At-least-once means a job may run twice (a worker killed after finishing the flow, before acking).
The handler is idempotent: the result is written only if absent, the job record's transitions are
compare-and-set (succeeded happens once, `completions` counts it), and a redelivered message for a
finished job only re-sends notifications that were not yet handed over.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dramatiq
from dramatiq.middleware import CurrentMessage, Middleware, Retries, ShutdownNotifications, TimeLimit

from optimiser.jobs.settings import JobSettings
from optimiser.jobs.store import FINAL, JobNotFound, JobStore, MemoryJobStore, RedisJobStore, Unchanged, now_iso

log = logging.getLogger("resumeopt.jobs")

OPTIMISE_QUEUE, WEBHOOK_QUEUE = "optimise", "webhooks"
EVENT_TYPES = {"succeeded": "job.succeeded", "failed": "job.failed", "dead": "job.dead"}


class PermanentJobError(Exception):
    """The job cannot succeed by trying again (unreadable resume, bad job): fail it, no retries."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


@dataclass
class Runner:
    """What working a job needs from the platform (injected; the worker process builds its own)."""
    run: Callable[[dict, Callable[[str, dict], None]], dict]   # (input, progress) -> result; raises PermanentJobError
    artifacts: Any                                             # optimiser.artifacts.ArtifactStore
    notify: Callable[[dict, str], None] | None = None          # (job record, event type) -> e-mail etc. (best effort)
    deliver_webhook: Callable[[dict, dict, int], dict] | None = None  # (job, event, attempt) -> delivery attempt dict
    check_webhook_url: Callable[[str], None] | None = None     # raises ValueError: refused at submission (422)
    webhook_max_attempts: int = 6
    webhook_backoff_s: tuple[float, float] = (1.0, 300.0)      # first retry, cap


class _DeadLetters(Middleware):
    """A message that used up its retries is dead: mark its job so (clients see `dead`, the DLQ lists it)."""

    def __init__(self, service: JobService):
        self.service = service

    def after_nack(self, broker, message):
        try:
            self.service._dead(message)
        except Exception:  # never let bookkeeping break the worker loop
            log.exception("marking message %s dead failed", message.message_id)


class JobService:
    def __init__(self, settings: JobSettings, runner: Runner, store: JobStore | None = None):
        self.settings, self.runner = settings, runner
        self.store = store or (RedisJobStore(settings.redis_url, settings.redis_prefix,
                                             settings.job_record_ttl_days * 86_400)
                               if settings.job_queue == "redis" else MemoryJobStore())
        middleware = [TimeLimit(), ShutdownNotifications(), CurrentMessage(),
                      Retries(max_retries=settings.job_max_retries, min_backoff=int(settings.job_min_backoff_s * 1000),
                              max_backoff=int(settings.job_max_backoff_s * 1000)),
                      _DeadLetters(self)]
        if settings.job_queue == "redis":
            from dramatiq.brokers.redis import RedisBroker

            self.broker = RedisBroker(url=settings.redis_url, namespace=f"{settings.redis_prefix}dramatiq",
                                      middleware=middleware,
                                      heartbeat_timeout=int(settings.queue_heartbeat_timeout_s * 1000),
                                      maintenance_chance=settings.queue_maintenance_chance)
        else:
            from dramatiq.brokers.stub import StubBroker

            self.broker = StubBroker(middleware=middleware)
        self._optimise = dramatiq.actor(self._work, actor_name="optimise_job", queue_name=OPTIMISE_QUEUE,
                                        broker=self.broker, time_limit=int(settings.job_time_limit_s * 1000))
        first, cap = runner.webhook_backoff_s
        self._webhook = dramatiq.actor(self._send_webhook, actor_name="deliver_webhook", queue_name=WEBHOOK_QUEUE,
                                       broker=self.broker, time_limit=60_000, retry_when=self._webhook_retry_when,
                                       min_backoff=int(first * 1000), max_backoff=int(cap * 1000))
        self.worker: dramatiq.Worker | None = None

    # -- the worker -----------------------------------------------------------------------------------

    def start_worker(self, threads: int | None = None) -> None:
        self.worker = dramatiq.Worker(self.broker, worker_threads=threads or self.settings.worker_threads,
                                      worker_timeout=250)
        self.worker.start()

    def stop_worker(self, timeout_s: float = 30.0) -> None:
        """Graceful: jobs in hand finish (up to the timeout), prefetched ones go back to the queue."""
        if self.worker is not None:
            self.worker.stop(timeout=int(timeout_s * 1000))
            self.worker = None

    def close(self) -> None:
        self.stop_worker()
        self.broker.close()

    # -- submission -----------------------------------------------------------------------------------

    def submit(self, job_input: dict, *, owner: dict, webhook: dict | None = None, email: str | None = None,
               idempotency_key: str | None = None) -> tuple[dict, bool]:
        """(job record, created). The same Idempotency-Key from the same owner gives the same job; with a
        different body it is a conflict (IdempotencyConflict), as Stripe answers."""
        # What the client sent (not the request id we drew for it, nor its credential, nor the experiment
        # arms we chose: a changed experiment must not turn a retried submission into a conflict) names the body.
        sent = {k: v for k, v in job_input["input"].items() if k not in ("request_id", "experiments")}
        body_hash = hashlib.sha256(_dumps({"input": sent, "webhook": (webhook or {}).get("url"),
                                           "email": email})).hexdigest()
        job_id = "job_" + uuid.uuid4().hex
        record = {
            "id": job_id, "object": "job", "status": "queued", "created_at": now_iso(), "updated_at": now_iso(),
            "request_id": job_input["input"]["request_id"], "team": owner.get("team", ""),
            "user_id": owner.get("user_id", ""), "owner": owner.get("subject", ""),
            "attempts": 0, "completions": 0, "error": None, "result": None,
            "webhook_url": (webhook or {}).get("url"), "webhook_secret": (webhook or {}).get("secret"),
            "notify_email": email, "notified": {}, "deliveries": [], "body_hash": body_hash,
        }
        scope = None
        if idempotency_key:
            scope = hashlib.sha256(f"{owner.get('team', '')}\x00{owner.get('subject', '')}\x00"
                                   f"{idempotency_key}".encode()).hexdigest()[:32]
        # Inputs first: a job record never exists without its inputs (a worker may pick it up at once).
        self.runner.artifacts.put(f"jobs/{job_id}/input.json", _dumps(job_input))
        try:
            stored, created = self.store.create(record, scope, self.settings.idempotency_ttl_s)
        except Exception:
            self.runner.artifacts.delete_prefix(f"jobs/{job_id}/")  # no job: leave no inputs behind
            raise
        if not created:
            self.runner.artifacts.delete_prefix(f"jobs/{job_id}/")
            if stored.get("body_hash") != body_hash:
                raise IdempotencyConflict(stored["id"])
            return stored, False
        self.store.add_event(job_id, {"type": "queued", "at": now_iso()})
        self._optimise.send(job_id)
        return stored, True

    # -- working a job --------------------------------------------------------------------------------

    def _work(self, job_id: str) -> None:
        try:
            job = self.store.get(job_id)
        except JobNotFound:
            return  # erased (GDPR) or expired: nothing to do
        if job["status"] in FINAL:
            self._handover(job)  # a redelivery after completion: only what was not yet handed over
            return
        artifacts = self.runner.artifacts
        key = f"jobs/{job_id}/result.json"
        if not artifacts.exists(key):  # else an earlier attempt finished the flow and died before recording it
            job = self.store.update(job_id, _start)
            if job is None:
                return  # deleted or cancelled meanwhile
            self._event(job_id, "started", attempt=job["attempts"])
            try:
                job_input = _loads(artifacts.get(f"jobs/{job_id}/input.json"))
                result = self.runner.run(job_input, lambda stage, data: self._event(job_id, "progress",
                                                                                     stage=stage, **data))
            except PermanentJobError as exc:
                self._finish(job_id, "failed", error={"code": exc.code, "message": exc.message})
                return
            except Exception as exc:
                self._retrying(job_id, exc)
                raise
            artifacts.put_if_absent(key, _dumps(result))
            for name, data in _renderings(result).items():
                artifacts.put_if_absent(f"jobs/{job_id}/{name}", data)
        result = _loads(artifacts.get(key))
        summary = {"match_before": result["match"]["before"], "match_after": result["match"]["after"],
                   "degraded": result["degraded"], "grounding_passed": result["grounding"]["passed"]}
        self._finish(job_id, "succeeded", result=summary)

    def _retrying(self, job_id: str, exc: Exception) -> None:
        message = CurrentMessage.get_current_message()
        retries = message.options.get("retries", 0) if message else 0
        error = {"code": "attempt_failed", "message": f"{type(exc).__name__}: {str(exc)[:300]}"}

        def change(job: dict) -> dict:
            if job["status"] in FINAL:
                raise Unchanged
            return {**job, "status": "retrying" if retries < self.settings.job_max_retries else job["status"],
                    "error": error}

        self.store.update(job_id, change)
        self._event(job_id, "attempt_failed", attempt=retries + 1, error=error)

    def _finish(self, job_id: str, status: str, **fields: Any) -> None:
        def change(job: dict) -> dict:
            if job["status"] in FINAL:
                raise Unchanged  # already finished (a concurrent redelivery), cancelled or deleted
            done = {**job, **fields, "status": status, "finished_at": now_iso()}
            done["completions"] = job["completions"] + 1
            done["notified"] = {**job.get("notified", {}), EVENT_TYPES[status]: False}
            return done

        job = self.store.update(job_id, change)
        if job is None:
            if self.store.get(job_id)["status"] == "deleted":  # deleted while it ran: leave nothing behind
                self.runner.artifacts.delete_prefix(f"jobs/{job_id}/")
            return
        self._event(job_id, status, **fields)
        self._handover(job)

    def _dead(self, message) -> None:
        if message.actor_name == "deliver_webhook":
            job_id, event_type = message.args
            self._record_delivery(job_id, {"event": event_type, "gave_up": True, "at": now_iso()})
            return
        if message.actor_name != "optimise_job":
            return
        job_id = message.args[0]
        error = {"code": "retries_exhausted",
                 "message": f"the job failed {message.options.get('retries', 0)} times; it is dead-lettered"}

        def change(job: dict) -> dict:
            if job["status"] in FINAL:
                raise Unchanged
            return {**job, "status": "dead", "error": error, "finished_at": now_iso(),
                    "notified": {**job.get("notified", {}), "job.dead": False},
                    "dead_message_id": message.options.get("redis_message_id", message.message_id)}

        job = self.store.update(job_id, change)
        if job is not None:
            self._event(job_id, "dead", error=error)
            self._handover(job)

    def _handover(self, job: dict) -> None:
        """Notifications of a finished job not yet handed over: the webhook message (its own retries) and
        the e-mail (best effort). Marked handed over after, so a crash in between re-sends on redelivery."""
        for event_type, done in (job.get("notified") or {}).items():
            if done:
                continue
            if job.get("webhook_url"):
                self._webhook.send(job["id"], event_type)
            if self.runner.notify is not None and job.get("notify_email"):
                try:
                    self.runner.notify(job, event_type)
                except Exception as exc:
                    log.warning("e-mail for job %s failed: %s", job["id"], type(exc).__name__)
                    self._event(job["id"], "email_failed", error=type(exc).__name__)

            def mark(j: dict, event_type=event_type) -> dict:
                return {**j, "notified": {**j.get("notified", {}), event_type: True}}

            self.store.update(job["id"], mark)

    # -- webhooks ---------------------------------------------------------------------------------------

    def _send_webhook(self, job_id: str, event_type: str) -> None:
        try:
            job = self.store.get(job_id)
        except JobNotFound:
            return
        if job["status"] == "deleted" or self.runner.deliver_webhook is None:
            return
        message = CurrentMessage.get_current_message()
        attempt = (message.options.get("retries", 0) if message else 0) + 1
        event = webhook_event(job, event_type)
        delivery = self.runner.deliver_webhook(job, event, attempt)
        self._record_delivery(job_id, delivery)
        if not delivery.get("delivered") and delivery.get("retryable"):
            raise dramatiq.Retry(f"webhook attempt {attempt} failed", delay=delivery.get("retry_after_ms"))

    def _webhook_retry_when(self, retries: int, exc: BaseException) -> bool:
        return isinstance(exc, dramatiq.Retry) and retries + 1 < self.runner.webhook_max_attempts

    def _record_delivery(self, job_id: str, delivery: dict) -> None:
        def change(job: dict) -> dict:
            return {**job, "deliveries": (job.get("deliveries") or [])[-49:] + [delivery]}

        try:
            self.store.update(job_id, change)
        except JobNotFound:
            pass

    # -- reading, deleting, the dead-letter queue ------------------------------------------------------

    def _event(self, job_id: str, kind: str, **data: Any) -> None:
        self.store.add_event(job_id, {"type": kind, "at": now_iso(), **data})

    def delete(self, job_id: str) -> dict:
        """Cancel if not finished, purge inputs and artifacts; the record stays as a tombstone (status
        `deleted`, no inputs) until its TTL so a client polling it learns what happened."""
        def change(job: dict) -> dict:
            return {**job, "status": "deleted", "deleted_at": now_iso(), "webhook_secret": None,
                    "notify_email": None, "result": None}

        job = self.store.update(job_id, change)
        self.runner.artifacts.delete_prefix(f"jobs/{job_id}/")
        self._event(job_id, "deleted")
        return job

    def dead_letters(self) -> list[dict]:
        out = []
        for job_id in self.store.dead():
            try:
                job = self.store.get(job_id)
            except JobNotFound:
                continue
            out.append({"id": job_id, "request_id": job["request_id"], "team": job["team"],
                        "attempts": job["attempts"], "error": job["error"], "finished_at": job.get("finished_at")})
        return out

    def requeue_dead(self, job_ids: list[str] | None = None) -> list[str]:
        """Put dead jobs back on the queue (after fixing the cause): attempts continue counting."""
        done = []
        for job_id in job_ids or self.store.dead():
            def change(job: dict) -> dict:
                if job["status"] != "dead":
                    raise Unchanged
                return {**job, "status": "queued", "error": None, "finished_at": None,
                        "notified": {k: v for k, v in job.get("notified", {}).items() if k != "job.dead"}}

            if self.store.update(job_id, change) is not None:
                self._drop_dead_message(job_id)
                self._event(job_id, "requeued")
                self._optimise.send(job_id)
                done.append(job_id)
        return done

    def purge_dead(self) -> int:
        """Drop the dead messages; the jobs stay `dead` (their records and artifacts age out)."""
        count = 0
        for job_id in self.store.dead():
            self._drop_dead_message(job_id)
            count += 1
        return count

    def _drop_dead_message(self, job_id: str) -> None:
        if self.settings.job_queue == "redis":
            ns = f"{self.settings.redis_prefix}dramatiq:{OPTIMISE_QUEUE}.XQ"
            client = self.broker.client
            for mid, raw in client.hgetall(f"{ns}.msgs").items():
                if job_id.encode() in raw:
                    client.zrem(ns, mid)
                    client.hdel(f"{ns}.msgs", mid)
        else:
            letters = self.broker.dead_letters_by_queue[OPTIMISE_QUEUE]
            letters[:] = [m for m in letters if m.args[0] != job_id]

    def queue_depth(self) -> dict[str, int]:
        if self.settings.job_queue == "redis":
            c, ns = self.broker.client, f"{self.settings.redis_prefix}dramatiq"
            return {"queued": c.llen(f"{ns}:{OPTIMISE_QUEUE}"), "delayed": c.llen(f"{ns}:{OPTIMISE_QUEUE}.DQ"),
                    "dead": c.zcard(f"{ns}:{OPTIMISE_QUEUE}.XQ")}
        return {"queued": self.broker.queues[OPTIMISE_QUEUE].qsize() if OPTIMISE_QUEUE in self.broker.queues else 0,
                "delayed": 0, "dead": len(self.broker.dead_letters_by_queue[OPTIMISE_QUEUE])}


class IdempotencyConflict(Exception):
    def __init__(self, job_id: str):
        super().__init__(job_id)
        self.job_id = job_id


def _start(job: dict) -> dict:
    if job["status"] in FINAL:
        raise Unchanged
    return {**job, "status": "running", "attempts": job["attempts"] + 1,
            "started_at": job.get("started_at") or now_iso()}


def webhook_event(job: dict, event_type: str) -> dict:
    return {"type": event_type, "job_id": job["id"], "created_at": job.get("finished_at") or now_iso(),
            "data": {"status": job["status"], **(job.get("result") or {}), "error": job.get("error"),
                     "result_url": f"/v1/jobs/{job['id']}/result"}}


def new_webhook_secret() -> str:
    from optimiser.notify.signing import generate_secret

    return generate_secret()


def _renderings(result: dict) -> dict[str, bytes]:
    out = {"result.md": result["tailored_resume"].encode()}
    try:
        from optimiser.render_docx import to_docx
        from optimiser.resume import Resume

        out["result.docx"] = to_docx(Resume.model_validate(result["tailored_resume_json"]))
    except Exception as exc:  # the JSON and Markdown still ship; say why the DOCX is missing
        log.warning("DOCX rendering failed: %s", type(exc).__name__)
    return out


def _dumps(value: Any) -> bytes:
    import orjson

    return orjson.dumps(value, default=str, option=orjson.OPT_SORT_KEYS)


def _loads(raw: bytes) -> Any:
    import orjson

    return orjson.loads(raw)


def wait_for_status(service: JobService, job_id: str, statuses: set[str], timeout_s: float) -> dict:
    """Poll until the job reaches one of `statuses` (tests, the CLI's --wait)."""
    deadline = time.monotonic() + timeout_s
    while True:
        job = service.store.get(job_id)
        if job["status"] in statuses or time.monotonic() > deadline:
            return job
        time.sleep(0.1)
