"""The evaluator's HTTP surface in the platform: users' feedback on an optimisation (`POST /v1/feedback`,
stored as a score), the comparison of a prompt experiment's arms on live traffic
(`GET /api/v1/eval/experiments/{name}`), and offline runs (`POST/GET /api/v1/eval/runs`, written and
read by `resumeopt eval run|compare|gate`). The store is the platform's, so all run there."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Literal, get_args

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from evaluator.arms import RESAMPLES, compare
from evaluator.runner import prompt_version_tag
from gateway.api.deps import StoreDep, WriterDep
from gateway.auth.gate import PrincipalDep, allow, team_filter
from gateway.errors import GatewayError
from gateway.store import evalruns
from gateway.store import online as queries

# What a thumbs-down is about, as a fixed set so feedback can be counted by reason.
Reason = Literal["inaccurate", "irrelevant", "too_long", "formatting", "fabricated", "other"]
REASONS: tuple[str, ...] = get_args(Reason)


class EvalRunIn(BaseModel):
    """An offline run's row (evaluator/runs.py RunReport.row): sent when it starts and when it ends."""

    model_config = ConfigDict(extra="forbid")
    run_id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    status: Literal["running", "finished", "failed"]
    dataset: str = Field(min_length=1, max_length=64)
    content_hash: str = Field(max_length=64)
    prompt_ref: str = Field("", max_length=256)
    prompt_version: str = Field("", max_length=256)
    judges: dict[str, str] = Field(default_factory=dict, max_length=64)
    repeats: int = Field(1, ge=1, le=1000)
    cases: int = Field(0, ge=0)
    failed_cases: int = Field(0, ge=0)
    cost_usd: float = Field(0.0, ge=0)
    duration_s: float = Field(0.0, ge=0)
    aggregates: dict[str, float] = Field(default_factory=dict, max_length=2000)
    note: str = Field("", max_length=1000)
    started_at: datetime


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    request_id: str = Field(min_length=1, max_length=128)
    rating: Literal["up", "down"]
    reason: Reason | None = None
    comment: str = Field("", max_length=1000, description="free text; contact details are redacted before it is kept")


def create_eval_router(baseline_of: Callable[[str], str | None] = lambda name: None) -> APIRouter:
    """`baseline_of(experiment)`: the arm the others are compared with (the configured first arm)."""
    router = APIRouter()

    @router.post("/v1/feedback", status_code=202, **allow("admin", "engineer", "consumer"))
    def feedback(body: FeedbackIn, store: StoreDep, writer: WriterDep, principal: PrincipalDep):
        writer.flush(timeout=10)  # read-your-writes: the optimisation's row may still be in the batch
        seen = queries.optimisation_for(store, body.request_id, team_filter(principal))
        if seen is None:
            raise GatewayError(404, "request_not_found", "No optimisation with this request id is visible to you",
                               param="request_id")
        row = feedback_row(body, seen["team"], prompt_version_tag(seen["prompt_versions"]), principal.subject)
        writer.emit("scores", row)
        return {"accepted": True, "score_id": row["score_id"], "request_id": body.request_id}

    @router.get("/api/v1/eval/experiments/{name}", **allow("admin", "engineer"))
    def experiment_report(name: str, store: StoreDep, writer: WriterDep, principal: PrincipalDep,
                          start: date | None = Query(None, alias="from"), end: date | None = Query(None, alias="to"),
                          team: str | None = Query(None, max_length=128, description="admin: one team; others: their own"),
                          resamples: int = Query(RESAMPLES, ge=100, le=20_000)):
        if start and end and start > end:
            raise GatewayError(422, "invalid_request", "'from' is after 'to'", param="from")
        writer.flush(timeout=10)
        own = team_filter(principal, team)
        scores = queries.arm_scores(store, name, start, end, own)
        costs = queries.arm_costs(store, name, start, end, own)
        baseline = baseline_of(name)
        if not costs and baseline is None:
            raise GatewayError(404, "experiment_not_found", "No experiment of this name is configured or has traffic")
        return {"experiment": name, "from": start, "to": end, "team": own,
                **compare(scores, costs, baseline, resamples)}

    @router.post("/api/v1/eval/runs", status_code=202, **allow("admin", "engineer"))
    def post_run(body: EvalRunIn, store: StoreDep, writer: WriterDep, principal: PrincipalDep):
        writer.flush(timeout=10)
        seen = evalruns.run(store, body.run_id, None)
        if seen is not None and seen["team"] != principal.team:  # run ids are the client's: no overwriting others'
            raise GatewayError(409, "run_id_taken", "This run id belongs to another team's run", param="run_id")
        row = body.model_dump(exclude={"started_at"})
        writer.emit("eval_runs", {**row, "cost_usd": Decimal(str(body.cost_usd)), "ts": body.started_at,
                                  "updated": datetime.now(UTC), "team": principal.team,
                                  "created_by": principal.subject})
        return {"accepted": True, "run_id": body.run_id}

    @router.get("/api/v1/eval/runs", **allow("admin", "engineer", "finance"))
    def list_runs(store: StoreDep, writer: WriterDep, principal: PrincipalDep,
                  dataset: str | None = Query(None, max_length=64), limit: int = Query(50, ge=1, le=1000)):
        writer.flush(timeout=10)
        return {"runs": evalruns.runs(store, team_filter(principal), dataset, limit)}

    @router.get("/api/v1/eval/runs/{run_id}", **allow("admin", "engineer", "finance"))
    def get_run(run_id: str, store: StoreDep, writer: WriterDep, principal: PrincipalDep,
                scores: bool = Query(True, description="include the run's per-case scores")):
        writer.flush(timeout=10)
        team = team_filter(principal)
        found = evalruns.run(store, run_id, team)
        if found is None:
            raise GatewayError(404, "run_not_found", f"No evaluation run {run_id!r} is visible to you")
        return {**found, **({"scores": evalruns.run_scores(store, run_id, team)} if scores else {})}

    return router


def feedback_row(body: FeedbackIn, team: str, prompt_version: str, subject: str) -> dict:
    """The score a feedback lands as: `user_feedback` 1 (up) or 0 (down) by judge `user`, its comment the
    reason code (then the user's text, redacted: `reason: text`). One score per (request, caller): a user
    who changes their mind replaces their earlier rating (same day: the table's key is (day, score_id))."""
    from evaluator.judges import Score
    from evaluator.online import score_row
    from gateway.pii import redact

    comment = body.reason or ""
    if body.comment.strip():
        comment = f"{comment or 'other'}: {redact(body.comment.strip())}"
    score = Score("user_feedback", 1.0 if body.rating == "up" else 0.0, "user", "1", comment)
    row = score_row(score, body.request_id, team, prompt_version)
    row["score_id"] = hashlib.sha256(f"feedback\x00{body.request_id}\x00{subject}".encode()).hexdigest()[:32]
    row["ts"] = datetime.now(UTC)
    return row
