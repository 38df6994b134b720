"""OpenTelemetry traces: one trace per optimisation, carried across HTTP in W3C `traceparent`.

Spans: every request a service answers (a server span, FastAPI's own instrumentation, which extracts the
caller's `traceparent`), the optimisation flow and its steps, each agent (`agent <name>`), each call an
agent makes to the gateway (a client span that injects `traceparent`, optimiser/tracing.py), and each
provider attempt (a client span with the GenAI semantic-convention attributes).

Configured from the standard environment (`TracingSettings`): `OTEL_EXPORTER_OTLP_ENDPOINT` (or
`..._TRACES_ENDPOINT`) exports OTLP/HTTP; `LANGFUSE_PUBLIC_KEY` + `LANGFUSE_SECRET_KEY` add a second OTLP
exporter to Langfuse (`LANGFUSE_HOST`/api/public/otel). With neither, tracing is off: no provider, no
thread, and the hot path tests one boolean. Lives in the gateway because both services need it and the
optimiser already depends on the gateway, never the reverse (ARCHITECTURE.md).
"""

from __future__ import annotations

import base64
from contextlib import nullcontext
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, StatusCode
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:  # the SDK and `requests` (~0.3 s) load only when tracing is on: every CLI command imports us
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

# Health checks and scrapes every few seconds would bury the traces worth reading.
UNTRACED_PATHS = frozenset({"/healthz", "/metrics"})


class TracingSettings(BaseSettings):
    """The OpenTelemetry and Langfuse variables under their standard names (no RESUMEOPT_ prefix)."""

    model_config = SettingsConfigDict(extra="ignore")

    otel_sdk_disabled: bool = False
    otel_service_name: str = "resumeopt"
    otel_exporter_otlp_endpoint: str = ""          # base URL; /v1/traces is appended
    otel_exporter_otlp_traces_endpoint: str = ""   # full URL, wins over the base
    langfuse_public_key: str = ""
    langfuse_secret_key: SecretStr = SecretStr("")
    langfuse_host: str = "https://cloud.langfuse.com"

    def exporters(self) -> list[SpanExporter]:
        if self.otel_sdk_disabled:
            return []
        out: list[SpanExporter] = []
        endpoint = self.otel_exporter_otlp_traces_endpoint or (
            self.otel_exporter_otlp_endpoint and self.otel_exporter_otlp_endpoint.rstrip("/") + "/v1/traces")
        if endpoint:
            out.append(_otlp(endpoint))  # headers from OTEL_EXPORTER_OTLP_HEADERS, as the SDK reads them
        secret = self.langfuse_secret_key.get_secret_value()
        if self.langfuse_public_key and secret:
            auth = base64.b64encode(f"{self.langfuse_public_key}:{secret}".encode()).decode()
            # Ingestion version 4: spans show within seconds, not after Langfuse's ~10 min batch path.
            headers = {"authorization": f"Basic {auth}", "x-langfuse-ingestion-version": "4"}
            out.append(_otlp(self.langfuse_host.rstrip("/") + "/api/public/otel/v1/traces", headers))
        return out


def _only_headers(headers: dict[str, str]):
    """The SDK (1.45) merges OTEL_EXPORTER_OTLP_HEADERS into every OTLP exporter's headers: a collector's
    credentials would go to Langfuse too. This session sends the exporter's own headers and the SDK's
    protocol headers, nothing else."""
    import requests

    protocol = frozenset({"content-type", "content-encoding", "user-agent"})

    class OnlyHeaders(requests.Session):
        def request(self, method, url, headers=None, **kwargs):  # requests' signature
            sdk = {k: v for k, v in (headers or {}).items() if k.lower() in protocol}
            return super().request(method, url, headers={**sdk, **own}, **kwargs)

    own = headers
    return OnlyHeaders()


def _otlp(endpoint: str, headers: dict[str, str] | None = None) -> SpanExporter:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    if headers is None:
        return OTLPSpanExporter(endpoint=endpoint)
    return OTLPSpanExporter(endpoint=endpoint, headers=headers, session=_only_headers(headers))


