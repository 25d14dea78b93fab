"""TES request-path throughput of ``poiesis api`` beside Funnel (BoltDB and PostgreSQL), 100,000 tasks stored.

Not a test: it prints numbers and writes them as JSON. The method is issue
14's: N tasks stored (default 100,000); every measure at c=8 and c=64; 3
rounds that interleave the servers measure by measure (the order alternating
from round to round), so every server sees the same machine load; the table
gives the median over rounds of req/s and of p99, and the load average while
the row ran.

    python bench/tes_api.py --funnel ~/.cache/poiesis/funnel/funnel-2026-05-04.1
        # this checkout, Funnel on BoltDB, Funnel on PostgreSQL; 3 rounds; ~30 min on 2 cores
    python bench/tes_api.py --funnel PATH \\
        --server before=/work/main/.venv/bin/python@/tmp/main-checkout \\
        --server after=.venv/bin/python              # before/after of two checkouts, and the two Funnels
    python bench/tes_api.py --rounds 1               # no Funnel (no --funnel, no FUNNEL_BIN): Poiesis only

Poiesis. ``--server LABEL=PYTHON[@SRCDIR][%WORKERS]`` runs ``PYTHON -m
poiesis.cli api`` in SRCDIR (another checkout of Poiesis; it goes first on
sys.path) with WORKERS worker processes (default ``--workers``, 2). Each one
gets a fresh embedded PostgreSQL (pgserver), migrated by its own code and
seeded **by SQL** (bench/seeding.py) with the rows CreateTask writes for
tesload's task body: seconds, where seeding through the API takes minutes.

Funnel. With ``--funnel PATH`` (or the environment's FUNNEL_BIN: a Funnel
binary, e.g. tag 2026-05-04.1 built with ``CGO_ENABLED=0 go build``) two more
servers run beside: ``funnel-bolt`` (``Database: boltdb``) and ``funnel-pg``
(``Database: postgres``, its own database on a PostgreSQL server started
from pgserver's binaries on 127.0.0.1, since Funnel speaks TCP; as the
``pgserver`` user when this runs as root, as pgserver itself does), both with
``Compute: noop`` so that tasks stay QUEUED. Funnel cannot be seeded by SQL:
it is seeded through its own API by tesload at c=64 with the same task body
(the time it took goes to the JSON), and its GetTask rows draw from the ids
it returned. Where a server answers no request of a row (Funnel on PostgreSQL
panics on every MINIMAL view in that tag), the cell says "fails".

Load: tesload (bench/tesload, Go, built once into ~/.cache/poiesis/bench),
``--seconds`` a row (its time bound). After the rounds each server's memory
(VmRSS of the server process and its children) and its store's size
(``pg_database_size``, or the BoltDB file) are recorded. The JSON goes to
bench/results/tes_api-<UTC time>-<labels>.json; the table is printed as
markdown, with the ratios of each Poiesis server to Funnel-Bolt and Funnel-PG.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
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
from seeding import seed, write_ids

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BASE = "/ga4gh/tes/v1"
PG_BIN = Path(pgserver.__file__).resolve().parent / "pginstall" / "bin"
PROBE = "import importlib.metadata as m, sys, poiesis; print(sys.version.split()[0], poiesis.__file__)"
PACKAGES = ("connexion", "flask", "starlette", "a2wsgi", "uvicorn", "uvloop", "httptools", "h11",
            "psycopg", "psycopg-pool", "pydantic", "jsonschema", "orjson")
POIESIS, FUNNEL_BOLT, FUNNEL_PG = "poiesis", "funnel-bolt", "funnel-pg"

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


class LocalPostgres:
    """A PostgreSQL server of pgserver's binaries on 127.0.0.1:port, for a client that speaks TCP only (Funnel).

    pgserver listens on a Unix socket only. This one is initialised and run
    with the same binaries and defaults (trust authentication, UTF-8, user
    ``postgres``), as the ``pgserver`` user when this process is root
    (PostgreSQL refuses to run as root).
    """

    def __init__(self, data: Path) -> None:
        self.data = data
        self.port = 0
        self.started = False
        self.asuser = ["runuser", "-u", "pgserver", "--"] if os.geteuid() == 0 else []

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        self.data.mkdir(parents=True)
        if self.asuser:
            shutil.chown(self.data, "pgserver", "pgserver")
        subprocess.run([*self.asuser, PG_BIN / "initdb", "-D", self.data, "-U", "postgres", "--auth=trust",
                        "--encoding=utf8"], check=True, capture_output=True)
        self.port = free_port()
        self.started = True
        subprocess.run([*self.asuser, PG_BIN / "pg_ctl", "-w", "-D", self.data, "-l", self.data / "server.log",
                        "-o", f"-h 127.0.0.1 -p {self.port} -k {self.data}", "start"],
                       check=True, stdout=subprocess.DEVNULL)

    def stop(self) -> None:
        if self.started:
            subprocess.run([*self.asuser, PG_BIN / "pg_ctl", "-w", "-D", self.data, "-m", "fast", "stop"],
                           check=False, stdout=subprocess.DEVNULL)
            self.started = False


@dataclass
class Server:
    """One server under test: how to run it, and once started its database, port and process."""

    label: str
    python: str = ""  # Poiesis: its interpreter; Funnel: its binary
    srcdir: str | None = None
    workers: int | None = None  # None: --workers
    kind: str = POIESIS
    url: str = ""
    port: int = 0
    process: subprocess.Popen | None = None
    pg: object = None
    versions: dict[str, str] = field(default_factory=dict)
    seeding: dict[str, object] = field(default_factory=dict)
    resources: dict[str, object] = field(default_factory=dict)

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
    if label in (FUNNEL_BOLT, FUNNEL_PG):
        raise SystemExit(f"--server: {label} is the label of a Funnel server; choose another")
    return Server(label=label, python=python, srcdir=os.path.abspath(srcdir) if srcdir else None,
                  workers=int(workers) if workers else None)


def wait_ready(server: Server, path: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{server.port}{path}", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if server.process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"{server.label}: the server did not become ready (its log is in the work directory)")
        time.sleep(0.3)


def start_poiesis(server: Server, *, workers: int, tasks: int, work: Path) -> None:
    """A fresh database for ``server``, migrated by its own code, seeded by SQL, and the API on a free port."""
    server.workers = server.workers or workers
    data = work / server.label
    data.mkdir(parents=True)
    server.pg = pgserver.get_server(data / "pg", cleanup_mode="stop")
    server.url = server.pg.get_uri()
    server.port = free_port()
    subprocess.run([server.python, "-m", "poiesis.cli", "migrate"], env=server.env(), cwd=server.cwd, check=True,
                   stdout=subprocess.DEVNULL)
    seconds = seed(server.url, 0, tasks)
    write_ids(server.url, data / "ids.txt")
    server.seeding = {"how": "SQL (bench/seeding.py)", "tasks": tasks, "seconds": round(seconds, 1),
                      **store_size(server, work)}
    print(f"{server.label}: seeded {tasks} tasks by SQL in {seconds:.1f} s", flush=True)
    log = (data / "api.log").open("wb")
    server.process = subprocess.Popen(
        [server.python, "-m", "poiesis.cli", "api", "--workers", str(server.workers)],
        env=server.env(), cwd=server.cwd, stdout=log, stderr=subprocess.STDOUT,
    )
    wait_ready(server, "/readyz")
    server.versions = versions(server)


def funnel_config(server: Server, data: Path, rpc_port: int) -> Path:
    """Funnel's configuration: no compute, tasks and events in the one database, HTTP and RPC on 127.0.0.1."""
    database = "boltdb" if server.kind == FUNNEL_BOLT else "postgres"
    lines = [
        f"Database: {database}", "Compute: noop", "EventWriters:", f"  - {database}",
        "Logger:", "  Level: error", f"  OutputFile: {data / 'funnel.log'}",
        "Server:", "  HostName: 127.0.0.1", f'  HTTPPort: "{server.port}"', f'  RPCPort: "{rpc_port}"',
        "  DisableHTTPCache: true",
        "RPCClient:", f"  ServerAddress: 127.0.0.1:{rpc_port}",
        "BoltDB:", f"  Path: {data / 'funnel.db'}",
        "Worker:", f"  WorkDir: {data / 'work'}",
    ]
    if server.kind == FUNNEL_PG:
        # Funnel makes its role and database itself through the admin account (trust: any password does).
        lines += ["Postgres:", f"  Host: 127.0.0.1:{server.pg.port}", "  Database: funnel", "  User: funnel",
                  "  Password: funnel", "  AdminUser: postgres", "  AdminPassword: postgres"]
    path = data / "funnel.yml"
    path.write_text("\n".join(lines) + "\n")
    return path


