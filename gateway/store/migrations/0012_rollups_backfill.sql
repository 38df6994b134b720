-- The views of 0011 see only new inserts: fill the rollups once from what model_calls already holds
-- (FINAL: a row replayed before this migration counts once). Cheap: one aggregation pass over the table
-- (tests/perf/bench_store.py times the same query). It runs before this process's writer starts; on a
-- ClickHouse server shared by several gateways, apply migrations before starting their writers, or rows
-- inserted between 0011 and this statement count twice in the rollups.
INSERT INTO {db}.model_calls_1m
SELECT toStartOfMinute(ts) AS minute, team, model_alias, deployment,
       count() AS calls, sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
       sum(cost_usd) AS cost_usd, countIf(status != 'ok') AS errors, countIf(cache_hit) AS cache_hits,
       sum(retries) AS retries, sum(fallbacks) AS fallbacks,
       quantilesTDigestState(0.5, 0.95, 0.99)(latency_ms) AS latency_ms
FROM {db}.model_calls FINAL
GROUP BY minute, team, model_alias, deployment;

INSERT INTO {db}.model_calls_1d
SELECT toDate(ts) AS day, team, user_id, model_alias, deployment,
       count() AS calls, sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
       sum(cost_usd) AS cost_usd, countIf(status != 'ok') AS errors, countIf(cache_hit) AS cache_hits,
       sum(retries) AS retries, sum(fallbacks) AS fallbacks,
       quantilesTDigestState(0.5, 0.95, 0.99)(latency_ms) AS latency_ms
FROM {db}.model_calls FINAL
GROUP BY day, team, user_id, model_alias, deployment
