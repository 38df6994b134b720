-- The team that posted a score: reads of a request's scores are limited to the caller's team.
ALTER TABLE {db}.scores ADD COLUMN IF NOT EXISTS team String
