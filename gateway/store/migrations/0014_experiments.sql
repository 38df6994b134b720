-- Prompt experiments (optimiser/experiments.py): the arms a call ran under (the x-experiment header,
-- experiment name -> arm) and those of an optimisation; and the team an optimisation belongs to, so that
-- feedback on it and comparisons of arms are limited to the caller's team without a join to model_calls
-- (an optimisation whose agents made no call still has its row).
ALTER TABLE {db}.model_calls ADD COLUMN IF NOT EXISTS experiments Map(String, String);

ALTER TABLE {db}.optimisations
    ADD COLUMN IF NOT EXISTS experiments Map(String, String),
    ADD COLUMN IF NOT EXISTS team String
