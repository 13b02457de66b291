-- The cron tick a periodic run is for (`Context::tick`, microseconds since 1970), NULL
-- for every other run. Its first attempt may start late, so `run_at` does not tell it.
ALTER TABLE runs ADD COLUMN tick INTEGER;
