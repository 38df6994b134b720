"""Process-wide defaults that must be set before the heavy libraries import (FACTS.md)."""

import os

QUIET_LIBRARIES = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # never download the price map at run time
    "CREWAI_DISABLE_TELEMETRY": "true",      # else 16 telemetry look-ups per run
    "CREWAI_TRACING_ENABLED": "false",     # crewAI's own run traces (OTEL_SDK_DISABLED would stop ours)
    "RAGAS_DO_NOT_TRACK": "true",
    "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
}


def apply() -> None:
    for key, value in QUIET_LIBRARIES.items():
        os.environ.setdefault(key, value)
