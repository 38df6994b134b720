"""The resume optimiser: parsing, deterministic tools, the CrewAI flow and its API."""
