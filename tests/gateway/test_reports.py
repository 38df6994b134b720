"""Finance reports over real HTTP: top spenders and cost anomalies (a day 25 % above its team's trailing
7-day mean), scoped by role; and `resumeopt report cost --format csv` against a running platform."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from datetime import UTC, datetime
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
