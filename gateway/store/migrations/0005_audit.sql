-- Every operator change (modes now; keys, budgets and prompt labels later): who, what, before, after.
CREATE TABLE IF NOT EXISTS {db}.audit
(
    audit_id    String,
    ts          DateTime64(3, 'UTC'),
    actor       String,
    action      LowCardinality(String),
    target      String,
    before      String,
    after       String,
    reason      String
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (toDate(ts), audit_id)
