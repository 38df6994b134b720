"""Online evaluation: a share of live optimisations scored in the background, never on the request path.

The sampler is deterministic by request id (SHA-256 of the id as a point in [0, 1), sampled when below
`RESUMEOPT_ONLINE_EVAL_SHARE`), so a retried job or a replayed request gets the same decision, and share
0 scores nothing, 1 everything. A sampled result is put on a bounded queue and the caller moves on;
worker threads score it with the configured judges (`RESUMEOPT_ONLINE_EVAL_JUDGES`, default the
registry's stable ones) and emit one `scores` row per metric: dataset `online`, the request id, the
prompt-version tag, the owner's team. Score ids are derived from (request, judge, metric), so a job
worked twice (at-least-once delivery) scores once. When the queue is full the result is dropped and
counted (a log line and `resumeopt_online_eval_dropped_total` on /metrics): never waited for.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from evaluator.judges import Judge, Score
from evaluator.registry import JudgeContext, resolve
from evaluator.runner import prompt_version_tag

log = logging.getLogger("resumeopt.evaluator.online")
DATASET = "online"


class OnlineEvalSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RESUMEOPT_ONLINE_EVAL_", extra="ignore")

    share: float = Field(0.1, ge=0, le=1, description="share of live optimisations scored (by request id)")
    judges: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="comma-separated judge names (evaluator/registry.py); empty: the stable ones")
    # 256 results of ~30 KB: ~8 MB at most held for scoring. Deterministic judges take milliseconds, so
    # the queue fills only when model-calling judges are configured and the judge model is slow.
    queue_size: int = Field(256, ge=1, le=100_000, description="results waiting to be scored; past it: dropped")
    workers: int = Field(1, ge=1, le=8, description="scoring threads")

    @field_validator("judges", mode="before")
    @classmethod
    def _split(cls, value):
        return [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else value


def sampled(request_id: str, share: float) -> bool:
    point = int.from_bytes(hashlib.sha256(request_id.encode()).digest()[:8], "big") / 2**64
    return point < share


class OnlineEvaluator:
    """Start with `start(emit)` (emit: the telemetry sink, `emit("scores", row)`); `stop()` on shutdown."""

    def __init__(self, settings: OnlineEvalSettings, judges: list[Judge]):
        self.settings, self.judges = settings, judges
        self._queue: queue.Queue[tuple[dict, str]] = queue.Queue(maxsize=settings.queue_size)
        self._emit: Callable[[str, dict], None] | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._counts = {"offered": 0, "sampled": 0, "dropped": 0, "scored": 0, "failed": 0}

    @classmethod
    def from_settings(cls, settings: OnlineEvalSettings | None = None,
                      ctx: JudgeContext | None = None) -> OnlineEvaluator:
        settings = settings or OnlineEvalSettings()
        return cls(settings, resolve(settings.judges or None, ctx))

    def offer(self, result: dict[str, Any], team: str) -> bool:
        """Queue a finished optimisation for scoring if the sampler picks it. Never blocks; True if queued."""
        self._count("offered")
        if not sampled(result["request_id"], self.settings.share):
            return False
        self._count("sampled")
        try:
            self._queue.put_nowait((result, team))
        except queue.Full:
            self._count("dropped")
            log.warning("online evaluation queue full (%d): %s not scored", self._queue.maxsize, result["request_id"])
            return False
        return True

    def start(self, emit: Callable[[str, dict], None]) -> None:
        self._emit = emit
        self._threads = [threading.Thread(target=self._work, name=f"online-eval-{i}", daemon=True)
                         for i in range(self.settings.workers)]
        for t in self._threads:
            t.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Score what is queued (within `timeout`), then end the threads."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {**self._counts, "pending": self._queue.qsize()}

    def _count(self, what: str, n: int = 1) -> None:
        with self._lock:
            self._counts[what] += n

    def _work(self) -> None:
        while True:
            try:
                result, team = self._queue.get(timeout=0.1)
            except queue.Empty:
                if self._stop.is_set():
                    return
                continue
            try:
                self._score(result, team)
            finally:
                self._queue.task_done()

    def _score(self, result: dict, team: str) -> None:
        for judge in self.judges:
            try:
                scores = judge.score(result, {})
            except Exception as exc:  # one judge failing must not cost the others' scores
                self._count("failed")
                log.warning("online judge %s failed on %s: %s", judge.name, result["request_id"], type(exc).__name__)
                continue
            for s in scores:
                self._emit("scores", score_row(s, result["request_id"], team,
                                               prompt_version_tag(result.get("prompt_versions", {}))))
            self._count("scored", len(scores))


def score_row(s: Score, request_id: str, team: str, prompt_version: str) -> dict:
    """A `scores` row with exactly the columns of a posted score (gateway/api/reports.ScoreIn): the store
    writer inserts a table's batch by the first row's keys, so every producer must send the same set."""
    from gateway.api.reports import ScoreIn

    score_id = hashlib.sha256(f"{DATASET}\x00{request_id}\x00{s.judge}\x00{s.name}".encode()).hexdigest()[:32]
    row = ScoreIn(name=s.name, value=s.value, judge=s.judge, judge_version=s.judge_version, request_id=request_id,
                  dataset=DATASET, prompt_version=prompt_version, comment=s.comment[:2000], score_id=score_id)
    return {**row.model_dump(), "ts": datetime.now(UTC), "team": team}


class OnlineMetrics:
    """A Prometheus collector of the evaluator's counts, registered on the app's /metrics registry."""

    def __init__(self, evaluator: OnlineEvaluator):
        self._evaluator = evaluator

    def collect(self):
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        stats = self._evaluator.stats()
        help_ = {"offered": "finished optimisations offered to the sampler", "sampled": "picked by the sampler",
                 "dropped": "picked but dropped: the scoring queue was full", "scored": "score rows emitted",
                 "failed": "judge runs that raised"}
        for what, text in help_.items():
            yield CounterMetricFamily(f"resumeopt_online_eval_{what}", text, value=stats[what])
        yield GaugeMetricFamily("resumeopt_online_eval_pending", "results waiting to be scored", value=stats["pending"])
