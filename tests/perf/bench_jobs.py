"""What the job machinery costs around the flow: submit latency (inputs written encrypted, record created,
message sent), time from submit to `succeeded`, and jobs/s, for the in-process queue (embedded default)
and dramatiq's Redis broker (scaled shape), with 1 and 4 worker threads. The flow is replaced by a
runner that returns a fixed result at once, so the figures are the overhead a real job pays on top of its
model calls (a real optimisation takes seconds to minutes on the local model).

    .venv/bin/python -m tests.perf.bench_jobs [--jobs 300]
"""

from __future__ import annotations

import argparse
import base64
import os
import statistics
import tempfile
import time
import uuid

from pydantic import SecretStr

from optimiser.artifacts import ArtifactSettings, open_artifacts
from optimiser.jobs.service import JobService, Runner
from optimiser.jobs.settings import JobSettings
from tests.support import clear_redis_prefix

RESULT = {"request_id": "r", "tailored_resume": "# A\n", "tailored_resume_json": {"basics": {"name": "A"}},
          "match": {"before": 40.0, "after": 60.0}, "degraded": False, "grounding": {"passed": True}}


def run(queue: str, threads: int, n: int, artifact_dir: str) -> tuple[list[float], list[float], float]:
    prefix = f"resumeopt-bench:{uuid.uuid4().hex[:8]}:"
    done: dict[str, float] = {}

    def fixed(job_input, progress):
        return {**RESULT, "request_id": job_input["input"]["request_id"]}

    artifacts = open_artifacts(ArtifactSettings(artifact_dir=artifact_dir, artifact_keys=SecretStr(
        "b:" + base64.b64encode(os.urandom(32)).decode())))
    service = JobService(JobSettings(job_queue=queue, redis_prefix=prefix, worker_threads=threads),
                         Runner(run=fixed, artifacts=artifacts))
    service.start_worker(threads)
    submits, submitted = [], {}
    try:
        started = time.perf_counter()
        for i in range(n):
            t0 = time.perf_counter()
            job, _ = service.submit({"input": {"resume": "x" * 4000, "job": "y" * 2000, "request_id": f"r{i}"}},
                                    owner={"team": "bench", "subject": "bench"})
            submits.append(time.perf_counter() - t0)
            submitted[job["id"]] = t0
        while len(done) < n:
            for job_id, t0 in submitted.items():
                if job_id not in done and service.store.get(job_id)["status"] == "succeeded":
                    done[job_id] = time.perf_counter() - t0
            time.sleep(0.01)
        elapsed = time.perf_counter() - started
    finally:
        service.close()
        clear_redis_prefix(prefix)
    return submits, list(done.values()), n / elapsed


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--jobs", type=int, default=300)
    args = p.parse_args()
    print(f"{'queue':7} {'threads':>7} {'submit p50 ms':>14} {'submit p99 ms':>14} {'to done p50 ms':>15} "
          f"{'to done p99 ms':>15} {'jobs/s':>8}")
    for queue in ("memory", "redis"):
        for threads in (1, 4):
            with tempfile.TemporaryDirectory() as tmp:
                submits, ends, rate = run(queue, threads, args.jobs, tmp)
            q = lambda xs, k: statistics.quantiles(xs, n=100)[k - 1] * 1e3  # noqa: E731
            print(f"{queue:7} {threads:>7} {statistics.median(submits) * 1e3:>14.2f} {q(submits, 99):>14.2f} "
                  f"{statistics.median(ends) * 1e3:>15.1f} {q(ends, 99):>15.1f} {rate:>8.1f}")


if __name__ == "__main__":
    main()
