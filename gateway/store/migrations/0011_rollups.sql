-- Rollups of model_calls for the dashboard and the health report, kept by materialized views into
-- AggregatingMergeTree tables (TensorZero's pattern): counts and sums as SimpleAggregateFunction(sum),
-- latency quantiles as t-digest states, read with sum() and quantilesTDigestMerge(0.5, 0.95, 0.99).
--
-- Replays. model_calls is a ReplacingMergeTree read with FINAL, so a replayed row never counts twice
-- there; a materialized view fires on every insert, so a replayed batch would count twice here. Every
-- table below keeps a deduplication window: a batch inserted again (same insert_deduplication_token, or
-- byte-identical without one) is dropped by model_calls and, with
-- deduplicate_blocks_in_dependent_materialized_views = 1 (sent by gateway/store/client.py), by every
-- rollup too. A replay that regroups rows into different batches still counts twice in the rollups:
-- they are approximate under such replays. Money is read from model_calls FINAL (exact); the health
-- report reads the rollups (fast).
--
-- Per minute the key is (team, model_alias, deployment), without user_id: with ~2k users a minute's
-- calls are nearly all distinct (user, alias, deployment) triples, so a per-minute per-user rollup would
-- be as large as model_calls itself (tests/perf/bench_store.py prints both sizes). Per day user_id is in.
ALTER TABLE {db}.model_calls MODIFY SETTING non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS {db}.model_calls_1m
(
    minute          DateTime('UTC'),
    team            LowCardinality(String),
    model_alias     LowCardinality(String),
    deployment      LowCardinality(String),
    calls           SimpleAggregateFunction(sum, UInt64),
    input_tokens    SimpleAggregateFunction(sum, UInt64),
    output_tokens   SimpleAggregateFunction(sum, UInt64),
    cost_usd        SimpleAggregateFunction(sum, Decimal(38, 9)),
    errors          SimpleAggregateFunction(sum, UInt64),
    cache_hits      SimpleAggregateFunction(sum, UInt64),
    retries         SimpleAggregateFunction(sum, UInt64),
    fallbacks       SimpleAggregateFunction(sum, UInt64),
    latency_ms      AggregateFunction(quantilesTDigest(0.5, 0.95, 0.99), Float64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (minute, team, model_alias, deployment)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.model_calls_1m_mv TO {db}.model_calls_1m AS
SELECT toStartOfMinute(ts) AS minute, team, model_alias, deployment,
       count() AS calls, sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
       sum(cost_usd) AS cost_usd, countIf(status != 'ok') AS errors, countIf(cache_hit) AS cache_hits,
       sum(retries) AS retries, sum(fallbacks) AS fallbacks,
       quantilesTDigestState(0.5, 0.95, 0.99)(latency_ms) AS latency_ms
FROM {db}.model_calls
GROUP BY minute, team, model_alias, deployment;

CREATE TABLE IF NOT EXISTS {db}.model_calls_1d
(
    day             Date,
    team            LowCardinality(String),
    user_id         String,
    model_alias     LowCardinality(String),
    deployment      LowCardinality(String),
    calls           SimpleAggregateFunction(sum, UInt64),
    input_tokens    SimpleAggregateFunction(sum, UInt64),
    output_tokens   SimpleAggregateFunction(sum, UInt64),
    cost_usd        SimpleAggregateFunction(sum, Decimal(38, 9)),
    errors          SimpleAggregateFunction(sum, UInt64),
    cache_hits      SimpleAggregateFunction(sum, UInt64),
    retries         SimpleAggregateFunction(sum, UInt64),
    fallbacks       SimpleAggregateFunction(sum, UInt64),
    latency_ms      AggregateFunction(quantilesTDigest(0.5, 0.95, 0.99), Float64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (day, team, model_alias, deployment, user_id)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.model_calls_1d_mv TO {db}.model_calls_1d AS
SELECT toDate(ts) AS day, team, user_id, model_alias, deployment,
       count() AS calls, sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
       sum(cost_usd) AS cost_usd, countIf(status != 'ok') AS errors, countIf(cache_hit) AS cache_hits,
       sum(retries) AS retries, sum(fallbacks) AS fallbacks,
       quantilesTDigestState(0.5, 0.95, 0.99)(latency_ms) AS latency_ms
FROM {db}.model_calls
GROUP BY day, team, user_id, model_alias, deployment
