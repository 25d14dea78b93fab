"""How many GetTask MINIMAL and CreateTask requests/s each serving stack answers here with nothing behind it.

Not a test; one command. Issue 14 asks GetTask to reach half of Funnel's 3,667 req/s (c=8) and
CreateTask Funnel's 718. This starts uvicorn (httptools, uvloop, no access log, as ``poiesis
api`` runs) with the minimal servers of bench/ceiling/apps.py, each with 1 and 2 worker
processes, and drives them with tesload. The Connexion rows are the ceiling for any server whose
routes and validation come from the OpenAPI document through Connexion 3 and Flask, which is how
Poiesis is built; ``connexion_tes`` validates CreateTask bodies against the real TES schema.

    python bench/framework_ceiling.py [--seconds 10] [--c 8 64] [--stacks connexion_tes ...]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from common import build_tesload, free_port, machine

HERE = Path(__file__).resolve().parent
#: stack -> the operations measured on it (the bare Connexion document has no CreateTask)
STACKS = {"connexion": ("get",), "connexion_tes": ("get", "create"), "asyncapp_tes": ("get", "create"),
          "flask": ("get", "create"), "starlette": ("get", "create")}
RESULTS = HERE / "results" / "framework_ceiling.json"


def serve(stack: str, port: int, workers: int) -> subprocess.Popen:
    code = (
        f"import uvicorn; uvicorn.run('apps:{stack}_app', factory=True, host='127.0.0.1', port={port},"
        f" workers={workers}, http='httptools', loop='uvloop', access_log=False, log_level='warning')"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE.parent), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, "-c", code], cwd=HERE / "ceiling", env=env)


def wait_answers(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ga4gh/tes/v1/tasks/x", timeout=2):
                return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the server on port {port} did not answer") from None
            time.sleep(0.3)


def load(binary: Path, port: int, c: int, seconds: float, ids: Path, op: str = "get") -> dict:
    what = ["-view", "MINIMAL", "-ids", str(ids)] if op == "get" else []
    out = subprocess.run([str(binary), "-base", f"http://127.0.0.1:{port}/ga4gh/tes/v1", "-op", op, *what,
                          "-c", str(c), "-n", "100000000", "-max-s", str(seconds)],
                         capture_output=True, text=True, check=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    result["load_avg"] = os.getloadavg()[0]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--c", type=int, nargs="+", default=[8, 64])
    parser.add_argument("--stacks", nargs="+", choices=list(STACKS), default=list(STACKS))
    parser.add_argument("--json", type=Path, default=RESULTS, help=f"where the rows go (default {RESULTS})")
    opts = parser.parse_args()
    binary = build_tesload()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        ids = Path(tmp) / "ids.txt"
        ids.write_text("".join(f"task-{i}\n" for i in range(1000)))
        for stack in opts.stacks:
            for workers in (1, 2):
                port = free_port()
                proc = serve(stack, port, workers)
                try:
                    wait_answers(port, proc)
                    for op in STACKS[stack]:
                        load(binary, port, 8, 2, ids, op)  # warm every worker
                    for op in STACKS[stack]:
                        for c in opts.c:
                            result = load(binary, port, c, opts.seconds, ids, op)
                            rows.append({"stack": stack, "workers": workers, "c": c, **result})
                            print(f"{stack:<13} {op:<6} workers={workers} c={c:<3} {result['rps']:8.0f} req/s"
                                  f"  p99 {result['p99_ms']:7.1f} ms  errors {result['errors']}"
                                  f"  load {result['load_avg']:.1f}", flush=True)
                finally:
                    proc.terminate()
                    proc.wait(timeout=30)
    opts.json.parent.mkdir(parents=True, exist_ok=True)
    opts.json.write_text(json.dumps({"machine": machine(), "rows": rows}, indent=1) + "\n")
    print(f"wrote {opts.json}")


if __name__ == "__main__":
    main()
