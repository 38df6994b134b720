"""Read queries over the store, one function per report. Reads use FINAL so replayed rows never count twice."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Literal

from gateway.store.client import Store

COST_GROUPS = {"model": "model_alias", "deployment": "deployment", "day": "toString(toDate(ts))",
               "agent": "agent", "team": "team", "user": "user_id"}


def cost_report(store: Store, by: str, start: date | None, end: date | None, team: str | None = None) -> list[dict]:
    key = COST_GROUPS[by]
    where = team_clause(team)
    rows = store.query(
        f"SELECT {key} AS key, count() AS calls, sum(input_tokens) AS input_tokens, "
        "sum(output_tokens) AS output_tokens, sum(cost_usd) AS cost_usd, "
        "countIf(status != 'ok') AS errors, round(avg(latency_ms), 1) AS avg_latency_ms "
        "FROM {db}.model_calls FINAL "
        f"WHERE toDate(ts) >= {{start:Date}} AND toDate(ts) <= {{end:Date}} {where} "
        "GROUP BY key ORDER BY key",
        {"start": start or date(1970, 1, 1), "end": end or date(2999, 12, 31), "team": team or ""},
    )
    return [_money(r) for r in rows]


SCOPE_COLUMNS = {"team": "team", "user": "user_id", "key": "key_id"}


SPENDERS = {"team": "team", "user": "user_id", "key": "key_id", "model": "model_alias", "agent": "agent"}


def top_spenders(store: Store, by: str, start: date | None, end: date | None, limit: int,
                 team: str | None = None) -> list[dict]:
    key = SPENDERS[by]
    rows = store.query(
        f"SELECT {key} AS key, sum(cost_usd) AS cost_usd, count() AS calls FROM {{db}}.model_calls FINAL "
        f"WHERE toDate(ts) >= {{start:Date}} AND toDate(ts) <= {{end:Date}} {team_clause(team)} "
        "GROUP BY key ORDER BY cost_usd DESC, key LIMIT {n:UInt32}",
        {"start": start or date(1970, 1, 1), "end": end or date(2999, 12, 31), "team": team or "", "n": limit},
    )
    return [_money(r) for r in rows]


def cost_anomalies(store: Store, start: date, end: date, ratio: float = 1.25, team: str | None = None) -> list[dict]:
    """Days whose cost (per team) is more than `ratio` x the mean of the 7 days before it. Days without
    calls count as 0 in that mean; a team is judged only once it has 7 days of history (a new team's
    ramp-up is not an anomaly)."""
    # Window functions, not correlated subqueries: servers before 25.x reject those, and each would re-run
    # the FINAL scan per row. A team's first day comes from its whole history (min needs no FINAL).
    rows = store.query(
        "WITH daily AS (SELECT team, toDate(ts) AS day, sum(cost_usd) AS cost FROM {db}.model_calls FINAL "
        f"WHERE toDate(ts) >= {{start:Date}} - 7 AND toDate(ts) <= {{end:Date}} {team_clause(team)} GROUP BY team, day), "
        "firsts AS (SELECT team, toDate(min(ts)) AS first_day FROM {db}.model_calls "
        f"WHERE toDate(ts) <= {{end:Date}} {team_clause(team)} GROUP BY team) "
        "SELECT d.team AS team, d.day AS day, d.cost AS cost_usd, d.trailing AS trailing_mean_usd, f.first_day AS first_day "
        "FROM (SELECT team, day, cost, sum(cost) OVER (PARTITION BY team ORDER BY toUInt32(day) "
        "      RANGE BETWEEN 7 PRECEDING AND 1 PRECEDING) / 7 AS trailing FROM daily) AS d "
        "INNER JOIN firsts AS f ON f.team = d.team "
        "WHERE d.day >= {start:Date} ORDER BY d.day, d.team",
        {"start": start, "end": end, "team": team or ""},
    )
    out = []
    for r in rows:
        mean = Decimal(r["trailing_mean_usd"] or 0)
        history = (r["day"] - r.pop("first_day")).days >= 7
        if history and mean > 0 and Decimal(r["cost_usd"]) > mean * Decimal(str(ratio)):
            out.append(_money({**r, "day": r["day"].isoformat(),
                               "trailing_mean_usd": usd(mean)}))
    return out


def cost_since(store: Store, start: datetime, scope: str = "global") -> Decimal:
    """What a budget scope (`global`, `team:<id>`, `user:<id>`, `key:<id>`) spent since `start`."""
    where, value = _scope(scope)
    rows = store.query("SELECT sum(cost_usd) AS cost FROM {db}.model_calls FINAL "
                       f"WHERE ts >= {{start:DateTime64(3)}} {where}",
                       {"start": naive_utc(start), "value": value})
    return Decimal(rows[0]["cost"] or 0)


def spend_by_bucket(store: Store, scope: str, start: datetime, end: datetime, bucket: Literal["hour", "day"],
                    tz: str) -> dict[datetime, Decimal]:
    """A budget scope's spend in [start, end) per hour or day of the budget's time zone, keyed by the
    bucket's start in UTC (aware datetimes in one zone compare by wall clock, so the two 01:00 hours of a
    DST fall-back would collide as keys in `tz`). Read from model_calls FINAL like `cost_since`, so the buckets add
    up to exactly what the budget check counts."""
    where, value = _scope(scope)
    rows = store.query(
        f"SELECT toUnixTimestamp(toStartOf{'Hour' if bucket == 'hour' else 'Day'}(ts, {{tz:String}})) AS at, "
        "sum(cost_usd) AS cost FROM {db}.model_calls FINAL "
        f"WHERE ts >= {{start:DateTime64(3)}} AND ts < {{end:DateTime64(3)}} {where} GROUP BY at ORDER BY at",
        {"start": naive_utc(start), "end": naive_utc(end),
         "value": value, "tz": tz})
    return {datetime.fromtimestamp(r["at"], UTC): Decimal(r["cost"]) for r in rows}


def _scope(scope: str) -> tuple[str, str]:
    kind, _, value = scope.partition(":")
    return (f"AND {SCOPE_COLUMNS[kind]} = {{value:String}}" if kind in SCOPE_COLUMNS else ""), value


def team_clause(team: str | None) -> str:
    """Request ids are chosen by clients, so two teams can share one: reads are limited to the caller's
    team (None: a cross-team reader sees every team's rows)."""
    return "AND team = {team:String}" if team is not None else ""


def usage_for_request(store: Store, request_id: str, team: str | None = None) -> dict:
    rows = store.query(
        "SELECT agent, count() AS calls, sum(input_tokens) AS input_tokens, "
        "sum(output_tokens) AS output_tokens, sum(cost_usd) AS cost_usd "
        f"FROM {{db}}.model_calls FINAL WHERE request_id = {{rid:String}} {team_clause(team)} GROUP BY agent ORDER BY agent",
        {"rid": request_id, "team": team or ""},
    )
    by_agent = [_money(r) for r in rows]
    total = {
        "calls": sum(r["calls"] for r in rows),
        "input_tokens": sum(r["input_tokens"] for r in rows),
        "output_tokens": sum(r["output_tokens"] for r in rows),
        "cost_usd": usd(sum((Decimal(r["cost_usd"]) for r in rows), Decimal(0))),
    }
    return {"request_id": request_id, **total, "by_agent": by_agent}


def calls_for_request(store: Store, request_id: str, team: str | None = None) -> list[dict]:
    rows = store.query(
        "SELECT call_id, ts, agent, model_alias, deployment, input_tokens, output_tokens, cost_usd, "
        "latency_ms, status, error_kind FROM {db}.model_calls FINAL "
        f"WHERE request_id = {{rid:String}} {team_clause(team)} ORDER BY ts",
        {"rid": request_id, "team": team or ""},
    )
    return [_money({**r, "ts": r["ts"].isoformat()}) for r in rows]


def quality_report(store: Store) -> list[dict]:
    return store.query(
        "SELECT prompt_version, name, count() AS n, round(avg(value), 4) AS mean, "
        "round(min(value), 4) AS min, round(max(value), 4) AS max "
        "FROM {db}.scores FINAL GROUP BY prompt_version, name ORDER BY prompt_version, name"
    )


def scores_for(store: Store, request_id: str, team: str | None = None) -> list[dict]:
    return store.query(
        "SELECT name, value, judge, judge_version, prompt_version, comment FROM {db}.scores FINAL "
        f"WHERE request_id = {{rid:String}} {team_clause(team)} ORDER BY name",
        {"rid": request_id, "team": team or ""},
    )


def _money(row: dict) -> dict:
    """Decimal cost as a string on the wire: JSON floats would lose cents in large sums."""
    if "cost_usd" in row:
        row = {**row, "cost_usd": usd(row["cost_usd"])}
    return row


def usd(x) -> str:
    """A cost on the wire: a Decimal string at the column's 9 places, trailing zeros dropped (JSON floats
    would lose cents in large sums)."""
    return format(Decimal(x or 0).quantize(Decimal("1e-9")).normalize(), "f")


def naive_utc(at: datetime) -> datetime:
    """A DateTime64 parameter: ClickHouse reads naive values as UTC."""
    return at.astimezone(UTC).replace(tzinfo=None)
