"""Stored tasks by SQL, the rows CreateTask writes for tesload's task body: for bench/tes_api.py and bench/scale_api.py.

Task ``g`` (0, 1, 2, ...) has the id ``md5('seed-' || g)`` as a UUID and is
tesload's body number ``g`` (bench/tesload/main.go ``taskBody``): name
``job-NN-g``, a description, resources, three tags, one input, one output and
two executors with env, QUEUED. So ``name_prefix=job-42-`` and the tag
``project=proj-42`` each match 1% of the tasks, as they do for tasks created
through the API.

Where the schema has the ``request`` document (migration 0004), the INSERT
writes it in the same statement, built by one expression per row instead of
``task_request_json(id)`` (four sub-selects per task); ``check_request``
compares a sample of rows with what ``task_request_json`` makes, so a change
of the schema or the function shows up as an error instead of a wrong
benchmark.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import psycopg

#: The tasks row; ``{request}`` is either the document's expression with a leading comma or nothing.
TASKS_SQL = """
INSERT INTO tasks (id, state, name, description, resources, tags{request_col})
SELECT md5('seed-' || g)::uuid::text, 'QUEUED', format('job-%%s-%%s', lpad((g %% 100)::text, 2, '0'), g),
       'benchmark task ' || g, '{{"cpu_cores": 2, "ram_gb": 4.0, "disk_gb": 20.0, "preemptible": false}}',
       jsonb_build_object('project', 'proj-' || lpad((g %% 100)::text, 2, '0'), 'owner', 'user-' || (g %% 7),
                          'sample', 'sample-' || g){request}
FROM generate_series(%(first)s::bigint, %(last)s::bigint) g ORDER BY g"""

#: What ``task_request_json`` returns for task g, written out for this one shape (nulls left out as it does);
#: put into TASKS_SQL as a value of str.format, so its braces are single.
REQUEST_SQL = """,
       jsonb_build_object(
         'name', format('job-%%s-%%s', lpad((g %% 100)::text, 2, '0'), g),
         'description', 'benchmark task ' || g,
         'resources', '{"cpu_cores": 2, "ram_gb": 4.0, "disk_gb": 20.0, "preemptible": false}'::jsonb,
         'tags', jsonb_build_object('project', 'proj-' || lpad((g %% 100)::text, 2, '0'), 'owner', 'user-' || (g %% 7),
                                    'sample', 'sample-' || g),
         'inputs', jsonb_build_array(jsonb_build_object(
             'name', 'reads', 'url', format('s3://bench-bucket/inputs/sample-%%s.fastq.gz', g),
             'path', '/data/in/sample.fastq.gz', 'type', 'FILE')),
         'outputs', jsonb_build_array(jsonb_build_object(
             'name', 'result', 'url', format('s3://bench-bucket/outputs/%%s/count.txt', g),
             'path', '/data/out/count.txt', 'type', 'FILE')),
         'executors', jsonb_build_array(
             jsonb_build_object('image', 'ubuntu:22.04',
                 'command', '["bash", "-c", "zcat /data/in/sample.fastq.gz | wc -l > /data/out/count.txt"]'::jsonb,
                 'workdir', '/data', 'env', jsonb_build_object('SAMPLE', 'sample-' || g, 'THREADS', '2')),
             jsonb_build_object('image', 'quay.io/biocontainers/samtools:1.19--h50ea8bc_0',
                 'command', '["samtools", "--version"]'::jsonb,
                 'env', jsonb_build_object('SAMPLE', 'sample-' || g, 'LC_ALL', 'C'))))"""

CHILDREN_SQL = [
    """INSERT INTO task_inputs (task_id, idx, name, url, path, type)
       SELECT md5('seed-' || g)::uuid::text, 0, 'reads', format('s3://bench-bucket/inputs/sample-%%s.fastq.gz', g),
              '/data/in/sample.fastq.gz', 'FILE' FROM generate_series(%(first)s::bigint, %(last)s::bigint) g""",
    """INSERT INTO task_outputs (task_id, idx, name, url, path, type)
       SELECT md5('seed-' || g)::uuid::text, 0, 'result', format('s3://bench-bucket/outputs/%%s/count.txt', g),
              '/data/out/count.txt', 'FILE' FROM generate_series(%(first)s::bigint, %(last)s::bigint) g""",
    """INSERT INTO task_executors (task_id, idx, image, command, workdir, env)
       SELECT md5('seed-' || g)::uuid::text, 0, 'ubuntu:22.04',
              ARRAY['bash', '-c', 'zcat /data/in/sample.fastq.gz | wc -l > /data/out/count.txt'], '/data',
              jsonb_build_object('SAMPLE', 'sample-' || g, 'THREADS', '2')
       FROM generate_series(%(first)s::bigint, %(last)s::bigint) g
       UNION ALL
       SELECT md5('seed-' || g)::uuid::text, 1, 'quay.io/biocontainers/samtools:1.19--h50ea8bc_0',
              ARRAY['samtools', '--version'], NULL, jsonb_build_object('SAMPLE', 'sample-' || g, 'LC_ALL', 'C')
       FROM generate_series(%(first)s::bigint, %(last)s::bigint) g""",
]


def has_request(conn: psycopg.Connection) -> bool:
    """Whether this schema keeps the request document (migration 0004): the column and its function."""
    column = conn.execute("SELECT 1 FROM information_schema.columns"
                          " WHERE table_name = 'tasks' AND column_name = 'request'").fetchone()
    function = conn.execute("SELECT to_regproc('task_request_json')").fetchone()[0]
    return bool(column and function)


def insert_range(conn: psycopg.Connection, first: int, last: int, *, request: bool) -> None:
    """Tasks ``first`` to ``last`` inclusive, with their children, in the caller's transaction."""
    conn.execute(TASKS_SQL.format(request_col=", request" if request else "", request=REQUEST_SQL if request else ""),
                 {"first": first, "last": last})
    for sql in CHILDREN_SQL:
        conn.execute(sql, {"first": first, "last": last})


