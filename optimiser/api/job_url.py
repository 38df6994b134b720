"""`job_url` in a `POST /v1/optimise` body: the job as a URL, fetched by the server (optimiser/fetch.py),
so the server's SSRF rules decide what may be reached, whoever the caller is.

Kept apart from the handler (a body in, a body out) so the request's other inputs stay one code path.
"""

from __future__ import annotations

import orjson

from gateway.errors import GatewayError, json_object
from optimiser.fetch import FetchError, fetch_job
from optimiser.settings import OptimiserSettings


async def with_fetched_job(raw: bytes, settings: OptimiserSettings) -> bytes:
    """A JSON body with `job_url` replaced by the fetched job text as `job`; unchanged without one."""
    data = json_object(raw)
    url = data.pop("job_url", None)
    if url is None and data.get("job") is not None:
        return raw
    data["job"] = await resolve_job(data.get("job"), url, settings)
    return orjson.dumps(data)


async def resolve_job(job, url, settings: OptimiserSettings):
    """The job given either way (JSON body or form): `job` as it is, or the text fetched from `url`.
    Exactly one of the two: 422 `missing_job` for neither, `conflicting_job` for both."""
    if url is None:
        if job is None:
            raise GatewayError(422, "missing_job", "Give the job as 'job' (text or JSON object) or 'job_url'.",
                               param="job")
        return job
    if job is not None:
        raise GatewayError(422, "conflicting_job", "Give either 'job' or 'job_url', not both.", param="job_url")
    if not isinstance(url, str):
        raise GatewayError(422, "invalid_request", "'job_url' must be a string.", param="job_url")
    try:
        return await fetch_job(url, settings)
    except FetchError as exc:
        raise GatewayError(exc.status, exc.code, exc.message, _error_type(exc.status), param="job_url") from None


def _error_type(status: int) -> str:
    return {502: "api_error", 504: "timeout"}.get(status, "invalid_request_error")
