-- CreateTask in one statement: the task row, its children and its request document, written by
-- one function call from the task's JSON (the generated TesTask as pydantic dumps it, nulls left
-- out). One round trip and one commit per task, with no client-side pipeline: psycopg's async
-- pipeline polls the socket while it waits, which cost more CPU than the insert itself.

CREATE FUNCTION create_task(tid text, task_owner text, doc jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO tasks (id, state, name, description, resources, tags, owner)
    VALUES (tid, 'QUEUED', doc->>'name', doc->>'description', doc->'resources',
            coalesce(doc->'tags', '{}'::jsonb), task_owner);

    INSERT INTO task_inputs (task_id, idx, name, description, url, path, type, content, streamable)
    SELECT tid, i.n - 1, i.v->>'name', i.v->>'description', i.v->>'url', i.v->>'path', i.v->>'type',
           i.v->>'content', (i.v->>'streamable')::boolean
    FROM jsonb_array_elements(coalesce(doc->'inputs', '[]'::jsonb)) WITH ORDINALITY AS i(v, n);

    INSERT INTO task_outputs (task_id, idx, name, description, url, path, path_prefix, type)
    SELECT tid, o.n - 1, o.v->>'name', o.v->>'description', o.v->>'url', o.v->>'path', o.v->>'path_prefix',
           o.v->>'type'
    FROM jsonb_array_elements(coalesce(doc->'outputs', '[]'::jsonb)) WITH ORDINALITY AS o(v, n);

    INSERT INTO task_executors (task_id, idx, image, command, workdir, stdin, stdout, stderr, env, ignore_error)
    SELECT tid, e.n - 1, e.v->>'image', ARRAY(SELECT jsonb_array_elements_text(e.v->'command')),
           e.v->>'workdir', e.v->>'stdin', e.v->>'stdout', e.v->>'stderr', e.v->'env',
           (e.v->>'ignore_error')::boolean
    FROM jsonb_array_elements(doc->'executors') WITH ORDINALITY AS e(v, n);

    INSERT INTO task_volumes (task_id, idx, path)
    SELECT tid, v.n - 1, v.p
    FROM jsonb_array_elements_text(coalesce(doc->'volumes', '[]'::jsonb)) WITH ORDINALITY AS v(p, n);

    UPDATE tasks SET request = task_request_json(tid) WHERE id = tid;
END
$$;
