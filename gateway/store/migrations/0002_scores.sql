-- Evaluator scores: one row per (subject, judge, metric). subject is an optimisation request id or a
-- dataset case id; run_id groups an offline run.
CREATE TABLE IF NOT EXISTS {db}.scores
(
    score_id        String,
    ts              DateTime64(3, 'UTC'),
    run_id          String,
    request_id      String,
    dataset         LowCardinality(String),
    case_id         String,
    name            LowCardinality(String),
    value           Float64,
    judge           LowCardinality(String),
    judge_version   LowCardinality(String),
    prompt_version  LowCardinality(String),
    comment         String
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (toDate(ts), score_id)
