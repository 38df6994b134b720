"""The read API over the store (dashboard, CLI, finance) and the ingestion of scores.

chDB allows one process per data path, so every reader and every other writer goes through here.
"""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from gateway.api.deps import StoreDep, WriterDep
from gateway.auth.gate import PrincipalDep, allow, team_filter
from gateway.burndown import burndown
from gateway.errors import GatewayError
from gateway.limits import SCOPE_RE
from gateway.store import queries, rollups

router = APIRouter(prefix="/api/v1")


@router.get("/reports/cost", **allow("admin", "finance", "engineer"))
def cost(store: StoreDep, principal: PrincipalDep,
         by: Literal["model", "deployment", "day", "agent", "team", "user"] = "model",
         start: date | None = Query(None, alias="from"), end: date | None = Query(None, alias="to"),
         team: str | None = Query(None, max_length=128, description="admin and finance: one team; others: their own"),
         format: Literal["json", "csv"] = "json"):
    rows = queries.cost_report(store, by, start, end, team_filter(principal, team))
    if format == "csv":
        return Response(_csv(rows, ["key", "calls", "input_tokens", "output_tokens", "cost_usd", "errors",
                                    "avg_latency_ms"]), media_type="text/csv")
    return {"by": by, "rows": rows}


@router.get("/reports/top-spenders", **allow("admin", "finance", "engineer"))
def top_spenders(store: StoreDep, principal: PrincipalDep, by: Literal["team", "user", "key", "model", "agent"] = "team",
                 start: date | None = Query(None, alias="from"), end: date | None = Query(None, alias="to"),
                 limit: int = Query(10, ge=1, le=1000), team: str | None = Query(None, max_length=128)):
    return {"by": by, "rows": queries.top_spenders(store, by, start, end, limit, team_filter(principal, team))}


@router.get("/reports/anomalies", **allow("admin", "finance", "engineer"))
def anomalies(store: StoreDep, principal: PrincipalDep, start: date | None = Query(None, alias="from"),
              end: date | None = Query(None, alias="to"), ratio: float = Query(1.25, gt=1, le=100),
              team: str | None = Query(None, max_length=128)):
    """Days whose cost is more than `ratio` (default 1.25: 25 % above) the team's trailing 7-day mean."""
    end = end or datetime.now(UTC).date()
    start = start or end - timedelta(days=30)
    if start > end:
        raise GatewayError(422, "invalid_request", "'from' is after 'to'", param="from")
    return {"ratio": ratio, "rows": queries.cost_anomalies(store, start, end, ratio, team_filter(principal, team))}


# Per-minute rows past this span would be a page of >10k points per key: ask for per=total instead.
MAX_MINUTES = 7 * 24 * 60
HEALTH_COLUMNS = ["key", "minute", "calls", "rps", "p50_ms", "p95_ms", "p99_ms", "error_rate", "cache_hit_rate",
                  "errors", "cache_hits", "retries", "fallbacks"]


@router.get("/reports/health", **allow("admin", "finance", "engineer"))
async def health(request: Request, store: StoreDep, principal: PrincipalDep,
                 by: Literal["deployment", "model"] = "deployment", per: Literal["minute", "total"] = "total",
                 start: datetime | None = Query(None, alias="from", description="default: an hour before `to`"),
                 end: datetime | None = Query(None, alias="to", description="default: now"),
                 team: str | None = Query(None, max_length=128), format: Literal["json", "csv"] = "json"):
    """Gateway health from the per-minute rollup: fast, approximate under replays (migration 0011)."""
    start, end = _minutes(start, end, per)
    rows = await asyncio.to_thread(rollups.health_report, store, by, start, end, per, team_filter(principal, team))
    if format == "csv":
        return Response(_csv(rows, [c for c in HEALTH_COLUMNS if per == "minute" or c != "minute"]),
                        media_type="text/csv")
    service = request.app.state.chat
    now = service.now()
    # Breaker openings are not recorded in the store: this is the state now, as /metrics and /admin/v1/modes show it.
    breakers = {d: await service.breakers.state(d, now) for d in service.deployment_names()}
    return {"by": by, "per": per, "from": start.isoformat(), "to": end.isoformat(), "source": "model_calls_1m",
            "rows": rows, "breakers_now": breakers}


