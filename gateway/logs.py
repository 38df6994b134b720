"""Structured logs: one line per event, JSON (services) or text (interactive commands).

A JSON line has `ts`, `level`, `logger`, `msg` and, when known, the fields below (passed as `extra=`;
`trace_id`/`span_id` default to the current span's). Credentials are scrubbed from every record when it is
created (`gateway.pii.install_log_scrubber`); personal data (e-mails, phones, addresses, profile links)
is redacted here, from the free text only (`msg`, `error`, the traceback), once per written line: the
other fields are identifiers the store keeps as they are. `redact` costs 5-30 µs a string, so a message
without arguments (a constant, like the access log's) is redacted once and remembered.
"""

from __future__ import annotations

import atexit
import logging
import logging.handlers
import queue
import sys
import time
from functools import lru_cache
from typing import Any

import orjson

from gateway.pii import install_log_scrubber, redact
from gateway.telemetry import TRACEPARENT
from gateway.tracing import current_ids

FIELDS = ("request_id", "trace_id", "span_id", "user_id", "job_id", "agent", "tool", "model", "deployment",
          "latency_ms", "status", "http_status", "error", "cache", "attempts", "input_tokens", "output_tokens",
          "cost_usd")


@lru_cache(maxsize=512)
def _redacted_constant(msg: str) -> str:
    return redact(msg)


def message(record: logging.LogRecord) -> str:
    if record.args:
        return redact(record.getMessage())
    return _redacted_constant(str(record.msg))


def fields(record: logging.LogRecord) -> dict[str, Any]:
    values = record.__dict__
    out = {name: values[name] for name in FIELDS if values.get(name) not in (None, "")}
    if "trace_id" not in out and (ids := current_ids()) is not None:
        out["trace_id"], out["span_id"] = ids
    if "error" in out:
        out["error"] = redact(str(out["error"]))
    return out


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"
        line = {"ts": ts, "level": record.levelname, "logger": record.name, "msg": message(record),
                **fields(record)}
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exc"] = redact(record.exc_text)
        return orjson.dumps(line, default=str).decode()


class TextFormatter(logging.Formatter):
    """`ts level logger msg key=value ...`, redacted like the JSON lines."""

    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.created))
        pairs = "".join(f" {k}={v}" for k, v in fields(record).items())
        line = f"{ts} {record.levelname} {record.name}: {message(record)}{pairs}"
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        return line + ("\n" + redact(record.exc_text) if record.exc_text else "")


class _Handoff(logging.handlers.QueueHandler):
    """The request path only queues the record (with the trace ids of its context, which the writing thread
    cannot see); formatting, redaction and the write to stderr happen in the listener's thread, so a slow
    log pipe never stalls requests. Past the bound, lines are counted and dropped, never waited for."""

    dropped = 0

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        if not getattr(record, "trace_id", None) and (ids := current_ids()) is not None:
            record.trace_id, record.span_id = ids
        return record

    def enqueue(self, record: logging.LogRecord) -> None:
        try:
            self.queue.put_nowait(record)
        except queue.Full:
            _Handoff.dropped += 1


_listener: logging.handlers.QueueListener | None = None


def configure_logging(fmt: str, level: str | int = "INFO", stream=None) -> logging.Handler:
    """Make the root logger write `fmt` lines to stderr (or `stream`), replacing any handler a library
    put there; uvicorn's loggers reach it when uvicorn runs with `log_config=None`. Lines are written by
    a listener thread (`_Handoff`), flushed at exit."""
    global _listener
    install_log_scrubber()
    level = level.upper() if isinstance(level, str) else level
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.setLevel(level)  # loggers set to their own level (httpx at INFO, gateway/pii.py) stop here too
    if _listener is not None:
        _listener.stop()
    lines: queue.Queue = queue.Queue(maxsize=100_000)
    _listener = logging.handlers.QueueListener(lines, handler, respect_handler_level=True)
    _listener.start()
    atexit.register(_listener.stop)
    handoff = _Handoff(lines)
    handoff.setLevel(level)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handoff)
    root.setLevel(level)
    return handler


def call_fields(row: dict, cache: str) -> dict[str, Any]:
    """The access-log line of one model call, from its `model_calls` row. The span is the gateway's for
    the request: the one `traceparent` names in the response (a real span when tracing is on)."""
    parent = TRACEPARENT.get()
    return {
        "request_id": row["request_id"], "trace_id": row["trace_id"], "span_id": parent[36:52] if parent else "",
        "user_id": row["user_id"], "job_id": row["job_id"], "agent": row["agent"], "tool": row["tool"],
        "model": row["model_alias"], "deployment": row["deployment"], "latency_ms": round(row["latency_ms"], 3),
        "status": row["status"], "http_status": row["http_status"], "error": row["error_kind"],
        "cache": cache, "attempts": row["attempts"],
        "input_tokens": row["input_tokens"], "output_tokens": row["output_tokens"], "cost_usd": str(row["cost_usd"]),
    }