def check_request(conn: psycopg.Connection, first: int, last: int, sample: int = 200) -> None:
    """Raise when a seeded request document differs from ``task_request_json`` on a sample of ``first``..``last``."""
    step = max(1, (last - first + 1) // sample)
    bad = conn.execute(
        "SELECT t.id, t.request, task_request_json(t.id) FROM generate_series(%(first)s::bigint, %(last)s::bigint,"
        " %(step)s::bigint) g JOIN tasks t ON t.id = md5('seed-' || g)::uuid::text"
        " WHERE t.request IS DISTINCT FROM task_request_json(t.id) LIMIT 1",
        {"first": first, "last": last, "step": step}).fetchone()
    if bad:
        raise SystemExit(f"seeded request of {bad[0]} differs from task_request_json:\n  seeded   {bad[1]}\n"
                         f"  function {bad[2]}\nbench/seeding.py REQUEST_SQL no longer matches the schema")


def seed(url: str, first: int, count: int, *, batch: int = 20_000, fast: bool = False,
         progress: Callable[[str], None] | None = None) -> float:
    """Tasks ``first`` .. ``first + count - 1``, committed batch by batch; returns the seconds it took.

    ``fast`` is for millions of rows: the secondary indexes (not the keys) are
    dropped and built again once at the end, the foreign-key triggers are off
    for the session (the rows are right by construction) and commits do not
    wait for the WAL flush. It needs a superuser, which the embedded
    PostgreSQL's ``postgres`` is.
    """
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        request = has_request(conn)
        indexes: list[str] = []
        if fast:
            conn.execute("SET synchronous_commit = off")
            conn.execute("SET session_replication_role = replica")
            conn.execute("SET maintenance_work_mem = '512MB'")
            secondary = conn.execute(
                "SELECT i.indexname, i.indexdef FROM pg_indexes i JOIN pg_class c ON c.relname = i.indexname"
                " WHERE i.schemaname = 'public' AND NOT EXISTS"
                " (SELECT 1 FROM pg_constraint k WHERE k.conindid = c.oid)"
                " AND i.tablename IN ('tasks', 'task_inputs', 'task_outputs', 'task_executors')").fetchall()
            for name, definition in secondary:
                conn.execute(f'DROP INDEX "{name}"')
                indexes.append(definition)
        try:
            end = first + count
            for low in range(first, end, batch):
                high = min(end, low + batch) - 1
                with conn.transaction():
                    insert_range(conn, low, high, request=request)
                if progress and (high + 1 - first) % (batch * 10) == 0:
                    rate = (high + 1 - first) / (time.perf_counter() - started)
                    progress(f"  {high + 1 - first:,} of {count:,} seeded ({rate:,.0f} tasks/s)")
        finally:
            if indexes:
                built = time.perf_counter()
                for definition in indexes:
                    conn.execute(definition)
                if progress:
                    progress(f"  {len(indexes)} secondary indexes built in {time.perf_counter() - built:.1f} s")
        if request and count:
            check_request(conn, first, first + count - 1)
        conn.execute("VACUUM ANALYZE")
    return time.perf_counter() - started


def write_ids(url: str, path: Path, limit: int | None = None) -> int:
    """The stored tasks' ids, one a line (at most ``limit``, spread over the whole table); returns how many."""
    with psycopg.connect(url) as conn:
        total = conn.execute("SELECT count(*) FROM tasks").fetchone()[0]
        if limit and total > limit:
            rows = conn.execute("SELECT id FROM tasks WHERE seq %% %(k)s = 0", {"k": total // limit}).fetchall()
        else:
            rows = conn.execute("SELECT id FROM tasks").fetchall()
    path.write_text("".join(f"{row[0]}\n" for row in rows))
    return len(rows)
