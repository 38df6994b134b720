"""What the gateway records about each call, and the request headers that attribute it.

Callers attribute their calls with headers, so cost can be read per request, job, agent and prompt:
`x-request-id` (the caller's request: every agent call of one optimisation shares it), `x-job-id`,
`x-agent`, `x-tool`, `x-prompt-name`, `x-prompt-version`, `x-experiment` (the prompt experiments' arms the
request runs: `name=arm` pairs, comma-separated), W3C `traceparent`.
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from starlette.datastructures import Headers

from gateway.ids import new_id


# The W3C traceparent of the gateway's own span for the call in progress; providers that speak HTTP send
# it upstream, so the provider's span is a child of ours. With tracing on (gateway/tracing.py) it names
# real spans: the request's server span, and during an attempt the attempt's client span.
TRACEPARENT: ContextVar[str | None] = ContextVar("traceparent", default=None)


@dataclass(slots=True)
class Attribution:
    request_id: str
    trace_id: str = ""
    job_id: str = ""
    agent: str = ""
    tool: str = ""
    team: str = ""                     # team, user and key come from the authenticated caller, never a header
    user_id: str = ""
    key_id: str = ""
    prompt_name: str = ""
    prompt_version: str = ""
    experiments: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_headers(cls, headers: Headers) -> Attribution:
        return cls(
            request_id=_clean(headers.get("x-request-id")) or new_id(),
            trace_id=_trace_id(headers.get("traceparent")) or new_id(),
            job_id=_clean(headers.get("x-job-id")),
            agent=_clean(headers.get("x-agent")),
            tool=_clean(headers.get("x-tool")),
            prompt_name=_clean(headers.get("x-prompt-name")),
            prompt_version=_clean(headers.get("x-prompt-version")),
            experiments=experiments(headers.get("x-experiment")),
        )


@dataclass(slots=True)
class CallRecord:
    """One row of `model_calls`. Field names are the column names."""

    attribution: Attribution
    model_alias: str
    deployment: str = ""
    provider: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    usage_estimated: bool = False
    cost_usd: Decimal = Decimal(0)
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    stream: bool = False
    status: str = "ok"
    http_status: int = 200
    error_kind: str = ""
    overhead_ms: float = 0.0
    cache_hit: bool = False
    cost_saved_usd: Decimal = Decimal(0)
    input_price_per_mtok: Decimal = Decimal(0)    # the price the cost was computed with (USD / 1M tokens)
    output_price_per_mtok: Decimal = Decimal(0)
    attempts: int = 0
    fallbacks: int = 0
    route: str = ""
    prompt: str = ""                   # kept per the team's logging mode; redacted in the writer's thread
    completion: str = ""
    log: tuple = ("off", ())           # (mode, names to redact)
    call_id: str = field(default_factory=new_id)
    ts: datetime = field(default_factory=lambda: datetime.now(UTC))

    def row(self) -> dict:
        """The `model_calls` row. Written out field by field: dataclasses.asdict deep-copies, and
        showed up as the largest single cost in the gateway's request profile."""
        a = self.attribution
        return {
            "call_id": self.call_id, "ts": self.ts, "request_id": a.request_id, "trace_id": a.trace_id,
            "job_id": a.job_id, "agent": a.agent, "tool": a.tool, "team": a.team, "user_id": a.user_id,
            "key_id": a.key_id,
            "model_alias": self.model_alias, "deployment": self.deployment, "provider": self.provider,
            "prompt_name": a.prompt_name, "prompt_version": a.prompt_version, "experiments": a.experiments,
            "input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
            "usage_estimated": self.usage_estimated, "cost_usd": self.cost_usd, "latency_ms": self.latency_ms,
            "ttft_ms": self.ttft_ms, "stream": self.stream, "cache_hit": self.cache_hit,
            "cost_saved_usd": self.cost_saved_usd, "input_price_per_mtok": self.input_price_per_mtok,
            "output_price_per_mtok": self.output_price_per_mtok,
            "retries": max(0, self.attempts - 1), "fallback_used": self.fallbacks > 0, "fallbacks": self.fallbacks,
            "attempts": self.attempts, "route": self.route, "overhead_ms": self.overhead_ms,
            "status": self.status, "http_status": self.http_status, "error_kind": self.error_kind,
            "prompt": self.prompt, "completion": self.completion,
            **({"_log": self.log} if self.log[0] != "off" else {}),  # redacted by the writer (logged_text)
        }


def _clean(value: str | None, limit: int = 128) -> str:
    """Header values go into ClickHouse columns: bound their length, keep printable ASCII only."""
    if not value:
        return ""
    return "".join(ch for ch in value[:limit] if 32 <= ord(ch) < 127)


MAX_EXPERIMENTS = 8  # a request runs a few experiments at most; the header is not a place to store data
# The alphabet of experiment and arm names (optimiser/experiments.py NAME_RE). Anything else is left out: a
# key such as "$dec" would be read back from the telemetry stream as a tagged value (gateway/store/stream.py).
_EXPERIMENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def experiments(value: str | None) -> dict[str, str]:
    """`x-experiment: name=arm,name=arm` as a map; malformed pairs are left out."""
    out: dict[str, str] = {}
    for pair in _clean(value, 1024).split(",")[:MAX_EXPERIMENTS]:
        name, _, arm = (part.strip() for part in pair.partition("="))
        if _EXPERIMENT_NAME.match(name) and _EXPERIMENT_NAME.match(arm):
            out[name] = arm
    return out


def _trace_id(traceparent: str | None) -> str:
    # W3C trace context: version-traceid(32 hex)-parentid(16 hex)-flags
    parts = (traceparent or "").split("-")
    if len(parts) == 4 and len(parts[1]) == 32:
        return parts[1].lower()
    return ""


MAX_LOGGED_CHARS = 32_000


def logged_text(row: dict) -> dict:
    """A `model_calls` row's prompt and completion as the team's logging mode allows. Runs in the store
    writer's thread, off the request path; the raw text never reaches the store under `redacted`."""
    from gateway.pii import redact

    mode, terms = row.pop("_log", ("off", ()))
    for field in ("prompt", "completion"):  # a log is for reading, not an archive: keep the first 32k
        if len(row[field]) > MAX_LOGGED_CHARS:
            row[field] = row[field][:MAX_LOGGED_CHARS] + " [truncated]"
    if mode == "off":
        row["prompt"] = row["completion"] = ""
    elif mode == "redacted":
        row["prompt"], row["completion"] = redact(row["prompt"], terms), redact(row["completion"], terms)
    return row