def start_funnel(server: Server, *, tesload: Path, tasks: int, work: Path) -> None:
    """Funnel on a free port (with its PostgreSQL for funnel-pg), seeded through its API at c=64."""
    data = work / server.label
    data.mkdir(parents=True)
    if server.kind == FUNNEL_PG:
        server.pg = LocalPostgres(data / "pg")
        server.pg.start()
        server.url = server.pg.url("funnel")
    server.port = free_port()
    config = funnel_config(server, data, free_port())
    log = (data / "server.out").open("wb")
    server.process = subprocess.Popen([server.python, "server", "run", "--config", str(config)],
                                      cwd=data, stdout=log, stderr=subprocess.STDOUT)
    wait_ready(server, BASE + "/service-info")
    print(f"{server.label}: seeding {tasks} tasks through its API at c=64 ...", flush=True)
    started = time.perf_counter()
    out = subprocess.run([str(tesload), "-base", server.base, "-op", "create", "-c", "64", "-n", str(tasks),
                          "-start", "0", "-ids-out", str(data / "ids.txt"), "-max-s", "86400",
                          "-progress", "-label", server.label],
                         stdout=subprocess.PIPE, text=True, check=True).stdout
    seconds = time.perf_counter() - started
    result = json.loads(out.strip().splitlines()[-1])
    stored = sum(1 for line in (data / "ids.txt").open() if line.strip()) if (data / "ids.txt").exists() else 0
    server.seeding = {"how": "API, tesload -op create -c 64", "tasks": tasks, "seconds": round(seconds, 1),
                      "rps": round(result["rps"], 1), "p99_ms": result["p99_ms"], "errors": result["errors"],
                      "ids": stored, **store_size(server, work)}
    print(f"{server.label}: seeded {stored} tasks through its API in {seconds:.1f} s ({result['rps']:.0f} req/s,"
          f" p99 {result['p99_ms']:.1f} ms, {result['errors']} errors)", flush=True)
    if stored == 0:
        raise SystemExit(f"{server.label}: no task created; first error: {result.get('first_error')}")
    server.versions = funnel_versions(server)


