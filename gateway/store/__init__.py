"""The telemetry store (ClickHouse): schema migrations, the batching writer and the read queries."""
