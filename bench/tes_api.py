"""TES request-path throughput of real ``poiesis api`` servers with 100,000 tasks stored: one command.

Not a test: it prints numbers and writes them as JSON. For each server under
test (default: this checkout, run by this Python) it starts a fresh embedded
PostgreSQL (pgserver), seeds it by SQL with tasks of the load generator's
shape, starts ``poiesis api --workers 2`` on 127.0.0.1 and drives it with
tesload (bench/tesload, Go, built once into ~/.cache/poiesis/bench) for every
measure of issue 14 at each concurrency. Rounds interleave the servers
measure by measure, so a before/after comparison sees the same machine load.

    python bench/tes_api.py                          # this checkout, 1 round, ~4 min
    python bench/tes_api.py --rounds 3 \\
        --server before=/work/main/.venv/bin/python@/tmp/main-checkout \\
        --server after=.venv/bin/python              # interleaved before/after, medians

``--server LABEL=PYTHON[@SRCDIR][%WORKERS]`` runs ``PYTHON -m poiesis.cli api``
in SRCDIR (another checkout of Poiesis; it goes first on sys.path), with
WORKERS worker processes (default ``--workers``). Each row runs for
``--seconds`` (tesload's time bound); the table gives the median over rounds
of req/s and p99, and the load average when the row ran.

Seeding by SQL takes seconds where seeding through the API at c=64 (the
issue's method) takes minutes per server; the rows are the same as
CreateTask writes for tesload's body (name, description, resources, three
tags, one input, one output, two executors with env), all QUEUED.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pgserver
import psycopg
from common import build_tesload, free_port, machine

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BASE = "/ga4gh/tes/v1"
PROBE = "import importlib.metadata as m, sys, poiesis; print(sys.version.split()[0], poiesis.__file__)"
PACKAGES = ("connexion", "flask", "starlette", "a2wsgi", "uvicorn", "uvloop", "httptools", "h11",
            "psycopg", "psycopg-pool", "pydantic", "jsonschema", "orjson")

#: (name, tesload arguments); the filtered lists match 1% of the seeded tasks.
MEASURES = [
    ("CreateTask", ["-op", "create"]),
    ("GetTask MINIMAL", ["-op", "get", "-view", "MINIMAL"]),
    ("GetTask FULL", ["-op", "get", "-view", "FULL"]),
    ("ListTasks MINIMAL 256", ["-op", "list", "-query", "view=MINIMAL&page_size=256"]),
    ("ListTasks BASIC 256", ["-op", "list", "-query", "view=BASIC&page_size=256"]),
    ("ListTasks state+tag 64", ["-op", "list", "-query", "state=QUEUED&tag_key=project&tag_value=proj-42&page_size=64"]),
    ("ListTasks name_prefix 64", ["-op", "list", "-query", "name_prefix=job-42-&page_size=64"]),
]

SEED_SQL = [
    """INSERT INTO tasks (id, state, name, description, resources, tags)
       SELECT md5('seed-' || g)::uuid::text, 'QUEUED', format('job-%%s-%%s', lpad((g %% 100)::text, 2, '0'), g),
              'benchmark task ' || g, '{"cpu_cores": 2, "ram_gb": 4.0, "disk_gb": 20.0, "preemptible": false}',
              jsonb_build_object('project', 'proj-' || lpad((g %% 100)::text, 2, '0'), 'owner', 'user-' || (g %% 7),
                                 'sample', 'sample-' || g)
       FROM generate_series(%(first)s::int, %(last)s::int) g ORDER BY g""",
    """INSERT INTO task_inputs (task_id, idx, name, url, path, type)
       SELECT md5('seed-' || g)::uuid::text, 0, 'reads', format('s3://bench-bucket/inputs/sample-%%s.fastq.gz', g),
              '/data/in/sample.fastq.gz', 'FILE' FROM generate_series(%(first)s::int, %(last)s::int) g""",
    """INSERT INTO task_outputs (task_id, idx, name, url, path, type)
       SELECT md5('seed-' || g)::uuid::text, 0, 'result', format('s3://bench-bucket/outputs/%%s/count.txt', g),
              '/data/out/count.txt', 'FILE' FROM generate_series(%(first)s::int, %(last)s::int) g""",
    """INSERT INTO task_executors (task_id, idx, image, command, workdir, env)
       SELECT md5('seed-' || g)::uuid::text, 0, 'ubuntu:22.04',
              ARRAY['bash', '-c', 'zcat /data/in/sample.fastq.gz | wc -l > /data/out/count.txt'], '/data',
              jsonb_build_object('SAMPLE', 'sample-' || g, 'THREADS', '2') FROM generate_series(%(first)s::int, %(last)s::int) g
       UNION ALL
       SELECT md5('seed-' || g)::uuid::text, 1, 'quay.io/biocontainers/samtools:1.19--h50ea8bc_0',
              ARRAY['samtools', '--version'], NULL, jsonb_build_object('SAMPLE', 'sample-' || g, 'LC_ALL', 'C')
       FROM generate_series(%(first)s::int, %(last)s::int) g""",
]


@dataclass
class Server:
    """One server under test: how to run it, and once started its database, port and process."""

    label: str
    python: str
    srcdir: str | None = None
    workers: int | None = None  # None: --workers
    url: str = ""
    port: int = 0
    process: subprocess.Popen | None = None
    pg: object = None
    versions: dict[str, str] = field(default_factory=dict)

    @property
    def cwd(self) -> str:
        """Where its processes start: the checkout itself, which ``-m`` and ``-c`` put first on sys.path."""
        return self.srcdir or str(ROOT)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}{BASE}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("POIESIS_")}
        env.update(POIESIS_DATABASE_URL=self.url, POIESIS_PORT=str(self.port), POIESIS_HOST="127.0.0.1")
        if self.srcdir:
            env["PYTHONPATH"] = self.srcdir
        return env


def parse_server(text: str) -> Server:
    label, _, rest = text.partition("=")
    rest, _, workers = rest.partition("%")
    python, _, srcdir = rest.partition("@")
    if not label or not python or (workers and not workers.isdigit()):
        raise SystemExit(f"--server wants LABEL=PYTHON[@SRCDIR][%WORKERS], got {text!r}")
    return Server(label=label, python=python, srcdir=os.path.abspath(srcdir) if srcdir else None,
                  workers=int(workers) if workers else None)


def seed(url: str, count: int, ids_file: Path) -> None:
    """``count`` QUEUED tasks of tesload's shape, in batches; their ids into ``ids_file``."""
    batch = 20_000
    with psycopg.connect(url, autocommit=True) as conn:
        for first in range(0, count, batch):
            span = {"first": first, "last": min(count, first + batch) - 1}
            with conn.transaction():
                for sql in SEED_SQL:
                    conn.execute(sql, span)
                if conn.execute("SELECT to_regproc('task_request_json')").fetchone()[0]:
                    # servers with migration 0004 read the request document CreateTask writes
                    conn.execute("UPDATE tasks SET request = task_request_json(id)"
                                 " WHERE request = '{}' AND seq > %(first)s", span)
        conn.execute("VACUUM ANALYZE")
        ids = [row[0] for row in conn.execute("SELECT id FROM tasks")]
    ids_file.write_text("\n".join(ids) + "\n")