def funnel_versions(server: Server) -> dict[str, str]:
    """The binary's path and digest (a build from source says no version of itself), and PostgreSQL's."""
    digest = hashlib.sha256()
    with open(server.python, "rb") as binary:
        for block in iter(lambda: binary.read(1 << 20), b""):
            digest.update(block)
    found = {"funnel": server.python, "sha256": digest.hexdigest()}
    if server.kind == FUNNEL_PG:
        with psycopg.connect(server.url) as conn:
            found["postgresql"] = conn.execute("SHOW server_version").fetchone()[0]
    return found


def stop_process(server: Server) -> None:
    """The server's process, if it runs: SIGTERM, then SIGKILL after 20 s."""
    if server.process is not None and server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


def stop(server: Server) -> None:
    """The server, then its database: each only if this run started it."""
    stop_process(server)
    if isinstance(server.pg, LocalPostgres):
        server.pg.stop()
    elif server.pg is not None:
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


def tree_rss_kib(pid: int) -> int:
    """VmRSS of ``pid`` and all its descendants, in KiB (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        todo.extend(children.get(current, []))
        try:
            status = Path(f"/proc/{current}/status").read_text().splitlines()
        except OSError:
            continue
        total += next((int(line.split()[1]) for line in status if line.startswith("VmRSS:")), 0)
    return total


def store_size(server: Server, work: Path) -> dict[str, object]:
    """The size of the server's store: pg_database_size (with the tasks in its table), or the BoltDB file."""
    if server.kind == FUNNEL_BOLT:
        store = work / server.label / "funnel.db"
        return {"store": "BoltDB file", "store_mib": round(store.stat().st_size / 2**20, 1)}
    with psycopg.connect(server.url) as conn:
        size, tasks = conn.execute("SELECT pg_database_size(current_database()),"
                                   " (SELECT count(*) FROM tasks)").fetchone()
    return {"store": "pg_database_size", "store_mib": round(size / 2**20, 1), "tasks_in_table": tasks}


