"""A small HTTP client of a running platform: the CLI, the evaluator and tests use it."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx


class PlatformError(RuntimeError):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


class PlatformClient:
    def __init__(self, url: str, api_key: str | None = None, timeout: float = 600.0):
        self.url, self.api_key = url.rstrip("/"), api_key
        headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(base_url=self.url, timeout=timeout, headers=headers)

    def optimise(self, resume: str | bytes, job: str | None, resume_format: str | None = None,
                 progress: Callable[[dict], None] | None = None, filename: str = "resume",
                 job_url: str | None = None, prompt_label: str | None = None,
                 prompts: dict[str, str] | None = None) -> dict[str, Any]:
        """`resume` as text goes in a JSON body; as bytes (a PDF, DOCX or any file) it is uploaded as
        multipart/form-data under `filename`, and the platform reads it. `job` as text, or `job=None` and
        `job_url` for the platform to fetch (its SSRF rules apply)."""
        job_field: dict[str, Any] = {"job_url": job_url} if job_url is not None else {"job": job}
        if prompt_label:
            job_field["prompt_label"] = prompt_label
        if isinstance(resume, bytes) and prompts:
            raise ValueError("a choice of prompt per name needs a text resume (a JSON body), not an upload")
        if prompts:
            job_field["prompts"] = prompts
        if isinstance(resume, bytes):
            fields = {**job_field, **({"resume_format": resume_format} if resume_format else {})}
            body: dict[str, Any] = {"files": {"resume": (filename, resume)}, "data": fields}
        else:
            body = {"json": {"resume": resume, "resume_format": resume_format, **job_field}}
        if progress is None:
            return self._json(self._http.post("/v1/optimise", **body))
        with self._http.stream("POST", "/v1/optimise", **body,
                               headers={"accept": "text/event-stream"}) as resp:
            if resp.status_code >= 400:
                resp.read()
                self._json(resp)
            return _read_events(resp, progress)

    def submit_job(self, resume: str, job: str, idempotency_key: str | None = None,
                   **fields: Any) -> dict[str, Any]:
        """`POST /v1/jobs` with a JSON body (`fields`: webhook_url, webhook_secret, notify_email, ...)."""
        headers = {"idempotency-key": idempotency_key} if idempotency_key else {}
        return self._json(self._http.post("/v1/jobs", json={"resume": resume, "job": job, **fields},
                                          headers=headers))

    def job(self, job_id: str) -> dict[str, Any]:
        return self._json(self._http.get(f"/v1/jobs/{job_id}"))

    def wait_job(self, job_id: str, timeout: float = 600.0, statuses=("succeeded", "failed", "dead",
                                                                        "cancelled", "deleted")) -> dict[str, Any]:
        import time

        deadline = time.monotonic() + timeout
        while True:
            job = self.job(job_id)
            if job["status"] in statuses or time.monotonic() > deadline:
                return job
            time.sleep(0.2)

    def job_result(self, job_id: str, format: str = "json") -> Any:
        resp = self._http.get(f"/v1/jobs/{job_id}/result", params={"format": format})
        if resp.status_code >= 400 or format == "json":
            return self._json(resp)
        return resp.content if format == "docx" else resp.text

    def usage(self, request_id: str) -> dict[str, Any]:
        return self._json(self._http.get(f"/api/v1/requests/{request_id}/usage"))

    def post_scores(self, scores: list[dict]) -> None:
        self._json(self._http.post("/api/v1/scores", json={"scores": scores}))

    def call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """Any JSON endpoint (the admin API): the decoded body, or PlatformError with its code."""
        return self._json(self._http.request(method, path, **kwargs))

    def text(self, method: str, path: str, **kwargs: Any) -> str:
        """A non-JSON answer (CSV export) as text, or PlatformError with its code."""
        resp = self._http.request(method, path, **kwargs)
        if resp.status_code >= 400:
            self._json(resp)
        return resp.text

    def close(self) -> None:
        self._http.close()

    @staticmethod
    def _json(resp: httpx.Response) -> dict[str, Any]:
        try:
            data = resp.json()
        except ValueError:
            data = {}
        if resp.status_code >= 400:
            err = data.get("error", {}) if isinstance(data, dict) else {}
            raise PlatformError(resp.status_code, err.get("code", "http_error"), err.get("message", resp.text[:200]))
        return data


def _read_events(resp: httpx.Response, progress: Callable[[dict], None]) -> dict[str, Any]:
    event = None
    for line in resp.iter_lines():
        if line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data = json.loads(line[5:])
            if event == "result":
                return data
            if event == "error":
                err = data["error"]
                raise PlatformError(500, err.get("code", "error"), err.get("message", ""))
            progress(data)
    raise PlatformError(502, "stream_ended", "the platform closed the stream before the result")
