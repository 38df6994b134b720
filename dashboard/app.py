"""Home page: is the platform up, what is configured. Other pages live in dashboard/pages/."""

import httpx
import streamlit as st

from dashboard.api import healthz, platform_url

st.set_page_config(page_title="resumeopt", layout="wide")
st.title("Resume optimiser platform")
st.caption(f"Reading {platform_url()}")
try:
    health = healthz()  # a degraded platform answers 503, with the status and why
except httpx.HTTPError as exc:
    st.error(f"The platform is not reachable at {platform_url()}: {type(exc).__name__}. Start it with `resumeopt up`.")
    st.stop()
c1, c2, c3 = st.columns(3)
c1.metric("Status", health["status"])
c2.metric("Telemetry rows written", health["telemetry"]["written"])
c3.metric("Telemetry backlog", health["telemetry"]["pending"])
st.write("Live model aliases:", ", ".join(health["models"]) or "none")
st.page_link("pages/1_Cost.py", label="Cost (finance)")
st.page_link("pages/2_Quality.py", label="Quality by prompt version")
st.page_link("pages/3_Prompt_comparison.py", label="Prompt comparison: two evaluation runs (ML engineers)")
st.page_link("pages/4_Gateway_health.py", label="Gateway health (operators)")
