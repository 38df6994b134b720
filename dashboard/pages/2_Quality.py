"""Quality: evaluator scores by prompt version (offline runs, the demo, and later live samples)."""

import httpx
import pandas as pd
import streamlit as st

from dashboard.api import get

st.title("Quality by prompt version")
try:
    rows = get("/api/v1/reports/quality")["rows"]
except httpx.HTTPError as exc:
    st.error(f"Quality report unavailable: {type(exc).__name__}")
    st.stop()
if not rows:
    st.info("No scores yet. Run `resumeopt demo` or `resumeopt eval run --dataset smoke`.")
    st.stop()
df = pd.DataFrame(rows)
versions = sorted(df["prompt_version"].unique())
st.metric("Prompt versions scored", len(versions))
pivot = df.pivot_table(index="name", columns="prompt_version", values="mean")
st.dataframe(pivot)
st.subheader("All scores")
st.dataframe(df, hide_index=True)
