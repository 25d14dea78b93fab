-- Ownership (docs/security.md): every listing of a non-administrator filters
-- on tasks.owner (the column is in 0001) and walks seq newest first, so one
-- index serves both. Tasks created before authentication have no owner and
-- are seen by administrators only.

CREATE INDEX tasks_owner_seq ON tasks (owner, seq DESC);
