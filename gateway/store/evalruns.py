"""Read queries of offline evaluation runs (`eval_runs`, and `scores` under a run id). FINAL: a run's
latest row wins, replayed score rows never count twice."""

from __future__ import annotations

from gateway.store.client import Store
from gateway.store.queries import team_clause

RUN_COLUMNS = ("run_id, ts, updated, status, dataset, content_hash, prompt_ref, prompt_version, judges, repeats, "
               "cases, failed_cases, toString(cost_usd) AS cost_usd, duration_s, aggregates, team, created_by, note")


def run(store: Store, run_id: str, team: str | None) -> dict | None:
    rows = store.query(f"SELECT {RUN_COLUMNS} FROM {{db}}.eval_runs FINAL WHERE run_id = {{rid:String}} "
                       f"{team_clause(team)}", {"rid": run_id, "team": team or ""})
    return _public(rows[0]) if rows else None


def runs(store: Store, team: str | None, dataset: str | None, limit: int) -> list[dict]:
    where = "AND dataset = {ds:String}" if dataset else ""
    rows = store.query(f"SELECT {RUN_COLUMNS} FROM {{db}}.eval_runs FINAL WHERE 1 {where} {team_clause(team)} "
                       "ORDER BY ts DESC LIMIT {limit:UInt32}", {"ds": dataset or "", "team": team or "", "limit": limit})
    return [_public(r) for r in rows]


def run_scores(store: Store, run_id: str, team: str | None) -> list[dict]:
    return store.query(
        "SELECT case_id, repeat, request_id, name, value, judge, judge_version, prompt_version, comment "
        f"FROM {{db}}.scores FINAL WHERE run_id = {{rid:String}} {team_clause(team)} "
        "ORDER BY case_id, repeat, name", {"rid": run_id, "team": team or ""})


def _public(row: dict) -> dict:
    return {**row, "ts": row["ts"].isoformat(), "updated": row["updated"].isoformat(),
            "judges": dict(row["judges"]), "aggregates": dict(row["aggregates"])}
