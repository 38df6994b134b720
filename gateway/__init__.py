"""OpenAI-compatible LLM gateway: routing to providers, telemetry of every call into ClickHouse."""
