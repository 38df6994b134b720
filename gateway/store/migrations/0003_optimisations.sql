-- One row per finished optimisation: what was asked, what came out, whether it degraded.
CREATE TABLE IF NOT EXISTS {db}.optimisations
(
    request_id        String,
    ts                DateTime64(3, 'UTC'),
    status            LowCardinality(String),
    degraded          Bool,
    degraded_reasons  Array(String),
    match_before      Float64,
    match_after       Float64,
    grounding_passed  Bool,
    violations        UInt16,
    prompt_versions   Map(String, String),
    latency_ms        Float64
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (toDate(ts), request_id)
