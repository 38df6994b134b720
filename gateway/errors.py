"""Client-visible errors in OpenAI's shape: {"error": {"message", "type", "code", "param"}}.

Every error the gateway returns goes through `GatewayError`, so the status, the stable `code` and the
headers are decided in one place. Messages never carry secrets, prompts or stack traces.
"""

from __future__ import annotations

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from gateway.providers.base import UpstreamError


class GatewayError(Exception):
    def __init__(self, status: int, code: str, message: str, type_: str = "invalid_request_error",
                 param: str | None = None, headers: dict[str, str] | None = None, extra: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.type, self.param, self.headers = type_, param, headers or {}
        self.extra = extra or {}  # more machine-readable fields of the error object (e.g. budget scope)

    def response(self) -> JSONResponse:
        body = {"error": {"message": self.message, "type": self.type, "code": self.code, "param": self.param,
                          **self.extra}}
        return JSONResponse(body, status_code=self.status, headers=self.headers)


def json_object(raw: bytes) -> dict:
    """A request body that must be a JSON object: 400 `invalid_json` or `invalid_request` otherwise."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise GatewayError(400, "invalid_json", "Request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise GatewayError(400, "invalid_request", "Request body must be a JSON object")
    return body


def from_upstream(exc: UpstreamError) -> GatewayError:
    """Map an upstream failure to what the client should see (and whether it may retry)."""
    if exc.kind == "connect":
        return GatewayError(503, "upstream_unavailable", exc.message, "service_unavailable",
                            headers={"retry-after": "5"})
    if exc.kind == "timeout":
        return GatewayError(504, "upstream_timeout", exc.message, "timeout")
    if exc.kind == "http_status" and exc.status is not None and 400 <= exc.status < 500:
        code = "upstream_rate_limited" if exc.status == 429 else "upstream_rejected"
        return GatewayError(exc.status, code, exc.message, "invalid_request_error")
    return GatewayError(502, "upstream_error", exc.message, "api_error")


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(GatewayError)
    async def _gateway_error(_: Request, exc: GatewayError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        msg = f"{where}: {first.get('msg', 'invalid')}" if where else str(first.get("msg", "invalid request"))
        return GatewayError(422, "invalid_request", msg, param=where or None).response()

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return GatewayError(exc.status_code, code, str(exc.detail)).response()

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        # The traceback goes to the log (uvicorn's handler); the client gets a stable code only.
        return GatewayError(500, "internal_error", "internal error", "api_error").response()
