-- The change feed (docs/api.md, "The change feed"): one row per task event, written by a trigger
-- on tasks in the same statement as the state change, so every writer (API, TRec, TCtl, the local
-- backend) records its events without knowing about them, and a rolled-back write leaves none.
--
-- seq is the event's number (the feed's `since` and SSE id). Numbers are taken in the order the
-- writes happen, not the order they commit, so readers order by (xid, seq) and read only events
-- whose transaction is older than every transaction still running
-- (xid < pg_snapshot_xmin(pg_current_snapshot())): that set never grows behind a reader's
-- position, which is what lets a reader resume after any event without losing one.
-- n numbers one task's events 1, 2, 3...: the row lock of the guarded UPDATE orders a task's
-- writes, so n is their order even when two writers' transactions order the other way.
-- kind is 'state' for now; later kinds (log updates) are more rows of this table.
-- NOTIFY only wakes the API workers' listeners; the rows are the truth.

CREATE TABLE task_events (
    seq     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    xid     xid8 NOT NULL DEFAULT pg_current_xact_id(),
    task_id text NOT NULL,
    n       integer NOT NULL,
    kind    text NOT NULL DEFAULT 'state',
    state   text NOT NULL,
    at      timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE INDEX task_events_order ON task_events (xid, seq);
CREATE INDEX task_events_task ON task_events (task_id, n);

CREATE FUNCTION task_state_event() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO task_events (task_id, n, state)
    VALUES (NEW.id,
            CASE WHEN TG_OP = 'INSERT' THEN 1
                 ELSE (SELECT coalesce(max(n), 0) + 1 FROM task_events WHERE task_id = NEW.id) END,
            NEW.state);
    PERFORM pg_notify('poiesis_task_events', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER tasks_created_event AFTER INSERT ON tasks
    FOR EACH ROW EXECUTE FUNCTION task_state_event();

CREATE TRIGGER tasks_state_event AFTER UPDATE OF state ON tasks
    FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state) EXECUTE FUNCTION task_state_event();
