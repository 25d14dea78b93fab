-- What a task Pod's credential may do (issue 21, finding 4): write its own task's run, nothing else.
--
-- TRec shares its Pod's network with the executors, so the database credential it holds is within
-- reach of task code. With the API's credential a compromised task could read and change every task.
-- Instead TRec connects as a role with no privileges at all (docs/security.md: the operator creates
-- it, e.g. poiesis_task) and calls only the task_record_* functions below. Each takes the task's id
-- and the task's secret, checks the secret, and then runs the same guarded writes the API and TCtl
-- use (migration 0006): task_record_end calls task_end, the one terminal write. They run as their
-- owner (SECURITY DEFINER) with a pinned search_path, so a temporary table or function of the caller
-- cannot stand in for one of ours.
--
-- A task's secret is derived, not stored: sha256(key || sha256(key || id)), hex, with one random key
-- made here and readable by the owner only. The API and TCtl read it (task_secret) when they create
-- the task's Kubernetes Secret, so a resubmission hands the Pod the same secret; the Pod gets it in
-- that per-task Secret, never the key.

CREATE TABLE task_secret_key (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    key      bytea NOT NULL
);
INSERT INTO task_secret_key (key)
VALUES (sha256(convert_to(gen_random_uuid()::text || gen_random_uuid()::text || clock_timestamp()::text, 'UTF8')));

-- The secret of task p_id (for the task's Kubernetes Secret).
CREATE FUNCTION task_secret(p_id text) RETURNS text
LANGUAGE sql STABLE
AS $$ SELECT encode(sha256(k.key || sha256(k.key || convert_to(p_id, 'UTF8'))), 'hex') FROM task_secret_key k $$;

-- Raises insufficient_privilege unless p_secret is task p_id's secret.
CREATE FUNCTION task_check_secret(p_id text, p_secret text) RETURNS void
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF p_id IS NULL OR p_secret IS NULL OR p_secret IS DISTINCT FROM task_secret(p_id) THEN
        RAISE EXCEPTION 'this is not the secret of task %', p_id USING ERRCODE = 'insufficient_privilege';
    END IF;
END
$$;

-- The task's state (TRec reads it to word the end of a cancelled task) and whether it declared
-- outputs (a recorder without the task volume says they were not recorded).
CREATE FUNCTION task_record_task(p_id text, p_secret text, OUT state text, OUT declares_outputs boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM task_check_secret(p_id, p_secret);
    state := (SELECT t.state FROM tasks t WHERE t.id = p_id);
    declares_outputs := EXISTS (SELECT 1 FROM task_outputs o WHERE o.task_id = p_id);
END
$$;

-- A forward step (INITIALIZING, RUNNING) through task_advance; never out of CANCELING.
CREATE FUNCTION task_record_advance(p_id text, p_secret text, p_target text, p_from text[], p_at timestamptz)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM task_check_secret(p_id, p_secret);
    IF p_target NOT IN ('INITIALIZING', 'RUNNING') OR NOT p_from <@ ARRAY['QUEUED', 'INITIALIZING', 'PAUSED'] THEN
        RAISE EXCEPTION 'a task Pod steps only to INITIALIZING or RUNNING' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN task_advance(p_id, p_target, p_from, p_at, NULL);
END
$$;

-- An executor log, through task_add_executor_log.
CREATE FUNCTION task_record_executor_log(p_id text, p_secret text, p_idx integer, p_exit_code integer,
                                         p_start timestamptz, p_end timestamptz, p_stdout text, p_stderr text)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM task_check_secret(p_id, p_secret);
    RETURN task_add_executor_log(p_id, p_idx, p_exit_code, p_start, p_end, p_stdout, p_stderr);
END
$$;

-- System log lines, through task_add_system_logs.
CREATE FUNCTION task_record_system_logs(p_id text, p_secret text, p_lines text[]) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM task_check_secret(p_id, p_secret);
    RETURN task_add_system_logs(p_id, p_lines);
END
$$;

-- The end, its lines and its output file logs, through task_end (ended_by 'trec').
CREATE FUNCTION task_record_end(p_id text, p_secret text, p_state text, p_start timestamptz, p_end timestamptz,
                                p_lines text[], p_cancelled_lines text[], p_outputs jsonb,
                                OUT landed_state text, OUT landed boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM task_check_secret(p_id, p_secret);
    SELECT e.landed_state, e.landed INTO landed_state, landed
    FROM task_end(p_id, p_state, p_start, p_end, 'trec', p_lines, p_cancelled_lines, p_outputs) e;
END
$$;

-- Only the task_record_* functions are anyone's to call; every other function of Poiesis (those of
-- schema public this role owns, extensions' aside) is the owner's: the API, TCtl, the local backend.
-- Functions of later migrations too. Tables were never granted to anyone.
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN
        SELECT p.oid::regprocedure FROM pg_proc p
        WHERE p.pronamespace = 'public'::regnamespace AND p.proowner = current_user::regrole
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                                                      AND d.deptype = 'e')
    LOOP
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END
$$;
ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    task_record_task(text, text),
    task_record_advance(text, text, text, text[], timestamptz),
    task_record_executor_log(text, text, integer, integer, timestamptz, timestamptz, text, text),
    task_record_system_logs(text, text, text[]),
    task_record_end(text, text, text, timestamptz, timestamptz, text[], text[], jsonb)
TO PUBLIC;
