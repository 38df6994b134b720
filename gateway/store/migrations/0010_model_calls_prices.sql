-- The unit prices each row's cost was computed with (USD per million tokens), so a cost can be
-- re-derived and audited after a price change: cost_usd = (input_tokens * input + output_tokens * output) / 1e6.
ALTER TABLE {db}.model_calls
    ADD COLUMN IF NOT EXISTS input_price_per_mtok Decimal(18, 9),
    ADD COLUMN IF NOT EXISTS output_price_per_mtok Decimal(18, 9)
