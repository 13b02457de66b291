-- Queues: every run waits in its task's queue (`#[jobs::task(queue = "webhooks")]`), and a
-- worker claims each queue it serves with slots of its own.
--
-- The claimable index leads with the queue, so the claim of one queue walks only that
-- queue's due runs, however deep another queue's backlog is (a webhook outage that piles
-- up due deliveries does not slow the claims of the other queues).
ALTER TABLE runs ADD COLUMN queue text NOT NULL DEFAULT 'default';

DROP INDEX runs_claimable;
CREATE INDEX runs_claimable ON runs (namespace, queue, priority, run_at, id)
    WHERE status IN ('queued', 'retrying');
