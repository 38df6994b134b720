"""The optimiser's HTTP API."""
