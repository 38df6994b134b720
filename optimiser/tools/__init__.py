"""Deterministic tools of the optimiser: every LLM output is checked by these before it ships."""
