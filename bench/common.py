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
