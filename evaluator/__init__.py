"""Evaluation: judges, golden datasets, offline runs; scores are written through the platform's API."""
