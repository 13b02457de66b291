-- Per-key start limits (`KeyLimit::starts`): when runs of a limited task started, by key.
-- Written by the claim of a task with a start limit, trimmed to the limit's period by
-- the next such claim; tasks without one never touch it. In-flight limits need no table:
-- they count the running runs of the task.
CREATE TABLE limit_starts (
    namespace  text        NOT NULL,
    task       text        NOT NULL,
    key        text        NOT NULL,
    started_at timestamptz NOT NULL
);

CREATE INDEX limit_starts_by_key ON limit_starts (namespace, task, key, started_at);