def wait_ready(server: Server, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if server.process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"{server.label}: poiesis api did not become ready")
        time.sleep(0.3)


def start(server: Server, *, workers: int, tasks: int, work: Path) -> None:
    """A fresh database for ``server``, seeded, migrated by its own code, and the API on a free port."""
    server.workers = server.workers or workers
    data = work / server.label
    data.mkdir(parents=True)
    server.pg = pgserver.get_server(data / "pg", cleanup_mode="stop")
    server.url = server.pg.get_uri()
    server.port = free_port()
    subprocess.run([server.python, "-m", "poiesis.cli", "migrate"], env=server.env(), cwd=server.cwd, check=True,
                   stdout=subprocess.DEVNULL)
    started = time.perf_counter()
    seed(server.url, tasks, data / "ids.txt")
    print(f"{server.label}: seeded {tasks} tasks by SQL in {time.perf_counter() - started:.1f} s", flush=True)
    log = (data / "api.log").open("wb")
    server.process = subprocess.Popen(
        [server.python, "-m", "poiesis.cli", "api", "--workers", str(server.workers)],
        env=server.env(), cwd=server.cwd, stdout=log, stderr=subprocess.STDOUT,
    )
    wait_ready(server)
    server.versions = versions(server)


def stop(server: Server) -> None:
    if server.process is not None and server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.process.kill()
    if server.pg is not None:
        server.pg.cleanup()


def versions(server: Server) -> dict[str, str]:
    """Python, PostgreSQL and the serving packages as the server's interpreter sees them."""
    script = PROBE + "\n" + "\n".join(
        f"try: print({name!r}, m.version({name!r}))\nexcept Exception: print({name!r}, '-')" for name in PACKAGES
    )
    out = subprocess.run([server.python, "-c", script], env=server.env(), cwd=server.cwd, capture_output=True, text=True,
                         check=True).stdout.splitlines()
    python, poiesis_file = out[0].split(" ", 1)
    found = {"python": python, "poiesis": poiesis_file}
    found.update(line.split(" ", 1) for line in out[1:])
    with psycopg.connect(server.url) as conn:
        found["postgresql"] = conn.execute("SHOW server_version").fetchone()[0]
    return found


def run_tesload(binary: Path, server: Server, args: list[str], *, c: int, seconds: float, ids: Path,
                start_index: int) -> dict:
    command = [str(binary), "-base", server.base, "-c", str(c), "-n", "100000000", "-max-s", str(seconds),
               "-ids", str(ids), "-start", str(start_index), *args]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    result["load_avg"] = os.getloadavg()[0]
    return result


