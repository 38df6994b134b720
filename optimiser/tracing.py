"""The crew's part of the trace: an `agent <name>` span around each agent's task, and a client span for
each call an agent makes to the gateway, whose context goes out as `traceparent`.

crewAI builds its OpenAI clients itself (a sync and an async one from the same parameters, so no single
httpx client can be handed in); its interceptor hook (`on_outbound`/`on_inbound`, public API) is the seam.
A call that fails before any response never reaches `on_inbound`: its span is ended, as failed, at the
agent's next call or when the agent's task ends. Only used when tracing is on (agents.py).
"""

from __future__ import annotations

from functools import lru_cache

from opentelemetry import propagate, trace
from opentelemetry.trace import Span, SpanKind

from gateway.tracing import Tracing, fail


class GatewayCallSpans:
    """Client spans for one agent's HTTP calls to the gateway. An agent's calls are sequential: one is
    open at a time."""

    def __init__(self, tracing: Tracing, agent: str):
        self._tracing, self._agent = tracing, agent
        self._open: Span | None = None

    def on_outbound(self, request):
        self.close("no_response")  # the previous call raised before it had a response
        url = request.url
        self._open = self._tracing.start(f"{request.method} {url.path}", SpanKind.CLIENT, {
            "http.request.method": request.method, "server.address": url.host or "",
            "server.port": url.port or (443 if url.scheme == "https" else 80), "url.path": url.path,
            "resumeopt.agent": self._agent})
        propagate.inject(request.headers, context=trace.set_span_in_context(self._open))
        return request

    def on_inbound(self, response):
        span, self._open = self._open, None
        if span is not None:
            span.set_attribute("http.response.status_code", response.status_code)
            if response.status_code >= 400:
                fail(span, str(response.status_code))
            span.end()
        return response

    async def aon_outbound(self, request):
        return self.on_outbound(request)

    async def aon_inbound(self, response):
        return self.on_inbound(response)

    def close(self, error_type: str) -> None:
        span, self._open = self._open, None
        if span is not None:
            fail(span, error_type)
            span.end()


def gateway_call_spans(tracing: Tracing, agent: str) -> GatewayCallSpans:
    """`GatewayCallSpans` as a crewAI interceptor (crewAI checks the type)."""
    return _interceptor_class()(tracing, agent)


def traced_agent(tracing: Tracing, calls: GatewayCallSpans, attributes: dict, **spec):
    """A crewAI Agent whose task runs in an `agent <name>` span, current in the thread that makes the
    agent's model calls, so those calls (and the gateway's spans) are its children."""
    agent = _traced_agent_class()(**spec)
    agent._tracing, agent._calls, agent._span_attributes = tracing, calls, attributes
    return agent


@lru_cache(maxsize=1)
def _interceptor_class():
    from crewai.llms.hooks.base import BaseInterceptor

    class GatewayCallInterceptor(GatewayCallSpans, BaseInterceptor):
        pass

    return GatewayCallInterceptor


@lru_cache(maxsize=1)
def _traced_agent_class():
    from crewai import Agent
    from pydantic import PrivateAttr

    class TracedAgent(Agent):
        _tracing: Tracing = PrivateAttr(default_factory=Tracing)
        _calls: GatewayCallSpans | None = PrivateAttr(default=None)
        _span_attributes: dict = PrivateAttr(default_factory=dict)

        def execute_task(self, task, context=None, tools=None):
            name = self._span_attributes.get("gen_ai.agent.name", self.role)
            with self._tracing.span(f"agent {name}", attributes=self._span_attributes):
                try:
                    return super().execute_task(task, context, tools)
                finally:
                    if self._calls is not None:
                        self._calls.close("no_response")

    return TracedAgent
