-- A cache hit costs nothing and records what the original call cost, so finance can read savings.
ALTER TABLE {db}.model_calls
    ADD COLUMN IF NOT EXISTS cost_saved_usd Decimal(18, 9)
