"""OpenTelemetry in the gateway: the caller's `traceparent` is honoured (server span, `model_calls.trace_id`,
the upstream's parent), each provider attempt is a client span with GenAI attributes, tracing off means
no provider and no thread, and the exporters send OTLP/HTTP to a collector and to Langfuse."""

from __future__ import annotations

import base64
import threading

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.app import create_app
from gateway.config import GatewayConfig
from gateway.tracing import Tracing, TracingSettings
from tests.gateway.upstreams import echo_upstream
from tests.support import serve

TRACE, PARENT = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
CHAT = {"messages": [{"role": "user", "content": "hi"}]}
PRICE = {"input_per_mtok": 1_000_000, "output_per_mtok": 0}  # $1 a prompt token: a cost worth seeing


def _config(up: str) -> GatewayConfig:
    sim = {"provider": "simulator", "model": "sim-model", "price": PRICE}
    return GatewayConfig.model_validate({
        "default_alias": "echo",
        "policy": {"retry": {"max_attempts": 2, "base_delay_s": 0.001, "max_delay_s": 0.01}},
        "models": [
            {"alias": "echo", "deployments": [{"name": "echo-0", "provider": "openai_compatible", "price": PRICE,
                                               "model": "upstream-model", "api_base": f"{up}/v1"}]},
            {"alias": "flaky", "deployments": [{**sim, "name": "flaky-0", "simulator": {"fail_first_n": 1}}]},
            {"alias": "cached", "cache": {"enabled": True}, "deployments": [{**sim, "name": "cached-0"}]}]})


@pytest.fixture
def traced_gateway(gw_settings):
    spans = InMemorySpanExporter()
    upstream = echo_upstream()
    with serve(upstream) as up:
        app = create_app(gw_settings, _config(up), Tracing.exporting_to(spans))
        with serve(app) as url:
            yield url, app, spans, upstream.state.seen


def _post(url: str, model: str, **kw) -> httpx.Response:
    resp = httpx.post(f"{url}/v1/chat/completions", json={"model": model, **CHAT, **kw}, timeout=30,
                      headers={"traceparent": f"00-{TRACE}-{PARENT}-01", "x-request-id": f"rid-{model}"})
    assert resp.status_code == 200, resp.text
    return resp


def _children(spans, parent) -> list:
    return [s for s in spans if s.parent is not None and s.parent.span_id == parent.context.span_id]


def _server(spans):
    (server,) = [s for s in spans if s.kind is SpanKind.SERVER and s.name == "POST /v1/chat/completions"]
    return server


def test_the_callers_trace_is_honoured_and_each_attempt_is_a_genai_span(traced_gateway):
    url, app, spans, seen = traced_gateway
    resp = _post(url, "echo")
    app.state.writer.flush(10)
    (row,) = app.state.store.query("SELECT trace_id, cost_usd FROM {db}.model_calls")
    finished = spans.get_finished_spans()
    server = _server(finished)
    assert f"{server.context.trace_id:032x}" == TRACE == row["trace_id"]
    assert f"{server.parent.span_id:016x}" == PARENT  # a child of the caller's span
    assert resp.headers["traceparent"] == f"00-{TRACE}-{server.context.span_id:016x}-01"
    (attempt,) = _children(finished, server)
    assert (attempt.name, attempt.kind) == ("chat upstream-model", SpanKind.CLIENT)
    assert dict(attempt.attributes).items() >= {
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai_compatible",
        "gen_ai.request.model": "upstream-model", "gen_ai.response.model": "upstream-model",
        "gen_ai.usage.input_tokens": 5, "gen_ai.usage.output_tokens": 7, "resumeopt.deployment": "echo-0",
        "resumeopt.model_alias": "echo", "resumeopt.attempt": 1, "resumeopt.cache_hit": False,
        "resumeopt.cost_usd": float(row["cost_usd"]), "resumeopt.status": "ok"}.items()
    assert row["cost_usd"] == 5
    # the upstream's parent is the attempt: a provider that traces hangs its spans under ours
    assert seen[-1]["headers"]["traceparent"] == f"00-{TRACE}-{attempt.context.span_id:016x}-01"


def test_a_retried_call_has_one_span_per_attempt(traced_gateway):
    url, _, spans, _ = traced_gateway
    assert _post(url, "flaky").headers["x-resumeopt-attempts"] == "2"
    finished = spans.get_finished_spans()
    first, second = sorted(_children(finished, _server(finished)), key=lambda s: s.start_time)
    assert (first.attributes["resumeopt.attempt"], second.attributes["resumeopt.attempt"]) == (1, 2)
    assert first.status.status_code is StatusCode.ERROR and first.attributes["error.type"] == "http_status"
    assert second.status.status_code is StatusCode.UNSET and second.attributes["gen_ai.usage.output_tokens"] == 16


