"""The read API over the store (dashboard, CLI, finance) and the ingestion of scores.

chDB allows one process per data path, so every reader and every other writer goes through here.
"""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from gateway.api.deps import StoreDep, WriterDep
from gateway.auth.gate import PrincipalDep, allow, team_filter
from gateway.errors import GatewayError
from gateway.store import queries

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
    prompt_version: str = Field("", max_length=64)
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
