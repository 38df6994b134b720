"""Read queries of online evaluation: whose an optimisation is (feedback). FINAL, so replayed rows never
count twice."""

from __future__ import annotations

from gateway.store.client import Store
from gateway.store.queries import team_clause


def optimisation_for(store: Store, request_id: str, team: str | None) -> dict | None:
    """The optimisation `request_id` as the caller may see it (team None: any team), or None.

    Rows written before migration 0014 carry no team: for those, the team of the request's model calls
    decides, as it does for `/api/v1/requests/{id}/usage`."""
    rows = store.query(
        "SELECT team, prompt_versions FROM {db}.optimisations FINAL WHERE request_id = {rid:String} "
        "ORDER BY ts DESC", {"rid": request_id})
    for row in rows:
        owner = row["team"] or _calls_team(store, request_id, team)
        if owner is not None and (team is None or owner == team):
            return {"team": owner, "prompt_versions": dict(row["prompt_versions"])}
    return None


def _calls_team(store: Store, request_id: str, team: str | None) -> str | None:
    rows = store.query(f"SELECT team FROM {{db}}.model_calls FINAL WHERE request_id = {{rid:String}} "
                       f"{team_clause(team)} LIMIT 1", {"rid": request_id, "team": team or ""})
    return rows[0]["team"] if rows else ("" if team is None else None)