def warm_up(binary: Path, servers: list[Server], work: Path, *, tasks: int) -> None:
    """Every operation briefly on every server and worker, so that no row pays for first-request work."""
    for server in servers:
        for _, args in MEASURES:
            run_tesload(binary, server, args, c=8, seconds=0.5, ids=work / server.label / "ids.txt",
                        start_index=tasks + 50_000_000)


def measure(binary: Path, servers: list[Server], opts: argparse.Namespace, work: Path) -> list[dict]:
    """Every measure at every concurrency, each round visiting the servers in turn (order alternating)."""
    rows = []
    created = 0
    for round_ in range(opts.rounds):
        for name, args in MEASURES:
            for c in opts.concurrency:
                order = servers if round_ % 2 == 0 else servers[::-1]
                for server in order:
                    result = run_tesload(binary, server, args, c=c, seconds=opts.seconds,
                                         ids=work / server.label / "ids.txt", start_index=opts.tasks + created)
                    created += int(result["n"]) if args[1] == "create" else 0
                    if result["errors"]:
                        print(f"  {server.label} {name} c={c}: {result['errors']} errors, first:"
                              f" {result.get('first_error')}", flush=True)
                    rows.append({"server": server.label, "measure": name, "c": c, "round": round_, **result})
                    print(f"  round {round_ + 1} {server.label:>8} {name:<26} c={c:<3} {result['rps']:8.0f} req/s"
                          f"  p99 {result['p99_ms']:7.1f} ms  load {result['load_avg']:.1f}", flush=True)
    return rows


def summary(rows: list[dict], servers: list[Server], concurrency: list[int]) -> list[dict]:
    """Median req/s and p99 over rounds per (measure, c, server), with the mean load average."""
    table = []
    for name, _ in MEASURES:
        for c in concurrency:
            for server in servers:
                mine = [r for r in rows if r["measure"] == name and r["c"] == c and r["server"] == server.label]
                table.append({
                    "measure": name, "c": c, "server": server.label,
                    "rps": statistics.median(r["rps"] for r in mine),
                    "p99_ms": statistics.median(r["p99_ms"] for r in mine),
                    "load_avg": round(statistics.mean(r["load_avg"] for r in mine), 2),
                    "errors": sum(r["errors"] for r in mine),
                })
    return table


def print_table(table: list[dict], servers: list[Server]) -> None:
    labels = [s.label for s in servers]
    head = f"{'measure':<26} {'c':>3} " + " ".join(f"{lab + ' req/s':>14} {'p99 ms':>8} {'load':>5}" for lab in labels)
    print(head)
    print("-" * len(head))
    for i in range(0, len(table), len(labels)):
        group = table[i:i + len(labels)]
        cells = " ".join(f"{r['rps']:14.0f} {r['p99_ms']:8.1f} {r['load_avg']:5.1f}" for r in group)
        print(f"{group[0]['measure']:<26} {group[0]['c']:>3} {cells}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", action="append", type=parse_server,
                        help="LABEL=PYTHON[@SRCDIR][%%WORKERS] (repeatable)")
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8, 64])
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each row (tesload -max-s)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--json", type=Path, help="default bench/results/tes_api-<UTC time>.json")
    opts = parser.parse_args()
    servers = opts.server or [Server(label="this", python=sys.executable, srcdir=str(ROOT))]
    binary = build_tesload()
    info = machine()
    print(f"machine: {info['cores']} cores, {info['cpu']}, load {info['load_avg']}, kernel {info['kernel']}", flush=True)
    with tempfile.TemporaryDirectory(prefix="poiesis-tes-api-") as tmp:
        work = Path(tmp)
        try:
            for server in servers:
                start(server, workers=opts.workers, tasks=opts.tasks, work=work)
                print(f"{server.label}: " + ", ".join(f"{k} {v}" for k, v in server.versions.items()), flush=True)
            warm_up(binary, servers, work, tasks=opts.tasks)
            rows = measure(binary, servers, opts, work)
        finally:
            for server in servers:
                stop(server)
    table = summary(rows, servers, opts.concurrency)
    workers = ", ".join(f"{s.label} {s.workers}" for s in servers)
    print(f"\n{opts.tasks} tasks stored, API workers: {workers}; {opts.seconds:g} s a row, "
          f"median of {opts.rounds} round(s); load average at the end {os.getloadavg()}")
    print_table(table, servers)
    path = opts.json or HERE / "results" / f"tes_api-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "machine": info, "method": {k: v for k, v in vars(opts).items() if k not in ("server", "json")},
        "servers": {s.label: {"python": s.python, "srcdir": s.srcdir, "workers": s.workers, "versions": s.versions}
                    for s in servers},
        "table": table, "rows": rows,
    }, indent=1, default=str))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
