"""The judges' one way to a model: the platform's gateway, OpenAI wire format, over HTTP.

Every call carries `x-agent: judge`, the judge's name in `x-tool` and its name and version as the prompt
(`x-prompt-name`, `x-prompt-version`), under the judged result's `x-request-id`. So judge calls land in
`model_calls` like any other, costed and budgeted, and `resumeopt report cost --by agent` shows what
judging cost beside what optimising cost. A `JudgeSpend` given to the judges also adds up, per judged request,
what the gateway said each call cost (`x-resumeopt-cost-usd`), so an offline run reports its judging cost
beside its optimising cost without reading the store back.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

JUDGE_AGENT = "judge"


class JudgeSpend:
    """Judge calls and their cost by judged request id, from the gateway's answers (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_request: dict[str, tuple[int, Decimal]] = {}

    def record(self, request_id: str, headers: Mapping[str, str]) -> None:
        """One answered call (a refused call costs nothing and is not counted)."""
        try:
            cost = Decimal(headers.get("x-resumeopt-cost-usd") or "0")
        except InvalidOperation:
            cost = Decimal(0)
        with self._lock:
            calls, total = self._by_request.get(request_id, (0, Decimal(0)))
            self._by_request[request_id] = (calls + 1, total + cost)

    def take(self, request_id: str) -> tuple[int, Decimal]:
        """Calls and cost recorded for `request_id`, forgotten once taken."""
        with self._lock:
            return self._by_request.pop(request_id, (0, Decimal(0)))


class JudgeCallError(RuntimeError):
    """The gateway refused or failed a judge's call (status and the gateway's error code)."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code = status, code


class JudgeGateway:
    def __init__(self, base_url: str, api_key: str = "", judge: str = "", version: str = "",
                 timeout_s: float = 600.0, spend: JudgeSpend | None = None):
        # The gateway's own deadline (120 s by default) is raised to ours, its maximum: one judge call of the
        # local model on a busy 2-core machine took 60-480 s here (prompts of 1,700-4,000 tokens at ~20-30/s).
        headers = {"x-agent": JUDGE_AGENT, "x-tool": judge, "x-prompt-name": judge, "x-prompt-version": version,
                   "x-resumeopt-timeout-ms": str(int(timeout_s * 1000))}
        if api_key:
            headers["authorization"] = f"Bearer {api_key}"
        self._http = httpx.Client(base_url=base_url.rstrip("/") + "/v1", headers=headers, timeout=timeout_s + 10)
        self._spend = spend

    def chat(self, model: str, messages: list[dict], request_id: str = "", **params: Any) -> str:
        """The assistant's text of one non-streamed chat completion."""
        body = self._post("/chat/completions", {"model": model, "messages": messages, **params}, request_id)
        return body["choices"][0]["message"].get("content") or ""

    def embed(self, model: str, text: str, request_id: str = "") -> list[float]:
        body = self._post("/embeddings", {"model": model, "input": text}, request_id)
        return body["data"][0]["embedding"]

    def close(self) -> None:
        self._http.close()

    def _post(self, path: str, body: dict, request_id: str) -> dict:
        headers = {"x-request-id": request_id} if request_id else {}
        resp = self._http.post(path, json=body, headers=headers)
        if resp.status_code >= 400:
            try:
                err = resp.json().get("error", {})
            except ValueError:
                err = {}
            raise JudgeCallError(resp.status_code, err.get("code") or "http_error",
                                 err.get("message") or resp.text[:200])
        if self._spend is not None:
            self._spend.record(request_id, resp.headers)
        return resp.json()
