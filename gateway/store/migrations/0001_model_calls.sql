-- One row per model call through the gateway. call_id is the idempotent id: a replayed batch
-- collapses in ReplacingMergeTree and reads use FINAL, so a retry never double-counts.
CREATE TABLE IF NOT EXISTS {db}.model_calls
(
    call_id         String,
    ts              DateTime64(3, 'UTC'),
    request_id      String,
    trace_id        String,
    job_id          String,
    agent           LowCardinality(String),
    tool            LowCardinality(String),
    team            LowCardinality(String),
    user_id         String,
    model_alias     LowCardinality(String),
    deployment      LowCardinality(String),
    provider        LowCardinality(String),
    prompt_name     LowCardinality(String),
    prompt_version  LowCardinality(String),
    input_tokens    UInt32,
    output_tokens   UInt32,
    usage_estimated Bool,
    cost_usd        Decimal(18, 9),
    latency_ms      Float64,
    ttft_ms         Nullable(Float64),
    stream          Bool,
    cache_hit       Bool,
    retries         UInt8,
    fallback_used   Bool,
    status          LowCardinality(String),
    http_status     UInt16,
    error_kind      LowCardinality(String)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (toDate(ts), call_id)
