"""Streamlit dashboard. It reads the platform's HTTP read API only, never the store directly."""
