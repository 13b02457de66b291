-- The cron tick a periodic run is for (`Context::tick`), NULL for every other run. Its
-- first attempt may start late (after an outage, or when the tick's run was enqueued
-- only after the tick), so `run_at` does not tell it.
ALTER TABLE runs ADD COLUMN tick timestamptz;
