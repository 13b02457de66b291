-- An attempt whose handler asked to run again later (`TaskError::snooze`) is stored with
-- the outcome `snoozed`: not a failure, and not counted against the run's attempts.
ALTER TABLE attempts DROP CONSTRAINT attempts_outcome_check;
ALTER TABLE attempts ADD CONSTRAINT attempts_outcome_check CHECK (outcome IN
    ('running', 'succeeded', 'failed', 'cancelled', 'lease_expired', 'interrupted', 'snoozed'));
