-- The relational TES schema of design.md: one canonical row per task,
-- typed and ordered children, one task_logs row per attempt, executor and
-- output-file logs keyed so that a repeated write is a no-op.

CREATE TABLE tasks (
    id              text PRIMARY KEY,
    seq             bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    state           text NOT NULL CHECK (state IN (
                        'QUEUED', 'INITIALIZING', 'RUNNING', 'PAUSED', 'CANCELING',
                        'COMPLETE', 'EXECUTOR_ERROR', 'SYSTEM_ERROR', 'CANCELED', 'PREEMPTED')),
    name            text,
    description     text,
    resources       jsonb,
    tags            jsonb NOT NULL DEFAULT '{}'::jsonb,
    owner           text,
    creation_time   timestamptz NOT NULL DEFAULT clock_timestamp(),
    start_time      timestamptz,
    end_time        timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Newest first, optionally by state; name prefixes; tag containment.
CREATE INDEX tasks_state_seq ON tasks (state, seq DESC);
CREATE INDEX tasks_name_seq ON tasks (name text_pattern_ops, seq DESC);
CREATE INDEX tasks_tags ON tasks USING gin (tags);

CREATE TABLE task_inputs (
    task_id     text NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    idx         integer NOT NULL,
    name        text,
    description text,
    url         text,
    path        text NOT NULL,
    type        text,
    content     text,
    streamable  boolean,
    PRIMARY KEY (task_id, idx)
);

CREATE TABLE task_outputs (
    task_id     text NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    idx         integer NOT NULL,
    name        text,
    description text,
    url         text NOT NULL,
    path        text NOT NULL,
    path_prefix text,
    type        text,
    PRIMARY KEY (task_id, idx)
);

CREATE TABLE task_executors (
    task_id      text NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    idx          integer NOT NULL,
    image        text NOT NULL,
    command      text[] NOT NULL,
    workdir      text,
    stdin        text,
    stdout       text,
    stderr       text,
    env          jsonb,
    ignore_error boolean,
    PRIMARY KEY (task_id, idx)
);

CREATE TABLE task_volumes (
    task_id text NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    idx     integer NOT NULL,
    path    text NOT NULL,
    PRIMARY KEY (task_id, idx)
);

CREATE TABLE task_logs (
    task_id     text NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    attempt     integer NOT NULL,
    start_time  timestamptz,
    end_time    timestamptz,
    metadata    jsonb NOT NULL DEFAULT '{}'::jsonb,
    system_logs text[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (task_id, attempt)
);

CREATE TABLE executor_logs (
    task_id    text NOT NULL,
    attempt    integer NOT NULL,
    idx        integer NOT NULL,
    start_time timestamptz,
    end_time   timestamptz,
    stdout     text,
    stderr     text,
    exit_code  integer NOT NULL,
    PRIMARY KEY (task_id, attempt, idx),
    FOREIGN KEY (task_id, attempt) REFERENCES task_logs (task_id, attempt) ON DELETE CASCADE
);

CREATE TABLE output_file_logs (
    task_id    text NOT NULL,
    attempt    integer NOT NULL,
    idx        integer NOT NULL,
    url        text NOT NULL,
    path       text NOT NULL,
    size_bytes bigint NOT NULL,
    PRIMARY KEY (task_id, attempt, idx),
    FOREIGN KEY (task_id, attempt) REFERENCES task_logs (task_id, attempt) ON DELETE CASCADE
);