def test_a_streamed_call_span_lasts_until_the_stream_ends_with_its_usage(traced_gateway):
    url, _, spans, _ = traced_gateway
    with httpx.stream("POST", f"{url}/v1/chat/completions", json={"model": "echo", **CHAT, "stream": True},
                      headers={"traceparent": f"00-{TRACE}-{PARENT}-01"}) as resp:
        body = resp.read().decode()
    assert body.rstrip().endswith("[DONE]")
    finished = spans.get_finished_spans()
    (attempt,) = _children(finished, _server(finished))
    assert attempt.attributes["gen_ai.usage.output_tokens"] == 7 and attempt.attributes["resumeopt.status"] == "ok"
    assert attempt.end_time <= _server(finished).end_time


def test_a_cache_hit_is_marked_on_the_request_span_with_no_attempt(traced_gateway):
    url, _, spans, _ = traced_gateway
    _post(url, "cached")
    spans.clear()
    assert _post(url, "cached").headers["x-resumeopt-cache"] == "hit"
    finished = spans.get_finished_spans()
    server = _server(finished)
    assert _children(finished, server) == []
    assert server.attributes["resumeopt.cache_hit"] is True and server.attributes["resumeopt.cost_saved_usd"] > 0


def test_tracing_off_means_no_provider_no_thread_and_the_trace_id_still_recorded(gw_settings, monkeypatch):
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "LANGFUSE_PUBLIC_KEY",
                 "LANGFUSE_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    settings = gw_settings.model_copy(update={"tracing": TracingSettings()})
    upstream = echo_upstream()
    with serve(upstream) as up:
        app = create_app(settings, _config(up))
        with serve(app) as url:
            resp = _post(url, "echo")
            app.state.writer.flush(10)
            (row,) = app.state.store.query("SELECT trace_id FROM {db}.model_calls")
    assert app.state.tracing.enabled is False and app.state.tracing.provider is None
    assert not [t for t in threading.enumerate() if "Otel" in t.name]
    assert row["trace_id"] == TRACE and resp.headers["traceparent"].startswith(f"00-{TRACE}-")
    assert upstream.state.seen[-1]["headers"]["traceparent"].startswith(f"00-{TRACE}-")


def test_otel_sdk_disabled_wins_over_a_configured_endpoint():
    settings = TracingSettings(otel_exporter_otlp_endpoint="http://127.0.0.1:9", otel_sdk_disabled=True)
    assert settings.exporters() == [] and Tracing.from_settings(settings).enabled is False


def _receiver() -> Starlette:
    got: list[dict] = []

    async def traces(request: Request):
        request_ = ExportTraceServiceRequest.FromString(await request.body())
        names = [s.name for rs in request_.resource_spans for ss in rs.scope_spans for s in ss.spans]
        got.append({"path": request.url.path, "headers": dict(request.headers), "spans": names})
        return Response(b"", media_type="application/x-protobuf")

    app = Starlette(routes=[Route("/{path:path}", traces, methods=["POST"])])
    app.state.got = got
    return app


def test_spans_go_to_the_collector_and_to_langfuse_each_with_its_own_headers(monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-collector-token=collector-secret")
    collector, langfuse = _receiver(), _receiver()
    with serve(collector) as c, serve(langfuse) as lf:
        tracing = Tracing.from_settings(TracingSettings(
            otel_exporter_otlp_endpoint=c, langfuse_host=lf, langfuse_public_key="pk-lf-1",
            langfuse_secret_key="sk-lf-2"))
        with tracing.span("exported"):
            pass
        tracing.shutdown()  # flushes the batch processors
    (to_collector,), (to_langfuse,) = collector.state.got, langfuse.state.got
    assert to_collector["path"] == "/v1/traces" and to_collector["spans"] == ["exported"]
    assert to_collector["headers"]["x-collector-token"] == "collector-secret"
    assert to_langfuse["path"] == "/api/public/otel/v1/traces" and to_langfuse["spans"] == ["exported"]
    headers = to_langfuse["headers"]
    assert headers["authorization"] == "Basic " + base64.b64encode(b"pk-lf-1:sk-lf-2").decode()
    assert headers["x-langfuse-ingestion-version"] == "4"
    assert "x-collector-token" not in headers  # the collector's credentials never go to Langfuse
