-- Which key made the call (team and user_id exist since 0001), and the prompt and completion as the
-- team's logging mode allows: empty (off), redacted (default) or full.
ALTER TABLE {db}.model_calls
    ADD COLUMN IF NOT EXISTS key_id String,
    ADD COLUMN IF NOT EXISTS prompt String,
    ADD COLUMN IF NOT EXISTS completion String
