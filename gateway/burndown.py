"""Budget burn-down: how much of each budget's current window is spent, how the spend accumulated (per
hour of a daily budget, per day of a monthly one, in the budget's time zone), and where it is heading
if it goes on at the window's average rate so far (a linear projection: a burst at the start of the
window over-projects, one at the end under-projects).

Spend is read from model_calls FINAL, exactly as the budget check seeds its ledger (gateway/budgets.py),
so `spent_usd` here equals what `/admin/v1/budgets` reports and what the next request is checked against
(less reservations of calls still in flight).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from gateway.budgets import Budget, Window, window
from gateway.store.queries import usd

SpendByBucket = Callable[[str, datetime, datetime, str, str], dict[datetime, Decimal]]  # queries.spend_by_bucket
UNITS = {"day": ("hour", timedelta(hours=1), "hours"), "month": ("day", timedelta(days=1), "days")}


def burndown(budgets: list[Budget], spend: SpendByBucket, tz: str, now: datetime) -> list[dict]:
    out = []
    for b in budgets:
        w = window(b, now, tz)
        bucket, _, _ = UNITS[b.period]
        out.append(budget_burndown(b, w, spend(b.scope, w.starts, w.resets, bucket, tz), now))
    return out


def budget_burndown(budget: Budget, w: Window, by_bucket: dict[datetime, Decimal], now: datetime) -> dict:
    bucket, step, unit = UNITS[budget.period]
    series, total = [], Decimal(0)
    for at in _buckets(w, step, now):
        spent = by_bucket.get(at.astimezone(UTC), Decimal(0))  # keyed in UTC: see spend_by_bucket
        total += spent
        series.append({"at": at.isoformat(), "spent_usd": usd(spent), "cumulative_usd": usd(total)})
    elapsed = max((now - w.starts).total_seconds(), 1.0)  # the first second of a window projects from 1 s
    length = (w.resets - w.starts).total_seconds()
    projected = total * Decimal(length) / Decimal(elapsed)
    return {"scope": budget.scope, "period": budget.period, "mode": budget.mode,
            "limit_usd": usd(budget.limit_usd), "spent_usd": usd(total), "projected_usd": usd(projected),
            "until_exhausted": _until(budget.limit_usd, total, elapsed, step), "unit": unit,
            "exhausts_before_reset": projected >= budget.limit_usd,
            "starts_at": w.starts.isoformat(), "resets_at": w.resets.isoformat(), "bucket": bucket, "series": series}


def _buckets(w: Window, step: timedelta, now: datetime) -> list[datetime]:
    """Bucket starts from the window's start up to now, stepped in UTC so that a DST change adds or
    drops an hour rather than shifting every later one; a day's step lands on each local midnight."""
    zone, out = w.starts.tzinfo, []
    at = w.starts
    while at < min(now, w.resets):
        out.append(at)
        at = (at + step) if step.days else (at.astimezone(UTC) + step).astimezone(zone)
    return out


def _until(limit: Decimal, spent: Decimal, elapsed_s: float, step: timedelta) -> float | None:
    """Units (hours or days) until the limit is reached at the average rate so far; 0 once reached,
    None while nothing is spent (no rate to extrapolate)."""
    if spent >= limit:
        return 0.0
    if spent == 0:
        return None
    rate_per_s = spent / Decimal(elapsed_s)
    return round(float((limit - spent) / rate_per_s) / step.total_seconds(), 2)
