#!/usr/bin/env python3
"""Print how long the test cluster takes to build (cached) and come up, and its memory at rest.

Runs a second cluster in its own run dir and ports (POIESIS_CLUSTER_PORT_BASE=18440 unless
set), so a cluster you have up is not touched. Needs `scripts/cluster build` done once.
Usage: bench/cluster_up.py [--rest SECONDS]   (default 60)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "cluster"


def timed(args: list[str], env: dict[str, str]) -> float:
    started = time.monotonic()
    subprocess.run([str(SCRIPT), *args], env=env, check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - started


def main(argv: list[str]) -> int:
    rest = float(argv[argv.index("--rest") + 1]) if "--rest" in argv else 60.0
    with tempfile.TemporaryDirectory(prefix="poiesis-bench-cluster-") as run_dir:
        env = dict(os.environ, POIESIS_CLUSTER_DIR=run_dir)
        env.setdefault("POIESIS_CLUSTER_PORT_BASE", "18440")
        print(f"cached build: {timed(['build'], env):.2f} s")
        try:
            print(f"up (fresh run dir, makes certs): {timed(['up'], env):.2f} s")
            subprocess.run([str(SCRIPT), "down"], env=env, check=True, capture_output=True)
            print(f"up (certs exist, as in a reused run dir): {timed(['up'], env):.2f} s")
            print(f"up (already up): {timed(['up'], env):.2f} s")
            time.sleep(rest)
            status = subprocess.run([str(SCRIPT), "status", "--json"], env=env,
                                    capture_output=True, text=True, check=True)
            info = json.loads(status.stdout)
            for name, proc in info["processes"].items():
                print(f"rss after {rest:.0f} s at rest: {name}: {proc['rss_kib'] / 1024:.0f} MiB")
            print(f"rss after {rest:.0f} s at rest: control plane total: {info['rss_total_mib']:.0f} MiB")
        finally:
            subprocess.run([str(SCRIPT), "down"], env=env, capture_output=True, check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
