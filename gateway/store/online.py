"""Read queries of online evaluation: whose an optimisation is (feedback), and the arms of a prompt
experiment with their online scores and costs. FINAL everywhere, so replayed rows never count twice."""

from __future__ import annotations

from datetime import date, timedelta

from gateway.store.client import Store
from gateway.store.queries import team_clause

ALL_TIME = (date(1970, 1, 1), date(2149, 1, 1))  # ClickHouse's Date ends in 2149


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


def _arms_subquery(team: str | None) -> str:
    """The experiment's optimisations in the date range: request id, team, arm."""
    return ("SELECT request_id, team, experiments[{exp:String}] AS arm FROM {db}.optimisations FINAL "
            "WHERE mapContains(experiments, {exp:String}) AND toDate(ts) >= {start:Date} AND toDate(ts) <= {end:Date} "
            f"{team_clause(team)}")


def arm_scores(store: Store, experiment: str, start: date | None, end: date | None,
               team: str | None) -> list[dict]:
    """(arm, request_id, name, value): each online score of each of the experiment's optimisations, one
    value per request and metric (a metric scored twice is averaged). Scores are matched on request id
    *and* team: request ids are the client's choice, another team's score on the same id is not this one's."""
    return store.query(
        f"SELECT o.arm AS arm, s.request_id AS request_id, s.name AS name, avg(s.value) AS value "
        f"FROM ({_arms_subquery(team)}) AS o "
        "INNER JOIN (SELECT request_id, team, name, value FROM {db}.scores FINAL WHERE dataset = 'online' "
        "            AND toDate(ts) >= {start:Date}) AS s "
        "ON s.request_id = o.request_id AND s.team = o.team "
        "GROUP BY arm, request_id, name ORDER BY arm, name, request_id",
        _params(experiment, start, end, team))


def arm_costs(store: Store, experiment: str, start: date | None, end: date | None, team: str | None) -> list[dict]:
    """(arm, request_id, calls, cost_usd): the model calls of each of the experiment's optimisations
    (joined by request id and team; an optimisation whose agents made no call costs 0)."""
    return store.query(
        f"SELECT o.arm AS arm, o.request_id AS request_id, countIf(c.request_id != '') AS calls, "
        f"sum(c.cost_usd) AS cost_usd FROM ({_arms_subquery(team)}) AS o "
        "LEFT JOIN (SELECT request_id, team, cost_usd FROM {db}.model_calls FINAL "
        "           WHERE toDate(ts) >= {calls_from:Date} AND toDate(ts) <= {calls_to:Date}) AS c "
        "ON c.request_id = o.request_id AND c.team = o.team "
        "GROUP BY arm, request_id ORDER BY arm, request_id",
        _params(experiment, start, end, team))


def _params(experiment: str, start: date | None, end: date | None, team: str | None) -> dict:
    start, end = start or ALL_TIME[0], min(end or ALL_TIME[1], ALL_TIME[1])
    # an optimisation's calls start before its row is written: a day either side of the range holds them
    return {"exp": experiment, "start": start, "end": end, "team": team or "",
            "calls_from": max(start - timedelta(days=1), ALL_TIME[0]), "calls_to": end + timedelta(days=1)}