def record_resources(server: Server, work: Path) -> None:
    """After the runs: the server's memory (with its worker processes) and its store's size."""
    server.resources = {"rss_mib": round(tree_rss_kib(server.process.pid) / 1024, 1), **store_size(server, work)}


def run_tesload(binary: Path, server: Server, args: list[str], *, c: int, seconds: float, ids: Path,
                start_index: int) -> dict:
    command = [str(binary), "-base", server.base, "-c", str(c), "-n", "100000000", "-max-s", str(seconds),
               "-ids", str(ids), "-start", str(start_index), *args]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    result["load_avg"] = os.getloadavg()[0]
    if server.process.poll() is not None:
        raise SystemExit(f"{server.label} exited (code {server.process.returncode}) during {args}")
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
                        print(f"  {server.label} {name} c={c}: {result['errors']} errors of {result['n']}, first:"
                              f" {result.get('first_error')}", flush=True)
                    rows.append({"server": server.label, "measure": name, "c": c, "round": round_, **result})
                    print(f"  round {round_ + 1} {server.label:>11} {name:<26} c={c:<3} {result['rps']:8.0f} req/s"
                          f"  p99 {result['p99_ms']:7.1f} ms  load {result['load_avg']:.1f}", flush=True)
    return rows


def summary(rows: list[dict], servers: list[Server], concurrency: list[int]) -> list[dict]:
    """Per (measure, c, server): median req/s over rounds, median p99 over the rounds that answered, mean load.

    ``fails`` when no request of any round succeeded (p99 is then None).
    """
    table = []
    for name, _ in MEASURES:
        for c in concurrency:
            for server in servers:
                mine = [r for r in rows if r["measure"] == name and r["c"] == c and r["server"] == server.label]
                answered = [r for r in mine if r["ok"]]
                table.append({
                    "measure": name, "c": c, "server": server.label, "kind": server.kind,
                    "rps": statistics.median(r["rps"] for r in mine),
                    "p99_ms": statistics.median(r["p99_ms"] for r in answered) if answered else None,
                    "load_avg": round(statistics.mean(r["load_avg"] for r in mine), 2),
                    "requests": sum(r["n"] for r in mine),
                    "errors": sum(r["errors"] for r in mine),
                    "fails": not answered,
                    "first_error": next((r["first_error"] for r in mine if r.get("first_error")), None),
                })
    return table


def ratio(mine: dict, theirs: dict | None) -> str:
    if theirs is None:
        return ""
    if mine["fails"]:
        return "Poiesis fails"
    if theirs["fails"]:
        return "Funnel fails"
    return f"{mine['rps'] / theirs['rps']:.2f}x" if theirs["rps"] else "-"


def markdown_table(table: list[dict], servers: list[Server]) -> str:
    """Per-server req/s and p99, then each Poiesis server's req/s over Funnel-Bolt's and Funnel-PG's, then the load."""
    ours = [s for s in servers if s.kind == POIESIS]
    funnels = {s.kind: s.label for s in servers if s.kind != POIESIS}
    head = ["measure", "c"]
    for s in servers:
        head += [f"{s.label} req/s", f"{s.label} p99 ms"]
    for s in ours:
        head += [f"{s.label} / {label}" for label in funnels.values()]
    head.append("load")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    notes = []
    for name, _ in MEASURES:
        for c in sorted({r["c"] for r in table}):
            cells = {r["server"]: r for r in table if r["measure"] == name and r["c"] == c}
            line = [name, str(c)]
            for s in servers:
                r = cells[s.label]
                if r["fails"]:
                    line += ["fails", "fails"]
                    notes.append(f"{s.label} {name} c={c}: every request failed ({r['errors']});"
                                 f" first: {(r['first_error'] or '')[:160]}")
                else:
                    mark = "*" if r["errors"] else ""
                    line += [f"{r['rps']:,.0f}{mark}", f"{r['p99_ms']:,.1f}"]
                    if r["errors"]:
                        notes.append(f"{s.label} {name} c={c}: {r['errors']} of {r['requests']} requests failed;"
                                     f" first: {(r['first_error'] or '')[:160]}")
            for s in ours:
                line += [ratio(cells[s.label], cells.get(label)) for label in funnels.values()]
            line.append(f"{statistics.mean(r['load_avg'] for r in cells.values()):.1f}")
            lines.append("| " + " | ".join(line) + " |")
    if notes:
        lines += ["", *(f"- {note}" for note in notes)]
    return "\n".join(lines)


