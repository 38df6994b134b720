-- Routing detail per call: how the gateway chose (route), how hard it tried (attempts, fallbacks) and
-- what the gateway itself cost in time (overhead_ms = latency minus upstream and backoff time).
ALTER TABLE {db}.model_calls
    ADD COLUMN IF NOT EXISTS route String,
    ADD COLUMN IF NOT EXISTS attempts UInt8,
    ADD COLUMN IF NOT EXISTS fallbacks UInt8,
    ADD COLUMN IF NOT EXISTS overhead_ms Float64
