"""How the cost of ``poiesis api`` grows with the tasks stored: 100,000, 1,000,000 and 10,000,000.

Not a test: it prints a table and writes JSON. One embedded PostgreSQL
(pgserver) is migrated by this checkout and seeded by SQL incrementally
(bench/seeding.py, tesload's task body, the rows CreateTask writes): seed to
the first step, measure, top up to the next, measure, and so on. At each step
``poiesis api --workers 2`` is started afresh on 127.0.0.1, warmed up, and
driven by tesload (bench/tesload) at c=8 for ``--seconds`` a measure: GetTask
MINIMAL and FULL on random stored ids, CreateTask, and the filtered ListTasks
(``state=QUEUED&tag_key=project&tag_value=proj-42`` and
``name_prefix=job-42-``, page_size 64, each matching 1% of the tasks). Then
the API's memory (VmRSS of the server and its workers) and PostgreSQL's size
(``pg_database_size``, and the tasks tables') are recorded, and the API is
stopped before the next top-up.

    python bench/scale_api.py                                  # 100k, 1M, 10M: ~30 min of seeding on 2 cores
    python bench/scale_api.py --steps 100000,1000000 --seconds 5

Seeding millions of rows drops the secondary indexes and builds them again
once per step, with the foreign-key triggers off for the seeding session
(bench/seeding.py ``fast``); the time each step took is in the JSON. On a
2-core VM with a load average of 8-11, 100,000 -> 1,000,000 took 123 s and
1,000,000 -> 2,000,000 took 129 s (9,000-11,000 tasks/s inserting, 11-17 s
building the indexes): linear so far, so the top-up to 10,000,000 takes
roughly 20-25 minutes. The database takes about 2.7 GB a
million tasks (about 27 GB at 10,000,000) under the temporary directory
(TMPDIR).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pgserver
import psycopg
from common import build_tesload, free_port, machine
from seeding import seed, write_ids
from tes_api import Server, run_tesload, stop, stop_process, tree_rss_kib, versions, wait_ready

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
#: GetTask draws from at most this many stored ids (spread over the table), so tesload's id file stays small.
MAX_IDS = 1_000_000

MEASURES = [
    ("GetTask MINIMAL", ["-op", "get", "-view", "MINIMAL"]),
    ("GetTask FULL", ["-op", "get", "-view", "FULL"]),
    ("CreateTask", ["-op", "create"]),
    ("ListTasks state+tag 64", ["-op", "list", "-query", "state=QUEUED&tag_key=project&tag_value=proj-42&page_size=64"]),
    ("ListTasks name_prefix 64", ["-op", "list", "-query", "name_prefix=job-42-&page_size=64"]),
]


def steps_arg(text: str) -> list[int]:
    steps = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    if not steps or steps != sorted(set(steps)) or steps[0] <= 0:
        raise argparse.ArgumentTypeError("--steps wants increasing task counts, e.g. 100000,1000000,10000000")
    return steps


def sizes(url: str) -> dict[str, object]:
    """Tasks in the table, pg_database_size, and the size of each task table with its indexes (MiB)."""
    with psycopg.connect(url) as conn:
        tasks, database = conn.execute("SELECT count(*), pg_database_size(current_database()) FROM tasks").fetchone()
        tables = dict(conn.execute(
            "SELECT relname, round(pg_total_relation_size(oid) / 1048576.0, 1)::float FROM pg_class"
            " WHERE relkind = 'r' AND relname IN ('tasks', 'task_inputs', 'task_outputs', 'task_executors')"
            " ORDER BY relname").fetchall())
    return {"tasks_in_table": tasks, "database_mib": round(database / 2**20, 1), "tables_mib": tables}


def start_api(server: Server, work: Path, step: int) -> None:
    server.port = free_port()
    log = (work / f"api-{step}.log").open("wb")
    server.process = subprocess.Popen(
        [server.python, "-m", "poiesis.cli", "api", "--workers", str(server.workers)],
        env=server.env(), cwd=server.cwd, stdout=log, stderr=subprocess.STDOUT,
    )
    wait_ready(server, "/readyz")


def stop_api(server: Server) -> None:
    stop_process(server)
    server.process = None


def print_table(steps: list[dict]) -> None:
    head = ["measure"]
    for s in steps:
        head += [f"{s['stored']:,} req/s", f"{s['stored']:,} p99 ms"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for name, _ in MEASURES:
        cells = []
        for s in steps:
            r = s["measures"][name]
            mark = f" ({r['errors']} errors)" if r["errors"] else ""
            cells += [f"{r['rps']:,.0f}{mark}", f"{r['p99_ms']:,.1f}"]
        print(f"| {name} | " + " | ".join(cells) + " |")
    for label, cell in [("seeding this step, s", lambda s: f"{s['seed_s']:,.1f}"),
                        ("PostgreSQL MiB", lambda s: f"{s['sizes']['database_mib']:,.0f}"),
                        ("API RSS MiB (after)", lambda s: f"{s['api_rss_mib']:,.0f}"),
                        ("load average", lambda s: f"{s['load_avg']:.1f}")]:
        print(f"| {label} | " + " | ".join(f"{cell(s)} | " for s in steps) + "|")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=steps_arg, default=[100_000, 1_000_000, 10_000_000],
                        help="task counts to measure at, increasing (default 100000,1000000,10000000)")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each measure (tesload -max-s)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--python", default=sys.executable, help="the interpreter that runs poiesis (default: this one)")
    parser.add_argument("--srcdir", default=str(ROOT), help="the Poiesis checkout to run (default: this one)")
    parser.add_argument("--json", type=Path, help="default bench/results/scale_api-<UTC time>-<steps>.json")
    opts = parser.parse_args()
    binary = build_tesload()
    info = machine()
    print(f"machine: {info['cores']} cores, {info['cpu']}, load {info['load_avg']}, kernel {info['kernel']}", flush=True)
    server = Server(label="poiesis", python=opts.python, srcdir=os.path.abspath(opts.srcdir), workers=opts.workers)
    results: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="poiesis-scale-api-") as tmp:
        work = Path(tmp)
        try:
            server.pg = pgserver.get_server(work / "pg", cleanup_mode="stop")
            server.url = server.pg.get_uri()
            subprocess.run([server.python, "-m", "poiesis.cli", "migrate"], env=server.env(), cwd=server.cwd,
                           check=True, stdout=subprocess.DEVNULL)
            seeded = 0
            created = 0
            for step in opts.steps:
                print(f"seeding {seeded:,} -> {step:,} tasks ...", flush=True)
                seconds = seed(server.url, seeded, step - seeded, batch=50_000, fast=True,
                               progress=lambda line: print(line, flush=True))
                print(f"seeded {step - seeded:,} tasks in {seconds:.1f} s", flush=True)
                seeded = step
                ids = work / "ids.txt"
                write_ids(server.url, ids, limit=MAX_IDS)
                start_api(server, work, step)
                if not server.versions:
                    server.versions = versions(server)
                try:
                    for _, args in MEASURES:  # warm-up: no measure pays for first-request work
                        run_tesload(binary, server, args, c=opts.concurrency, seconds=0.5, ids=ids,
                                    start_index=200_000_000 + created)
                    measured = {}
                    for name, args in MEASURES:
                        result = run_tesload(binary, server, args, c=opts.concurrency, seconds=opts.seconds,
                                             ids=ids, start_index=100_000_000 + created)
                        created += int(result["n"]) if args[1] == "create" else 0
                        measured[name] = result
                        print(f"  {step:>11,} {name:<26} {result['rps']:8.0f} req/s  p99 {result['p99_ms']:7.1f} ms"
                              f"  load {result['load_avg']:.1f}" + (f"  {result['errors']} errors, first:"
                                                                     f" {result.get('first_error')}"
                                                                     if result["errors"] else ""), flush=True)
                    rss = tree_rss_kib(server.process.pid) / 1024
                finally:
                    stop_api(server)
                results.append({"stored": step, "seed_s": round(seconds, 1), "sizes": sizes(server.url),
                                "api_rss_mib": round(rss, 1), "load_avg": os.getloadavg()[0], "measures": measured})
        finally:
            stop(server)
    print(f"\n{opts.workers} API workers, c={opts.concurrency}, {opts.seconds:g} s a measure; "
          f"load average at the end {os.getloadavg()}\n")
    print_table(results)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%MZ")
    path = opts.json or HERE / "results" / f"scale_api-{stamp}-{'-'.join(str(s) for s in opts.steps)}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "machine": info, "method": {k: v for k, v in vars(opts).items() if k != "json"},
        "server": {"python": server.python, "srcdir": server.srcdir, "workers": server.workers,
                   "versions": server.versions},
        "steps": results,
    }, indent=1, default=str))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
