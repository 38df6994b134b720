"""Settings of async optimisation jobs (environment `RESUMEOPT_*`): the queue, the worker, retries."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class JobSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RESUMEOPT_", extra="ignore")

    job_queue: Literal["memory", "redis"] = Field(
        "memory", description="memory: an in-process queue and job table, worked by the platform process "
        "(the embedded default; jobs do not survive a restart); redis: dramatiq's Redis broker and job "
        "records in Redis, shared by the API replicas and `resumeopt worker` processes")
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_prefix: str = Field("resumeopt:", description="prefix of every key this platform writes")
    run_worker: bool = Field(True, description="the API process also works jobs (in-process worker threads)")
    worker_threads: int = Field(1, ge=1, description="jobs worked at once per process (each runs a whole flow)")
    job_max_retries: int = Field(3, ge=0, description="retries of a job that failed for a transient reason; "
                                 "after them it is dead-lettered")
    job_min_backoff_s: float = Field(5.0, gt=0, description="first retry delay (doubles each retry, jittered)")
    job_max_backoff_s: float = Field(300.0, gt=0, description="longest retry delay")
    job_time_limit_s: float = Field(900.0, gt=0, description="one attempt of a job; past it the attempt fails")
    queue_heartbeat_timeout_s: float = Field(
        60.0, gt=0, description="a worker silent this long is dead: its unacknowledged jobs go back to the queue")
    queue_maintenance_chance: int = Field(
        10_000, ge=1, le=1_000_000, description="per million broker commands, how often a worker looks for dead "
        "workers' jobs (dramatiq's default is 1,000: ~8 min to notice with one idle worker; 10,000: under 1 min)")
    idempotency_ttl_s: int = Field(86_400, gt=0, description="how long an Idempotency-Key maps to its job")
    job_record_ttl_days: int = Field(30, ge=0, description="job records (status, delivery log) expire after "
                                     "this; 0 = keep (artifacts have their own retention)")
