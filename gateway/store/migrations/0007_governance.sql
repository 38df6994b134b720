-- Keys and per-scope limits (budgets, rate limits, logging): one versioned row per change, the newest
-- version wins (ReplacingMergeTree(version), read with FINAL). `body` is the record as JSON; a key's
-- secret is never in it, only its SHA-256. The audit table says who changed what.
CREATE TABLE IF NOT EXISTS {db}.governance
(
    kind        LowCardinality(String),
    id          String,
    version     UInt64,
    deleted     UInt8,
    updated_at  DateTime64(3, 'UTC'),
    body        String
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (kind, id)
