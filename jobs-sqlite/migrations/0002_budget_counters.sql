-- The attempt budget counts failed attempts only.
--
-- Until this version a snooze and a hand-back raised `max_attempts` by one, and backoff
-- was inferred from `attempt`. From now on `max_attempts` never changes once stored, and
-- each kind of attempt that does not finish the run is counted apart: `failures` (failed,
-- or lost with the worker's lease: what backoff follows and the budget counts),
-- `snoozes` and `handbacks` (handed back by a worker that shut down).
ALTER TABLE runs ADD COLUMN failures INTEGER NOT NULL DEFAULT 0 CHECK (failures >= 0);
ALTER TABLE runs ADD COLUMN snoozes INTEGER NOT NULL DEFAULT 0 CHECK (snoozes >= 0);
ALTER TABLE runs ADD COLUMN handbacks INTEGER NOT NULL DEFAULT 0 CHECK (handbacks >= 0);

-- Runs stored by earlier versions: count from their stored attempts, and give back what
-- snoozes and hand-backs added to the budget.
UPDATE runs
SET failures = c.failures,
    snoozes = c.snoozes,
    handbacks = c.handbacks,
    max_attempts = max(runs.max_attempts - c.snoozes - c.handbacks, 1)
FROM (
    SELECT run_id,
           sum(outcome IN ('failed', 'lease_expired')) AS failures,
           sum(outcome = 'snoozed') AS snoozes,
           sum(outcome = 'interrupted') AS handbacks
    FROM attempts
    GROUP BY run_id
) AS c
WHERE runs.id = c.run_id;
