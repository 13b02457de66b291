-- The last attempt of a running or succeeded run lives on the run's own row.
--
-- From this version on, `attempts` holds only the attempts that ended without finishing
-- their run well: failed, lease_expired, interrupted, cancelled. Each is written once, by
-- the statement that ends it. A run being attempted, and a run that succeeded, are
-- described by their row in `runs` (`attempt`, `started_at`, `finished_at`); reading a
-- run's attempts adds that one to the stored ones. So the common path (claimed, then
-- succeeded) writes one row twice and nothing else: no attempt row opened by the claim
-- and closed by the finish.
--
-- Rows the earlier version wrote for such attempts would now be listed twice: remove them.
DELETE FROM attempts WHERE outcome IN ('running', 'succeeded');

COMMENT ON TABLE attempts IS
    'Attempts that ended without finishing their run well (failed, lease_expired, '
    'interrupted, cancelled). The last attempt of a running or succeeded run is on its row '
    'in runs.';
