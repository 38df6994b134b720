-- Offline evaluation runs (`resumeopt eval run`, evaluator/runs.py): one row per run, written when it
-- starts (status 'running') and again when it ends ('finished' or 'failed', with its aggregates); the
-- latest version of a run wins. Its per-case scores are in `scores` under the same run_id, one row per
-- (case, repeat, metric), the case's cost and latency among them (judge 'run').
CREATE TABLE IF NOT EXISTS {db}.eval_runs
(
    run_id          String,
    ts              DateTime64(3, 'UTC'),
    updated         DateTime64(3, 'UTC'),
    status          LowCardinality(String),
    dataset         LowCardinality(String),
    content_hash    String,
    prompt_ref      String,
    prompt_version  String,
    judges          Map(String, String),
    repeats         UInt16,
    cases           UInt32,
    failed_cases    UInt32,
    cost_usd        Decimal(18, 9),
    duration_s      Float64,
    aggregates      Map(String, Float64),
    team            String,
    created_by      String,
    note            String
)
ENGINE = ReplacingMergeTree(updated)
ORDER BY run_id;

-- Which repeat of a case a score is from (`eval run --repeat N`: 0..N-1; 0 for every other score).
ALTER TABLE {db}.scores ADD COLUMN IF NOT EXISTS repeat UInt16
