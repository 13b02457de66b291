-- The attempt budget counts failed attempts only.
--
-- Until this version a snooze and a hand-back raised `max_attempts` by one, and backoff
-- was inferred from `attempt`, so a run that snoozed twice and then failed waited the
-- third delay, and a replay inherited the stretched budget. From now on `max_attempts`
-- never changes once stored, and each kind of attempt that does not finish the run is
-- counted apart:
--   * `failures`: failed (an error, a panic, a timeout) or lost with the worker's lease;
--     what backoff follows and what the budget counts;
--   * `snoozes`: the handler asked to run again later;
--   * `handbacks`: handed back unfinished by a worker that shut down.
-- None of them is in an index, so a heartbeat stays a HOT update.
ALTER TABLE runs
    ADD COLUMN failures  integer NOT NULL DEFAULT 0 CONSTRAINT runs_failures_check CHECK (failures >= 0),
    ADD COLUMN snoozes   integer NOT NULL DEFAULT 0 CONSTRAINT runs_snoozes_check CHECK (snoozes >= 0),
    ADD COLUMN handbacks integer NOT NULL DEFAULT 0 CONSTRAINT runs_handbacks_check CHECK (handbacks >= 0);

-- Runs stored by earlier versions: count from their stored attempts (every attempt that
-- did not succeed has a row), and give back what snoozes and hand-backs added to the
-- budget.
UPDATE runs AS r
SET failures = c.failures,
    snoozes = c.snoozes,
    handbacks = c.handbacks,
    max_attempts = greatest(r.max_attempts - c.snoozes - c.handbacks, 1)
FROM (
    SELECT a.run_id,
           count(*) FILTER (WHERE a.outcome IN ('failed', 'lease_expired')) AS failures,
           count(*) FILTER (WHERE a.outcome = 'snoozed') AS snoozes,
           count(*) FILTER (WHERE a.outcome = 'interrupted') AS handbacks
    FROM attempts AS a
    GROUP BY a.run_id
) AS c
WHERE r.id = c.run_id;