class Tracing:
    """The process's tracer, or nothing. Built once from settings and handed to what needs it (never a
    global provider: tests each have their own, and FastAPI is given this one explicitly)."""

    def __init__(self, provider: TracerProvider | None = None):
        self.provider = provider
        self.enabled = provider is not None
        self._tracer = provider.get_tracer("resumeopt") if provider is not None else None

    @classmethod
    def from_settings(cls, settings: TracingSettings) -> Tracing:
        exporters = settings.exporters()
        if not exporters:
            return cls()
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        provider = _provider(settings.otel_service_name)
        for exporter in exporters:  # batched: exporting never happens on the request path
            provider.add_span_processor(BatchSpanProcessor(exporter))
        return cls(provider)

    @classmethod
    def exporting_to(cls, exporter: SpanExporter, service_name: str = "resumeopt") -> Tracing:
        """Each span exported as it ends, synchronously: tests (`InMemorySpanExporter`) and short tools."""
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor

        provider = _provider(service_name)
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        return cls(provider)

    def span(self, name: str, kind: SpanKind = SpanKind.INTERNAL, attributes: dict[str, Any] | None = None):
        """A span current for the `with` block; a no-op context manager when tracing is off."""
        if self._tracer is None:
            return nullcontext()
        return self._tracer.start_as_current_span(name, kind=kind, attributes=attributes)

    def start(self, name: str, kind: SpanKind, attributes: dict[str, Any]) -> Span:
        """A span that is not made current (the caller ends it). Only when `enabled`."""
        return self._tracer.start_span(name, kind=kind, attributes=attributes)

    def fastapi(self) -> dict[str, Any]:
        """FastAPI's `telemetry=` argument: server spans from our provider, nothing when off (its native
        instrumentation costs ~15 µs a request even without an exporter, tests/perf)."""
        return {"tracing": self.enabled, "tracer_provider": self.provider, "metrics": False, "logs": False,
                "operation_spans": False, "exclude": lambda scope: scope.get("path") in UNTRACED_PATHS}

    def shutdown(self) -> None:
        if self.provider is not None:
            self.provider.shutdown()  # flushes what the batch processors still hold


def _provider(service_name: str) -> TracerProvider:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    return TracerProvider(resource=Resource.create({"service.name": service_name}))


def traceparent(span: Span) -> str:
    c = span.get_span_context()
    return f"00-{c.trace_id:032x}-{c.span_id:016x}-{c.trace_flags:02x}"


def current_ids() -> tuple[str, str] | None:
    """(trace id, span id) of the current span as hex, or None when there is none."""
    c = trace.get_current_span().get_span_context()
    return (f"{c.trace_id:032x}", f"{c.span_id:016x}") if c.is_valid else None


def current_span() -> Span:
    return trace.get_current_span()


def fail(span: Span, error_type: str) -> None:
    span.set_attribute("error.type", error_type)
    span.set_status(StatusCode.ERROR)


def attempt_span(tracing: Tracing, operation: str, alias: str, deployment: str, provider: str, model: str,
                 attempt: int) -> Span:
    """A provider attempt: a client span named and attributed per the GenAI semantic conventions."""
    system = model.split("/", 1)[0] if provider == "litellm" and "/" in model else provider
    return tracing.start(f"{operation} {model}", SpanKind.CLIENT, {
        "gen_ai.operation.name": operation, "gen_ai.provider.name": system, "gen_ai.system": system,
        "gen_ai.request.model": model, "resumeopt.model_alias": alias, "resumeopt.deployment": deployment,
        "resumeopt.attempt": attempt})


def record_call(span: Span, row: dict) -> None:
    """A call's outcome, read from its `model_calls` row, on its span (the attempt that answered, or the
    request's span when no attempt did: a cache hit, or every attempt failed)."""
    span.set_attributes({
        "gen_ai.usage.input_tokens": row["input_tokens"], "gen_ai.usage.output_tokens": row["output_tokens"],
        "resumeopt.request_id": row["request_id"], "resumeopt.model_alias": row["model_alias"],
        "resumeopt.cache_hit": row["cache_hit"], "resumeopt.cost_usd": float(row["cost_usd"]),
        "resumeopt.status": row["status"]})
    if row["cache_hit"]:
        span.set_attributes({"resumeopt.deployment": row["deployment"],
                             "resumeopt.cost_saved_usd": float(row["cost_saved_usd"])})
    if row["status"] != "ok":
        fail(span, row["error_kind"] or row["status"])


def response_model(span: Span, value: Any) -> None:
    """`gen_ai.response.model` from an answer (a whole body) or a stream's first chunk."""
    body = getattr(value, "body", None) or (value[0] if isinstance(value, tuple) else None)
    model = body.get("model") if isinstance(body, dict) else None
    if isinstance(model, str) and model:
        span.set_attribute("gen_ai.response.model", model)
