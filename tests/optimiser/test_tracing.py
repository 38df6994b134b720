"""One optimisation, one trace: the optimiser API's request, the flow, each agent, each agent's call to the
gateway and the gateway's side of it share one trace id, in a tree, over real loopback HTTP (the platform
in-process, the simulator as the model); `model_calls.trace_id` is that trace. With tracing off the same
optimisation runs the untraced path and records no spans."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from gateway.config import GatewayConfig
from gateway.local_model import free_port
from gateway.tracing import Tracing
from optimiser.client import PlatformClient
from optimiser.settings import OptimiserSettings
from optimiser.tracing import GatewayCallSpans
from resumeopt.platform import create_platform_app
from tests.support import serve

DATASETS = Path(__file__).resolve().parents[2] / "datasets" / "samples"
RESUME, JOB = (DATASETS / "resume.md").read_text(), (DATASETS / "job.txt").read_text()
AGENTS = {"job_analyst", "resume_analyst", "writer", "reviewer"}
# The prompts name `local-smol`: served here by the simulator, with a reply the grounding check accepts.
SIMULATED = GatewayConfig.model_validate({"default_alias": "local-smol", "models": [
    {"alias": "local-smol", "deployments": [{"name": "sim", "provider": "simulator", "model": "sim", "simulator": {
        "reply": "A backend engineer with Python.", "completion_tokens": 8}}]}]})


def _optimise(gw_settings, tracing: Tracing) -> tuple[dict, list[dict]]:
    port = free_port()
    app = create_platform_app(gw_settings, SIMULATED, OptimiserSettings(gateway_url=f"http://127.0.0.1:{port}"),
                              tracing)
    with serve(app, port=port) as url:
        result = PlatformClient(url).optimise(RESUME, JOB)
        app.state.writer.flush(10)
        rows = app.state.store.query("SELECT agent, trace_id FROM {db}.model_calls WHERE request_id = {r:String}",
                                     {"r": result["request_id"]})
    return result, rows


def _children(spans, parent, kind: SpanKind | None = None) -> list:
    return [s for s in spans if s.parent is not None and s.parent.span_id == parent.context.span_id
            and (kind is None or s.kind is kind)]


def _ancestors(spans, span) -> list[str]:
    by_id, names = {s.context.span_id: s for s in spans}, []
    while span.parent is not None and span.parent.span_id in by_id:
        span = by_id[span.parent.span_id]
        names.append(span.name)
    return names


def test_an_optimisation_is_one_trace_through_the_api_every_agent_and_every_gateway_call(gw_settings):
    exporter = InMemorySpanExporter()
    result, rows = _optimise(gw_settings, Tracing.exporting_to(exporter))
    spans = exporter.get_finished_spans()

    assert len({s.context.trace_id for s in spans}) == 1
    trace_id = f"{spans[0].context.trace_id:032x}"
    (api,) = [s for s in spans if s.name == "POST /v1/optimise"]
    assert api.kind is SpanKind.SERVER and api.parent is None  # the caller sent no traceparent: the root
    assert api.attributes["resumeopt.request_id"] == result["request_id"]
    (flow,) = _children(spans, api)
    assert flow.name == "flow optimise"
    assert {s.name for s in _children(spans, flow)} >= {"step parse", "step analyse", "step agents", "step decide"}

    agents = {s.attributes["gen_ai.agent.name"]: s for s in spans if s.name.startswith("agent ")}
    assert set(agents) == AGENTS
    calls = 0
    for name, agent in agents.items():
        assert agent.name == f"agent {name}" and _ancestors(spans, agent)[-2:] == ["flow optimise", api.name]
        for client in _children(spans, agent, SpanKind.CLIENT):  # the agent's calls to the gateway
            assert client.name == "POST /v1/chat/completions" and client.attributes["resumeopt.agent"] == name
            assert client.attributes["http.response.status_code"] == 200
            (server,) = _children(spans, client, SpanKind.SERVER)  # the gateway's side, through traceparent
            (attempt,) = _children(spans, server, SpanKind.CLIENT)  # the provider attempt
            assert attempt.name == "chat sim" and attempt.attributes["gen_ai.usage.output_tokens"] == 8
            calls += 1
    assert calls == len(rows) == result["usage"]["calls"] >= len(AGENTS)
    assert {r["agent"] for r in rows} == AGENTS and {r["trace_id"] for r in rows} == {trace_id}


def test_with_tracing_off_the_optimisation_runs_untraced_without_errors(gw_settings, caplog):
    result, rows = _optimise(gw_settings, Tracing())
    assert result["degraded"] is False and {r["agent"] for r in rows} == AGENTS
    assert not [r for r in caplog.records if r.levelname in ("WARNING", "ERROR")]
    assert len({r["trace_id"] for r in rows}) == len(rows)  # no trace joins them: each call has its own id


@pytest.mark.parametrize("status", [200, 503])
def test_gateway_call_span_records_the_answer(status):
    exporter = InMemorySpanExporter()
    calls = GatewayCallSpans(Tracing.exporting_to(exporter), "writer")
    request = calls.on_outbound(httpx.Request("POST", "http://127.0.0.1:9/v1/chat/completions"))
    calls.on_inbound(httpx.Response(status))
    calls.on_outbound(httpx.Request("POST", "http://127.0.0.1:9/v1/chat/completions"))
    calls.close("no_response")  # no answer came (a connection error skips on_inbound)
    answered, unanswered = exporter.get_finished_spans()
    sent = answered.context
    assert request.headers["traceparent"].startswith(f"00-{sent.trace_id:032x}-{sent.span_id:016x}-")
    assert answered.attributes["http.response.status_code"] == status
    assert answered.attributes.get("error.type") == (None if status == 200 else "503")
    assert unanswered.attributes["error.type"] == "no_response"