def _minutes(start: datetime | None, end: datetime | None, per: str) -> tuple[datetime, datetime]:
    """[from, to) widened to whole minutes, the rollup's grain; a time without a zone is UTC."""
    end = _utc(end) if end else datetime.now(UTC)
    if end.second or end.microsecond:
        end = end.replace(second=0, microsecond=0) + timedelta(minutes=1)
    start = (_utc(start) if start else end - timedelta(hours=1)).replace(second=0, microsecond=0)
    if start >= end:
        raise GatewayError(422, "invalid_request", "'from' must be before 'to'", param="from")
    if per == "minute" and end - start > timedelta(minutes=MAX_MINUTES):
        raise GatewayError(400, "range_too_large", f"per=minute covers at most {MAX_MINUTES // 1440} days; "
                           "use per=total or a shorter range", param="from")
    return start, end


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


BURNDOWN_COLUMNS = ["scope", "period", "mode", "limit_usd", "spent_usd", "projected_usd", "until_exhausted", "unit",
                    "exhausts_before_reset", "resets_at"]


@router.get("/reports/budgets/burndown", **allow("admin", "finance", "engineer"))
def budget_burndown(request: Request, store: StoreDep, writer: WriterDep, principal: PrincipalDep,
                    scope: str | None = Query(None, pattern=SCOPE_RE, description="default: every budget you may read"),
                    window: Literal["day", "month"] | None = None, format: Literal["json", "csv"] = "json"):
    """Each budget's current window: spend so far and per hour (day) or day (month), the linear
    projection to the window's end, and how long until the limit at that rate."""
    own = team_filter(principal)
    if own is not None and scope not in (None, f"team:{own}"):
        raise GatewayError(403, "forbidden", "You may only read your own team's budget", "permission_error")
    wanted = scope or (f"team:{own}" if own is not None else None)
    chosen = [b for b in request.app.state.chat.gov.configured_budgets()
              if (wanted is None or b.scope == wanted) and (window is None or b.period == window)]
    writer.flush(timeout=10)  # calls of these scopes may still sit in the writer's batch
    rows = burndown(chosen, partial(queries.spend_by_bucket, store), request.app.state.chat.policy.budget.time_zone,
                    datetime.now(UTC))
    if format == "csv":
        return Response(_csv(rows, BURNDOWN_COLUMNS), media_type="text/csv")
    return {"rows": rows}


@router.get("/reports/quality", **allow("admin", "engineer"))
def quality(store: StoreDep):
    return {"rows": queries.quality_report(store)}


ANY_ROLE = allow("admin", "engineer", "finance", "consumer")


@router.get("/requests/{request_id}/usage", **ANY_ROLE)
def usage(request_id: str, store: StoreDep, writer: WriterDep, principal: PrincipalDep):
    writer.flush(timeout=10)  # read-your-writes: rows of this request may still be in the batch
    return queries.usage_for_request(store, request_id, team_filter(principal))


@router.get("/requests/{request_id}/calls", **ANY_ROLE)
def calls(request_id: str, store: StoreDep, writer: WriterDep, principal: PrincipalDep):
    writer.flush(timeout=10)
    return {"rows": queries.calls_for_request(store, request_id, team_filter(principal))}


@router.get("/requests/{request_id}/scores", **ANY_ROLE)
def request_scores(request_id: str, store: StoreDep, writer: WriterDep, principal: PrincipalDep):
    writer.flush(timeout=10)
    return {"rows": queries.scores_for(store, request_id, team_filter(principal))}


class ScoreIn(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    value: float
    judge: str = Field(min_length=1, max_length=64)
    judge_version: str = Field("1", max_length=32)
    request_id: str = Field("", max_length=128)
    run_id: str = Field("", max_length=64)
    dataset: str = Field("", max_length=64)
    case_id: str = Field("", max_length=128)
    repeat: int = Field(0, ge=0, le=1000, description="which repeat of an offline run's case")
    # The set of prompt versions behind a result, as the evaluator tags it ("job_analyst@1.0.0+resume_analyst@
    # 1.0.0+..."): ~17 characters an agent, 66 for today's four; 256 leaves room for more agents and longer names.
    prompt_version: str = Field("", max_length=256)
    comment: str = Field("", max_length=2000)
    score_id: str = Field(default_factory=lambda: uuid.uuid4().hex, max_length=64)


class ScoresIn(BaseModel):
    scores: list[ScoreIn] = Field(min_length=1, max_length=10_000)


@router.post("/scores", status_code=202, **allow("admin", "engineer"))
def post_scores(payload: ScoresIn, writer: WriterDep, principal: PrincipalDep):
    now = datetime.now(UTC)
    for s in payload.scores:
        writer.emit("scores", {**s.model_dump(), "ts": now, "team": principal.team})
    return {"accepted": len(payload.scores)}


def _csv(rows: list[dict], columns: list[str]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()
