"""Structured logs: the gateway writes one JSON line per model call with who, what and how it went; log
lines carry no personal data (e-mails, phones) and no credentials; `resumeopt gateway` writes JSON lines
by default, uvicorn's own included."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from decimal import Decimal

import httpx
import pytest
import yaml

from gateway.app import create_app
from gateway.config import GatewayConfig
from gateway.local_model import free_port
from gateway.logs import JsonFormatter, TextFormatter
from gateway.pii import install_log_scrubber
from tests.conftest import ADMIN_KEY
from tests.support import serve, wait_for

TRACE, PARENT = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
SIM = {"provider": "simulator", "model": "s", "price": {"input_per_mtok": 1_000_000, "output_per_mtok": 0}}
CONFIG = {"default_alias": "main", "models": [
    {"alias": "main", "deployments": [{**SIM, "name": "m1", "simulator": {"completion_tokens": 5}}]},
    {"alias": "dead", "deployments": [{**SIM, "name": "d1", "simulator": {"error_rate": 1.0}}]}]}
SECRET = "sk-proj-" + "a1B2c3D4" * 4


@pytest.fixture
def log_to():
    """Root logging into a buffer through the given formatter (the pytest handlers stay as they are)."""
    root, handlers = logging.getLogger(), []
    level = root.level

    def attach(formatter: logging.Formatter) -> io.StringIO:
        install_log_scrubber()
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        handler.setFormatter(formatter)
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        handlers.append(handler)
        return stream

    yield attach
    for handler in handlers:
        root.removeHandler(handler)
    root.setLevel(level)


def _lines(stream: io.StringIO, logger: str | None = None) -> list[dict]:
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]  # every line is one JSON object
    return [line for line in lines if logger is None or line["logger"] == logger]


def test_each_model_call_is_one_json_line_with_its_fields(secured, log_to):
    stream = log_to(JsonFormatter())
    app = create_app(secured, GatewayConfig.model_validate(CONFIG))
    with serve(app) as url:
        _, key = app.state.keys.create(name="logs", team="acme", role="consumer", plan="premium", actor="t",
                                       user_id="u-7")
        headers = {"authorization": f"Bearer {key}", "x-request-id": "rid-log", "x-agent": "writer",
                   "x-job-id": "job-3", "x-tool": "summary", "traceparent": f"00-{TRACE}-{PARENT}-01"}

        def chat(model: str, **extra) -> httpx.Response:
            return httpx.post(f"{url}/v1/chat/completions", headers=headers, timeout=30,
                              json={"model": model, "messages": [{"role": "user", "content": "hi"}], **extra})

        ok = chat("main")
        with httpx.stream("POST", f"{url}/v1/chat/completions", headers=headers,
                          json={"model": "main", "stream": True, "messages": [{"role": "user", "content": "hi"}]}) as s:
            s.read()
        assert chat("dead").status_code == 502
    plain, streamed, failed = _lines(stream, "resumeopt.gateway.access")
    assert set(plain) >= {"ts", "level", "logger", "msg"} and plain["msg"] == "model call"
    assert plain["ts"].endswith("Z") and plain["level"] == "INFO"
    assert {k: plain[k] for k in ("request_id", "trace_id", "user_id", "job_id", "agent", "tool", "model",
                                  "deployment", "status", "http_status", "cache", "attempts")} == {
        "request_id": "rid-log", "trace_id": TRACE, "user_id": "u-7", "job_id": "job-3", "agent": "writer",
        "tool": "summary", "model": "main", "deployment": "m1", "status": "ok", "http_status": 200,
        "cache": "off", "attempts": 1}
    assert ok.headers["traceparent"] == f"00-{TRACE}-{plain['span_id']}-01"  # the gateway's span, as answered
    assert plain["latency_ms"] > 0 and plain["output_tokens"] == 5 and Decimal(plain["cost_usd"]) == plain["input_tokens"]
    assert "error" not in plain
    assert streamed["status"] == "ok" and streamed["output_tokens"] > 0
    assert failed["status"] == "error" and failed["error"] and failed["http_status"] == 502


def test_personal_data_and_credentials_never_reach_a_json_line(log_to):
    stream = log_to(JsonFormatter())
    log = logging.getLogger("resumeopt.test.logs")
    log.warning("reply to %s or %s, key %s", "jane.doe@example.org", "+1 415 555 0179", SECRET)
    try:
        raise ValueError("no account for jane.doe@example.org")
    except ValueError:
        log.exception("lookup failed for +44 20 7946 0958")
    log.info("constant message from mary@example.com")  # no arguments: redacted once, then remembered
    log.info("constant message from mary@example.com")
    out = stream.getvalue()
    for raw in ("jane.doe@example.org", "415 555 0179", "7946 0958", SECRET, "mary@example.com"):
        assert raw not in out, raw
    warning, failure, constant, again = _lines(stream, "resumeopt.test.logs")
    assert warning["msg"] == "reply to [EMAIL] or [PHONE], key [SECRET]" and warning["level"] == "WARNING"
    assert failure["msg"] == "lookup failed for [PHONE]" and "ValueError: no account for [EMAIL]" in failure["exc"]
    assert constant["msg"] == again["msg"] == "constant message from [EMAIL]"


def test_text_lines_carry_the_same_fields_and_redaction(log_to):
    stream = log_to(TextFormatter())
    logging.getLogger("resumeopt.test.logs").info("sent to %s", "jane.doe@example.org",
                                                  extra={"request_id": "rid-9", "latency_ms": 1.5})
    (line,) = stream.getvalue().splitlines()
    assert line.endswith("INFO resumeopt.test.logs: sent to [EMAIL] request_id=rid-9 latency_ms=1.5")


def test_the_gateway_command_writes_json_lines_by_default(tmp_path):
    config = tmp_path / "gateway.yaml"
    config.write_text(yaml.safe_dump(CONFIG))
    port = free_port()
    env = {**os.environ, "RESUMEOPT_DATA_DIR": str(tmp_path / "data"), "RESUMEOPT_ADMIN_KEY": ADMIN_KEY}
    env.pop("RESUMEOPT_LOG_FORMAT", None)
    err = tmp_path / "stderr"
    with err.open("w") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "resumeopt.cli", "gateway", "--config", str(config),
                                 "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=sink)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: _up(url), timeout=60, what="gateway", interval=0.2)
        resp = httpx.post(f"{url}/v1/chat/completions", headers={"authorization": f"Bearer {ADMIN_KEY}"},
                          json={"model": "main", "messages": [{"role": "user", "content": "hi"}]}, timeout=30)
        assert resp.status_code == 200
        wait_for(lambda: "model call" in err.read_text(), timeout=10, what="the access line")
    finally:
        proc.terminate()
        proc.wait(30)
    lines = [json.loads(line) for line in err.read_text().splitlines()]  # every line, uvicorn's too
    assert any(line["logger"].startswith("uvicorn") for line in lines)
    (call,) = [line for line in lines if line["logger"] == "resumeopt.gateway.access"]
    assert call["model"] == "main" and call["status"] == "ok" and call["request_id"] == resp.headers["x-request-id"]


def _up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False
