"""Cost for finance: calls, tokens and cost by model alias and by day, with a CSV export."""

from datetime import date, timedelta
from decimal import Decimal

import httpx
import pandas as pd
import streamlit as st

from dashboard.api import get, get_text

st.title("Cost")
col_from, col_to = st.columns(2)
start = col_from.date_input("From", value=date.today() - timedelta(days=30))
end = col_to.date_input("To", value=date.today())
try:
    by_model = get("/api/v1/reports/cost", by="model", **{"from": start, "to": end})["rows"]
    by_day = get("/api/v1/reports/cost", by="day", **{"from": start, "to": end})["rows"]
except httpx.HTTPError as exc:
    st.error(f"Cost report unavailable: {type(exc).__name__}")
    st.stop()

total_cost = sum((Decimal(r["cost_usd"]) for r in by_model), Decimal(0))
c1, c2, c3 = st.columns(3)
c1.metric("Calls", sum(r["calls"] for r in by_model))
c2.metric("Tokens (in + out)", sum(r["input_tokens"] + r["output_tokens"] for r in by_model))
c3.metric("Cost (USD)", f"{total_cost:.6f}")

if not by_model:
    st.info("No model calls in this period yet. Run `resumeopt demo`.")
    st.stop()
st.subheader("By model alias")
st.dataframe(pd.DataFrame(by_model).rename(columns={"key": "model_alias"}), hide_index=True)
st.subheader("By day")
days = pd.DataFrame(by_day).rename(columns={"key": "day"})
days["cost_usd"] = days["cost_usd"].astype(float)
st.bar_chart(days, x="day", y=["input_tokens", "output_tokens"])
st.dataframe(days, hide_index=True)
csv = get_text("/api/v1/reports/cost", by="day", format="csv", **{"from": start, "to": end})
st.download_button("Download CSV (by day)", csv, file_name=f"cost_{start}_{end}.csv", mime="text/csv")
