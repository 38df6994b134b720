"""The dashboard's only data source: the platform's read API (roles apply in one place, and chDB
allows a single process per data path)."""

from __future__ import annotations

import os
from typing import Any

import httpx

TIMEOUT_S = 10.0


def platform_url() -> str:
    return os.environ.get("RESUMEOPT_PLATFORM_URL", "http://127.0.0.1:8400").rstrip("/")


def _headers() -> dict[str, str]:
    """The dashboard reads with the key it was started with (`resumeopt up` passes an admin key; a
    deployment gives it a `finance` or `engineer` key): the platform applies that key's role."""
    key = os.environ.get("RESUMEOPT_API_KEY")
    return {"authorization": f"Bearer {key}"} if key else {}


def get(path: str, **params: Any) -> dict[str, Any]:
    resp = httpx.get(platform_url() + path, params={k: v for k, v in params.items() if v is not None},
                     timeout=TIMEOUT_S, headers=_headers())
    resp.raise_for_status()
    return resp.json()


def get_text(path: str, **params: Any) -> str:
    resp = httpx.get(platform_url() + path, params=params, timeout=TIMEOUT_S, headers=_headers())
    resp.raise_for_status()
    return resp.text


def describe(exc: httpx.HTTPError) -> str:
    """A failed read in a few words: the status and the platform's error code for an HTTP error
    (`403 forbidden`: the dashboard's key lacks the role), the transport error's name otherwise
    (`ConnectError`: nothing listens at the URL)."""
    if isinstance(exc, httpx.HTTPStatusError):
        try:
            code = exc.response.json()["error"]["code"]
        except (ValueError, KeyError, TypeError):
            code = exc.response.reason_phrase
        return f"{exc.response.status_code} {code}"
    return type(exc).__name__


def healthz() -> dict[str, Any]:
    """`/healthz`: its body on 200 (ok) and on 503 (degraded: the store is unreachable or telemetry rows were
    dropped), which says why; any other answer, or none, raises."""
    resp = httpx.get(platform_url() + "/healthz", timeout=TIMEOUT_S, headers=_headers())
    if resp.status_code == 503:  # the platform's own answer carries a status; a proxy's 503 does not
        try:
            body = resp.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and "status" in body:
            return body
    resp.raise_for_status()
    return resp.json()
