-- Every write to a task's run, as one function each: its state steps, its executor logs, its system
-- log lines and its end with the output file logs (issue 21, finding 6: nothing is written to a task
-- after its terminal state). plans.py calls these and holds no other text of them; the per-task
-- functions of a later migration call the same ones, so each write has one home.
--
-- The guard: the terminal write is an UPDATE of the task's row, which takes the row's lock. Every
-- other write first takes a share lock on the row, only while the task is not terminal
-- (task_lock_active): it waits for a terminal write in progress and then, re-reading the row, finds
-- the task ended and writes nothing; a terminal write waits for the log writes that hold the share
-- lock, so they land before it. The output file logs are written by the terminal write itself, in
-- its transaction, and only when it lands.

-- The terminal states (poiesis.states.TERMINAL; tests/test_store_after_end.py checks they agree).
CREATE FUNCTION task_state_is_terminal(s text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT s IN ('COMPLETE', 'EXECUTOR_ERROR', 'SYSTEM_ERROR', 'CANCELED', 'PREEMPTED') $$;

-- Share-lock the task's row while it is not terminal and make sure its run (attempt 0) has a row;
-- false (nothing written) when the task ended or does not exist.
CREATE FUNCTION task_lock_active(p_id text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM tasks WHERE id = p_id AND NOT task_state_is_terminal(state) FOR SHARE;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    INSERT INTO task_logs (task_id, attempt) VALUES (p_id, 0) ON CONFLICT DO NOTHING;
    RETURN true;
END
$$;

-- A non-terminal state step from one of p_from; RUNNING stamps the start time (p_at, else now). The
-- state afterwards (p_target when it landed); NULL when there is no such task (of p_owner, if given).
CREATE FUNCTION task_advance(p_id text, p_target text, p_from text[], p_at timestamptz, p_owner text)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    landed text;
BEGIN
    IF task_state_is_terminal(p_target) THEN
        RAISE EXCEPTION 'terminal states are written by task_end';
    END IF;
    UPDATE tasks SET state = p_target, updated_at = clock_timestamp(),
        start_time = CASE WHEN p_target = 'RUNNING' THEN coalesce(start_time, p_at, clock_timestamp())
                          ELSE start_time END
    WHERE id = p_id AND state = ANY(p_from) AND NOT task_state_is_terminal(state)
      AND (p_owner IS NULL OR owner = p_owner)
    RETURNING state INTO landed;
    IF NOT FOUND THEN
        RETURN (SELECT state FROM tasks WHERE id = p_id AND (p_owner IS NULL OR owner = p_owner));
    END IF;
    IF p_target = 'RUNNING' THEN
        INSERT INTO task_logs (task_id, attempt) VALUES (p_id, 0) ON CONFLICT DO NOTHING;
        UPDATE task_logs SET start_time = coalesce(start_time, p_at, clock_timestamp())
        WHERE task_id = p_id AND attempt = 0;
    END IF;
    RETURN landed;
END
$$;

-- One executor's end, once (true when new); an end before the start is clamped to the start.
-- False, writing nothing, when the task ended.
CREATE FUNCTION task_add_executor_log(p_id text, p_idx integer, p_exit_code integer, p_start timestamptz,
                                      p_end timestamptz, p_stdout text, p_stderr text)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    added integer;
BEGIN
    IF NOT task_lock_active(p_id) THEN
        RETURN false;
    END IF;
    INSERT INTO executor_logs (task_id, attempt, idx, start_time, end_time, stdout, stderr, exit_code)
    VALUES (p_id, 0, p_idx, p_start, CASE WHEN p_end < p_start THEN p_start ELSE p_end END,
            p_stdout, p_stderr, p_exit_code)
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS added = ROW_COUNT;
    RETURN added = 1;
END
$$;

-- Lines appended to the task's system log; false, writing nothing, when the task ended.
CREATE FUNCTION task_add_system_logs(p_id text, p_lines text[]) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT task_lock_active(p_id) THEN
        RETURN false;
    END IF;
    UPDATE task_logs SET system_logs = system_logs || p_lines WHERE task_id = p_id AND attempt = 0;
    RETURN true;
END
$$;

-- The terminal write: the only way a task ends. One guarded UPDATE matching only a non-terminal row
-- (a CANCELING row lands CANCELED); when it lands, in the same transaction, the run's times, the
-- system log lines of this end (p_cancelled_lines instead when it landed CANCELED for another state:
-- lifecycle.cancelled's wording) and the output file logs p_outputs (a JSON list of {url, path,
-- size_bytes}). When it does not land nothing is written: landed is false and landed_state the state
-- that holds (NULL: no such task).
CREATE FUNCTION task_end(p_id text, p_state text, p_start timestamptz, p_end timestamptz, p_ended_by text,
                         p_lines text[], p_cancelled_lines text[], p_outputs jsonb,
                         OUT landed_state text, OUT landed boolean)
LANGUAGE plpgsql AS $$
DECLARE
    started timestamptz;
    ended timestamptz;
    lines text[] := p_lines;
BEGIN
    IF NOT task_state_is_terminal(p_state) THEN
        RAISE EXCEPTION '% is not a terminal state', p_state;
    END IF;
    UPDATE tasks SET
        state = CASE WHEN state = 'CANCELING' THEN 'CANCELED' ELSE p_state END,
        start_time = coalesce(start_time, p_start),
        end_time = greatest(coalesce(p_end, clock_timestamp()), coalesce(start_time, p_start)),
        ended_by = p_ended_by,
        updated_at = clock_timestamp()
    WHERE id = p_id AND NOT task_state_is_terminal(state)
    RETURNING state, start_time, end_time INTO landed_state, started, ended;
    landed := FOUND;
    IF NOT landed THEN
        SELECT state INTO landed_state FROM tasks WHERE id = p_id;
        RETURN;
    END IF;
    INSERT INTO task_logs (task_id, attempt) VALUES (p_id, 0) ON CONFLICT DO NOTHING;
    IF landed_state = 'CANCELED' AND p_state <> 'CANCELED' THEN
        lines := p_cancelled_lines;
    END IF;
    UPDATE task_logs SET
        start_time = coalesce(start_time, started),
        end_time = coalesce(end_time, greatest(ended, coalesce(start_time, started))),
        system_logs = system_logs || coalesce(lines, '{}')
    WHERE task_id = p_id AND attempt = 0;
    INSERT INTO output_file_logs (task_id, attempt, idx, url, path, size_bytes)
    SELECT p_id, 0, o.n - 1, o.v->>'url', o.v->>'path', (o.v->>'size_bytes')::bigint
    FROM jsonb_array_elements(coalesce(p_outputs, '[]'::jsonb)) WITH ORDINALITY AS o(v, n)
    ON CONFLICT DO NOTHING;
END
$$;
