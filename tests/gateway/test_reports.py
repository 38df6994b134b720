"""Finance reports over real HTTP: top spenders and cost anomalies (a day 25 % above its team's trailing
7-day mean), gateway health from the per-minute rollup and budget burn-down, scoped by role; and
`resumeopt report ...` against a running platform."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx

from gateway.app import create_app
from gateway.telemetry import Attribution, CallRecord
from tests.conftest import ADMIN_KEY
from tests.support import serve

ADMIN = {"authorization": f"Bearer {ADMIN_KEY}"}


def _rows() -> list[dict]:
    out = []
    for day in range(1, 11):  # team a: $1 a day, then $1.30 on the 10th; team b: $1 a day, $1.20 on the 10th
        for team, last in (("a", "1.30"), ("b", "1.20")):
            rec = CallRecord(Attribution(f"{team}-{day}", team=team, user_id=f"{team}-user"), "m",
                             cost_usd=Decimal(last if day == 10 else "1"))
            rec.ts = datetime(2026, 11, day, 12, tzinfo=UTC)
            out.append(rec.row())
    return out


def test_top_spenders_anomalies_and_csv_export(secured, base_config):
    app = create_app(secured, base_config.with_local_base("http://127.0.0.1:9/v1"))
    with serve(app) as url:
        app.state.store.insert("model_calls", _rows())
        get = lambda path, headers=ADMIN, **p: httpx.get(f"{url}{path}", params=p, headers=headers)  # noqa: E731
        top = get("/api/v1/reports/top-spenders", by="team").json()["rows"]
        assert [(r["key"], r["cost_usd"]) for r in top] == [("a", "10.3"), ("b", "10.2")]
        found = get("/api/v1/reports/anomalies", **{"from": "2026-11-01", "to": "2026-11-10"}).json()["rows"]
        assert [(r["team"], r["day"], r["cost_usd"], r["trailing_mean_usd"]) for r in found] == [
            ("a", "2026-11-10", "1.3", "1")]  # b's 20 % is within tolerance; days 2-7 lack history
        bad = get("/api/v1/reports/anomalies", **{"from": "2026-11-10", "to": "2026-11-01"})
        assert bad.status_code == 422
        engineer = httpx.post(f"{url}/admin/v1/keys", headers=ADMIN,
                              json={"name": "e", "team": "b", "role": "engineer"}).json()["key"]
        own = get("/api/v1/reports/top-spenders", headers={"authorization": f"Bearer {engineer}"}, by="user")
        assert [r["key"] for r in own.json()["rows"]] == ["b-user"]

        env = {**os.environ, "RESUMEOPT_PLATFORM_URL": url, "RESUMEOPT_API_KEY": ADMIN_KEY}
        out = subprocess.run([sys.executable, "-m", "resumeopt.cli", "report", "cost", "--from", "2026-11-10",
                              "--to", "2026-11-10", "--by", "team", "--format", "csv"], capture_output=True,
                             text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    table = list(csv.DictReader(io.StringIO(out.stdout)))
    assert [(r["key"], r["cost_usd"], r["calls"]) for r in table] == [("a", "1.3", "1"), ("b", "1.2", "1")]


# -- health (per-minute rollup) and budget burn-down ------------------------------------------------------

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _calls_at(team: str, deployment: str, minute: int, n: int, latency: float, **kw) -> list[dict]:
    out = []
    for _ in range(n):
        rec = CallRecord(Attribution(f"{team}-{minute}", team=team, user_id=f"{team}-user"), "m", deployment,
                         latency_ms=latency, **kw)
        rec.ts = T0 + timedelta(minutes=minute, seconds=30)
        out.append(rec.row())
    return out


def _engineer(url: str, team: str) -> dict:
    key = httpx.post(f"{url}/admin/v1/keys", headers=ADMIN, json={"name": "e", "team": team, "role": "engineer"})
    return {"authorization": f"Bearer {key.json()['key']}"}


def test_health_report_from_the_rollup_scoped_by_role_with_json_errors(secured, base_config):
    app = create_app(secured, base_config.with_local_base("http://127.0.0.1:9/v1"))
    with serve(app) as url:
        store = app.state.store
        failed = _calls_at("a", "d1", 0, 1, 200.0, status="error")
        rescued = _calls_at("a", "d2", 1, 4, 800.0, cache_hit=True, attempts=2, fallbacks=1)
        store.insert("model_calls", _calls_at("a", "d1", 0, 9, 200.0) + failed + rescued)
        store.insert("model_calls", _calls_at("b", "d1", 1, 6, 200.0))
        get = lambda headers=ADMIN, **p: httpx.get(f"{url}/api/v1/reports/health", params=p, headers=headers)  # noqa: E731
        span = {"from": "2026-11-02T09:00:00Z", "to": "2026-11-02T09:02:00Z"}
        total = get(**span).json()
        assert [(r["key"], r["calls"], r["rps"], r["p50_ms"], r["p99_ms"], r["error_rate"]) for r in total["rows"]] == [
            ("d1", 16, round(16 / 120, 4), 200.0, 200.0, round(1 / 16, 4)),
            ("d2", 4, round(4 / 120, 4), 800.0, 800.0, 0.0)]
        d2 = total["rows"][1]
        assert (d2["cache_hit_rate"], d2["retries"], d2["fallbacks"]) == (1.0, 4, 4)
        assert set(total["breakers_now"]) == set(app.state.chat.deployment_names())
        assert set(total["breakers_now"].values()) == {"closed"}
        per_minute = get(per="minute", by="model", **span).json()["rows"]
        assert [(r["minute"], r["calls"], r["rps"]) for r in per_minute] == [
            ("2026-11-02T09:00:00Z", 10, round(10 / 60, 4)), ("2026-11-02T09:01:00Z", 10, round(10 / 60, 4))]

        engineer_b = _engineer(url, "b")
        own = get(headers=engineer_b, **span).json()["rows"]
        assert [(r["key"], r["calls"]) for r in own] == [("d1", 6)]
        refused = get(headers=engineer_b, team="a", **span)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
        backwards = get(**{"from": span["to"], "to": span["from"]})
        assert backwards.status_code == 422 and backwards.json()["error"]["code"] == "invalid_request"
        too_long = get(per="minute", **{"from": "2026-10-01T00:00:00", "to": "2026-11-02T00:00:00"})
        assert too_long.status_code == 400 and too_long.json()["error"]["code"] == "range_too_large"
        assert get(by="team").json()["error"]["code"] == "invalid_request"
        csv_rows = list(csv.DictReader(io.StringIO(get(format="csv", per="minute", **span).text)))
        assert [(r["key"], r["minute"], r["calls"]) for r in csv_rows] == [("d1", "2026-11-02T09:00:00Z", "10"),
                                                                          ("d1", "2026-11-02T09:01:00Z", "6"),
                                                                          ("d2", "2026-11-02T09:01:00Z", "4")]

        out = _cli(url, "report", "health", "--from", span["from"], "--to", span["to"], "--per", "minute",
                   "--team", "b", "--format", "csv")
    assert [(r["key"], r["calls"]) for r in csv.DictReader(io.StringIO(out))] == [("d1", "6")]


def _spend_now(team: str, cost: str, now: datetime) -> dict:
    """A call half-way through today's window (UTC, the config's time zone), so it is in every window."""
    rec = CallRecord(Attribution(f"{team}-spend", team=team, user_id=f"{team}-user"), "m", cost_usd=Decimal(cost))
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    rec.ts = midnight + (now - midnight) / 2
    return rec.row()


def test_budget_burndown_projects_each_window_and_is_scoped_by_role(secured, base_config):
    app = create_app(secured, base_config.with_local_base("http://127.0.0.1:9/v1"))
    with serve(app) as url:
        for scope, body in (("team:a", {"budget_day_usd": "10", "budget_month_usd": "100"}),
                            ("team:b", {"budget_day_usd": "5"})):
            httpx.put(f"{url}/admin/v1/limits/{scope}", headers=ADMIN, json=body).raise_for_status()
        now = datetime.now(UTC)
        app.state.store.insert("model_calls", [_spend_now("a", "1.5", now), _spend_now("a", "0.5", now),
                                               _spend_now("b", "1", now)])
        get = lambda headers=ADMIN, **p: httpx.get(f"{url}/api/v1/reports/budgets/burndown", params=p,  # noqa: E731
                                                   headers=headers)
        rows = get(scope="team:a").json()["rows"]
        after = datetime.now(UTC)  # the server's clock read between `now` and this: an hour may tick over
        day, month = sorted(rows, key=lambda r: r["period"])
        assert (day["limit_usd"], day["spent_usd"], day["unit"], day["bucket"]) == ("10", "2", "hours", "hour")
        assert day["series"][-1]["cumulative_usd"] == "2" and len(day["series"]) in (now.hour + 1, after.hour + 1)
        elapsed_h = (after - now.replace(hour=0, minute=0, second=0, microsecond=0)).total_seconds() / 3600
        projected = Decimal(day["projected_usd"])
        assert abs(projected - Decimal(2 * 24 / elapsed_h)) < Decimal("0.05") * projected
        assert abs(day["until_exhausted"] - 8 / (2 / elapsed_h)) <= 0.05 * day["until_exhausted"] + 0.01
        assert day["exhausts_before_reset"] == (2 * 24 / elapsed_h >= 10)
        assert (month["unit"], month["spent_usd"]) == ("days", "2") and len(month["series"]) in (now.day, after.day)
        assert [r["scope"] for r in get(window="day").json()["rows"]] == ["team:a", "team:b"]

        engineer_b = _engineer(url, "b")
        own = get(headers=engineer_b).json()["rows"]
        assert [(r["scope"], r["period"], r["spent_usd"]) for r in own] == [("team:b", "day", "1")]
        for scope in ("team:a", "global"):
            refused = get(headers=engineer_b, scope=scope)
            assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
        bad = get(scope="team/a")
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_request"

        table = _cli(url, "report", "burndown", "--window", "day", "--format", "table")
        as_json = json.loads(_cli(url, "report", "burndown", "--scope", "team:b", "--format", "json"))
    assert "team:a" in table and "team:b" in table and "projected_usd" in table
    assert [(r["scope"], r["spent_usd"]) for r in as_json["rows"]] == [("team:b", "1")]


def _cli(url: str, *args: str) -> str:
    env = {**os.environ, "RESUMEOPT_PLATFORM_URL": url, "RESUMEOPT_API_KEY": ADMIN_KEY, "COLUMNS": "200"}
    out = subprocess.run([sys.executable, "-m", "resumeopt.cli", *args], capture_output=True, text=True, timeout=120,
                         env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def test_burndown_keeps_both_hours_of_a_dst_fall_back_apart(gw_settings):
    """New York, 2026-11-01: 01:00-02:00 happens twice (EDT, then EST). $1 in the first, $2 in the
    second: two buckets of their own, $3 in all (not one bucket counted twice)."""
    from gateway.budgets import Budget
    from gateway.burndown import burndown
    from gateway.store import queries
    from gateway.store.client import Store

    store = Store(gw_settings.resolved_store_dsn(), gw_settings.store_database)
    store.migrate()
    rows = []
    for hour_utc, cost in ((5, "1"), (6, "2")):  # 01:30 EDT, 01:30 EST
        rec = CallRecord(Attribution(f"dst-{hour_utc}", team="ny"), "m", "d", "p", cost_usd=Decimal(cost))
        rec.ts = datetime(2026, 11, 1, hour_utc, 30, tzinfo=UTC)
        rows.append(rec.row())
    store.insert("model_calls", rows)
    now = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    report, = burndown([Budget(scope="team:ny", period="day", limit_usd=Decimal(10))],
                       lambda *a: queries.spend_by_bucket(store, *a), "America/New_York", now)
    assert report["spent_usd"] == "3"
    spent = [p["spent_usd"] for p in report["series"] if p["spent_usd"] != "0"]
    assert spent == ["1", "2"] and len(report["series"]) == 8  # 04:00 to 12:00 UTC: eight hours
    assert [p["at"] for p in report["series"][1:3]] == ["2026-11-01T01:00:00-04:00", "2026-11-01T01:00:00-05:00"]


def test_an_anomaly_is_judged_against_the_teams_whole_history(gw_settings):
    """Team c spent on Oct 1, then on Nov 7 and (3x) on Nov 10: it has history, so Nov 10 is an anomaly
    even though its first spend inside the trailing week is only 3 days earlier."""
    from datetime import date

    from gateway.store import queries
    from gateway.store.client import Store

    store = Store(gw_settings.resolved_store_dsn(), gw_settings.store_database)
    store.migrate()
    rows = []
    for day, cost in ((datetime(2026, 10, 1), "1"), (datetime(2026, 11, 7), "0.7"), (datetime(2026, 11, 10), "3")):
        rec = CallRecord(Attribution(f"c-{day:%m%d}", team="c"), "m", cost_usd=Decimal(cost))
        rec.ts = day.replace(hour=12, tzinfo=UTC)
        rows.append(rec.row())
    store.insert("model_calls", rows)
    found = queries.cost_anomalies(store, date(2026, 11, 1), date(2026, 11, 10))
    assert [(r["team"], r["day"], r["cost_usd"], r["trailing_mean_usd"]) for r in found] == [
        ("c", "2026-11-10", "3", "0.1")]  # 0.7 / 7
