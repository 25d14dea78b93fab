-- Which component wrote a task's terminal state: the in-pod recorder (trec),
-- the controller (tctl), the API (api: a failed submission, a cancel with no
-- backend) or the local backend (local). NULL for tasks ended before this
-- column existed and for active tasks. Not part of the TES API; it tells an
-- operator (and the tests) who won the race to end a task.
ALTER TABLE tasks ADD COLUMN ended_by text CHECK (ended_by IN ('trec', 'tctl', 'api', 'local'));
