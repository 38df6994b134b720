"""Gateway health for operators: calls, error and cache-hit rates, latency percentiles, retries and fallbacks
per deployment or model alias over a recent window (`GET /api/v1/reports/health`: the per-minute rollup,
t-digest percentiles), each deployment's circuit breaker now, and `/healthz`."""

from datetime import UTC, datetime, timedelta

import httpx
import pandas as pd
import streamlit as st

from dashboard.api import describe, get, healthz

WINDOWS = {"Last 15 minutes": 15, "Last hour": 60, "Last 6 hours": 6 * 60, "Last 24 hours": 24 * 60,
           "Last 7 days": 7 * 24 * 60}  # per=minute covers at most 7 days
CHARTS = {"calls": "Calls", "errors": "Errors", "error_rate": "Error rate", "p50_ms": "p50 latency (ms)",
          "p95_ms": "p95 latency (ms)", "p99_ms": "p99 latency (ms)", "retries": "Retries", "fallbacks": "Fallbacks",
          "cache_hit_rate": "Cache-hit rate"}
COUNTS = ["calls", "errors", "retries", "fallbacks", "cache_hits", "rps"]  # a minute without a row had none of them

st.title("Gateway health")
col_window, col_by = st.columns(2)
window = col_window.selectbox("Window", list(WINDOWS), index=1)
by = col_by.radio("Per", ["deployment", "model"], horizontal=True)
# Whole minutes (the rollup's grain), up to and including the current one; exactly the window long, so that
# per=minute's 7-day bound holds.
end = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
span = {"from": (end - timedelta(minutes=WINDOWS[window])).isoformat(), "to": end.isoformat()}
try:
    report = get("/api/v1/reports/health", by=by, per="total", **span)
    minutes = get("/api/v1/reports/health", by=by, per="minute", **span)["rows"]
    live = healthz()
except httpx.HTTPError as exc:
    st.error(f"Gateway health unavailable: {describe(exc)}")
    st.stop()
rows, breakers = report["rows"], report["breakers_now"]
st.caption(f"{report['from']} to {report['to']} (UTC, whole minutes), from the per-minute rollup "
           f"`{report['source']}`; latency percentiles are t-digest estimates.")

calls = sum(r["calls"] for r in rows)
errors = sum(r["errors"] for r in rows)
slowest = max(rows, key=lambda r: r["p95_ms"], default=None)
open_breakers = sorted(d for d, s in breakers.items() if s != "closed")
c1, c2, c3, c4 = st.columns(4)
c1.metric("Calls", calls)
c2.metric("Error rate", f"{errors / calls:.2%}" if calls else "-", help=f"{errors} failed calls")
c3.metric(f"Highest p95 ({by})", f"{slowest['p95_ms']:.1f} ms" if slowest else "-",
          help=f"{slowest['key']}; percentiles of different {by}s cannot be combined" if slowest else None)
c4.metric("Breakers not closed", len(open_breakers), help=", ".join(open_breakers) or "every breaker is closed")
c5, c6, c7, c8 = st.columns(4)
c5.metric("Fallbacks", sum(r["fallbacks"] for r in rows))
c6.metric("Retries", sum(r["retries"] for r in rows))
c7.metric("Cache-hit rate", f"{sum(r['cache_hits'] for r in rows) / calls:.2%}" if calls else "-")
c8.metric("Platform status", live["status"],
          help=f"store {live['store']}; telemetry backlog {live['telemetry']['pending']} rows, "
               f"{live['telemetry']['dropped']} dropped")

if rows:
    st.subheader(f"Per {by}")
    table = pd.DataFrame(rows).rename(columns={"key": by})
    if by == "deployment":
        table["breaker now"] = table["deployment"].map(lambda d: breakers.get(d, "-"))
    st.dataframe(table, hide_index=True)
else:
    st.info("No gateway calls in this window. Send some through the gateway (e.g. `resumeopt demo`) or widen "
            "the window.")

if minutes:
    st.subheader("Per minute")
    figure = st.selectbox("Figure", list(CHARTS), format_func=CHARTS.get)
    per_minute = pd.DataFrame(minutes)
    per_minute["minute"] = pd.to_datetime(per_minute["minute"], utc=True)
    chart = per_minute.pivot_table(index="minute", columns="key", values=figure, aggfunc="first")
    chart = chart.reindex(pd.date_range(pd.Timestamp(report["from"]), pd.Timestamp(report["to"]), freq="min",
                                        inclusive="left"))
    if figure in COUNTS:
        chart = chart.fillna(0)
    st.line_chart(chart, x_label="minute (UTC)", y_label=CHARTS[figure])

st.subheader("Circuit breakers now")
st.caption("The state at the time of the request (openings are not stored).")
st.dataframe(pd.DataFrame(sorted(breakers.items()), columns=["deployment", "state"]), hide_index=True)
