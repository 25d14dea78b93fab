"""What the benchmarks share: the Go load generators (bench/tesload, bench/apiserver_load), the machine, a free port.

Imported by the bench scripts as a sibling (``python bench/<name>.py`` puts bench/ first on sys.path).
"""

from __future__ import annotations

import hashlib
import os
import platform
import socket
import subprocess
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "poiesis" / "bench"


def build_go(name: str) -> Path:
    """The Go program in bench/<name> built into the cache, rebuilt when its source changes."""
    source = (HERE / name / "main.go").read_bytes() + (HERE / name / "go.mod").read_bytes()
    digest = hashlib.sha256(source).hexdigest()[:16]
    binary = CACHE / name
    stamp = CACHE / f"{name}.sha256"
    if not binary.exists() or not stamp.exists() or stamp.read_text() != digest:
        CACHE.mkdir(parents=True, exist_ok=True)
        print(f"building {name} into {binary} ...", flush=True)
        subprocess.run(["go", "build", "-o", str(binary), "."], cwd=HERE / name, check=True)
        stamp.write_text(digest)
    return binary


def build_tesload() -> Path:
    """tesload built from bench/tesload into the cache, rebuilt when its source changes."""
    return build_go("tesload")


def machine() -> dict[str, object]:
    """Cores, CPU model, memory, load average, kernel, Go and the time: the head of every result."""
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")),
                 platform.processor())
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal"))
    go = subprocess.run(["go", "version"], capture_output=True, text=True, check=False).stdout.strip()
    return {"cores": os.cpu_count(), "cpu": model, "memory_gib": round(mem_kb / 2**20, 1),
            "load_avg": os.getloadavg(), "kernel": platform.release(), "go": go,
            "time": datetime.now(UTC).isoformat(timespec="seconds")}


def free_port() -> int:
    """A TCP port free on 127.0.0.1 at the time of asking."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


#: the test cluster's processes, by the names of their pid files (scripts/cluster)
CLUSTER_COMPONENTS = ("kube-apiserver", "etcd", "kube-controller-manager", "kube-scheduler", "kwok")


def cluster_pids() -> dict[str, int]:
    """The running test cluster's component pids, from its run dir (``POIESIS_CLUSTER_DIR``)."""
    run_dir = Path(os.environ.get("POIESIS_CLUSTER_DIR") or Path.home() / ".cache" / "poiesis" / "cluster-run")
    pids = {}
    for name in CLUSTER_COMPONENTS:
        f = run_dir / "pids" / f"{name}.pid"
        if f.exists():
            pids[name] = int(f.read_text().split()[0])
    return pids


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process (all its threads) so far; 0 when it is gone."""
    fields = _stat(pid)
    return 0.0 if fields is None else (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(root: int) -> float:
    """CPU seconds of ``root`` and its live descendants, plus what their reaped children used.

    Each process counts its own time and its waited-for children's (cutime, cstime); a live
    descendant is counted once, as itself: PostgreSQL's backends under the postmaster, uvicorn's
    workers under the supervisor.
    """
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            parents[int(entry.name)] = int(fields[1])
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        children = [child for child, parent in parents.items() if parent == pid]
        tree.update(children)
        frontier.extend(children)
    total = 0
    for pid in tree:
        if (fields := _stat(pid)) is not None:
            total += sum(int(x) for x in fields[11:15])
    return total / os.sysconf("SC_CLK_TCK")