def resources_table(servers: list[Server]) -> str:
    lines = ["| server | seeded | seeding s | store | MiB seeded | MiB after runs | RSS MiB after runs (with children) |",
             "|---|---|---|---|---|---|---|"]
    for s in servers:
        lines.append(f"| {s.label} | {s.seeding.get('how', '')} | {s.seeding.get('seconds', '')} |"
                     f" {s.resources.get('store', '')} | {s.seeding.get('store_mib', '')} |"
                     f" {s.resources.get('store_mib', '')} | {s.resources.get('rss_mib', '')} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", action="append", type=parse_server,
                        help="LABEL=PYTHON[@SRCDIR][%%WORKERS] (repeatable); default: this checkout")
    parser.add_argument("--funnel", default=os.environ.get("FUNNEL_BIN"),
                        help="a Funnel binary: adds funnel-bolt and funnel-pg (default: $FUNNEL_BIN; none: Poiesis only)")
    parser.add_argument("--stored", "--tasks", dest="tasks", type=int, default=100_000, help="tasks stored per server")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8, 64])
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each row (tesload -max-s)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path, help="default bench/results/tes_api-<UTC time>-<labels>.json")
    opts = parser.parse_args()
    servers = opts.server or [Server(label="this", python=sys.executable, srcdir=str(ROOT))]
    if opts.funnel:
        funnel = shutil.which(opts.funnel) or opts.funnel
        if not os.access(funnel, os.X_OK):
            raise SystemExit(f"--funnel / FUNNEL_BIN: {opts.funnel} is not an executable")
        servers += [Server(label=FUNNEL_BOLT, python=os.path.abspath(funnel), kind=FUNNEL_BOLT),
                    Server(label=FUNNEL_PG, python=os.path.abspath(funnel), kind=FUNNEL_PG)]
    binary = build_tesload()
    info = machine()
    print(f"machine: {info['cores']} cores, {info['cpu']}, load {info['load_avg']}, kernel {info['kernel']}", flush=True)
    with tempfile.TemporaryDirectory(prefix="poiesis-tes-api-") as tmp:
        work = Path(tmp)
        work.chmod(0o755)  # the pgserver user reaches its data directories below
        try:
            for server in servers:
                if server.kind == POIESIS:
                    start_poiesis(server, workers=opts.workers, tasks=opts.tasks, work=work)
                else:
                    start_funnel(server, tesload=binary, tasks=opts.tasks, work=work)
                print(f"{server.label}: " + ", ".join(f"{k} {v}" for k, v in server.versions.items()), flush=True)
            warm_up(binary, servers, work, tasks=opts.tasks)
            rows = measure(binary, servers, opts, work)
            for server in servers:
                record_resources(server, work)
        finally:
            for server in servers:
                stop(server)
    table = summary(rows, servers, opts.concurrency)
    workers = ", ".join(f"{s.label} {s.workers}" for s in servers if s.kind == POIESIS)
    print(f"\n{opts.tasks} tasks stored, Poiesis API workers: {workers}; {opts.seconds:g} s a row, "
          f"median of {opts.rounds} round(s); load average at the end {os.getloadavg()}\n")
    print(markdown_table(table, servers))
    print()
    print(resources_table(servers))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%MZ")
    path = opts.json or HERE / "results" / f"tes_api-{stamp}-{'-'.join(s.label for s in servers)}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "machine": info, "method": {k: v for k, v in vars(opts).items() if k not in ("server", "json")},
        "servers": {s.label: {"kind": s.kind, "python" if s.kind == POIESIS else "binary": s.python,
                              "srcdir": s.srcdir, "workers": s.workers, "versions": s.versions,
                              "seeding": s.seeding, "after_runs": s.resources} for s in servers},
        "table": table, "rows": rows,
    }, indent=1, default=str))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
