#!/usr/bin/env python3
"""Throughput and memory of the filers: one large file per scheme, down and up.

For each scheme (file, http, ftp, s3) the script moves one file (500 MB by
default) through ``python -m poiesis.filer in|out`` and through a plain
client against the same server on 127.0.0.1 (cp, curl, curl, boto3's
managed transfer), and prints MB/s side by side plus the filer process' peak
RSS (from wait4's rusage). Servers run in their own processes: the test
HTTP server (tests/plugins/servers.py), pyftpdlib and MinIO (scripts/minio build).

    .venv/bin/python bench/filer_bench.py [--size-mb 500] [--schemes file,http,ftp,s3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.plugins.servers import MINIO_PASSWORD, MINIO_USER, free_port, start_minio, wait_for_port  # noqa: E402 - after the path

MB = 1_000_000
RSS_LIMIT_MB = 100


def make_file(path: Path, size: int) -> None:
    """Write ``size`` bytes of incompressible data, 8 MiB at a time."""
    block = os.urandom(8 << 20)
    with path.open("wb") as fh:
        left = size
        while left:
            n = min(left, len(block))
            fh.write(block[:n])
            left -= n


# ru_maxrss survives execve, so a child forked from this (large) process would report
# this process' RSS. A minimal launcher forks the measured command instead and
# prints its wait4 rusage: the number is the command's own peak.
LAUNCHER = """
import os, sys, time
t = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
print(time.perf_counter() - t, usage.ru_maxrss, os.waitstatus_to_exitcode(status))
"""


def timed(cmd: list[str], *, env: dict[str, str] | None = None) -> tuple[float, float]:
    """Run ``cmd``; return (seconds, peak RSS in MB of that process)."""
    done = subprocess.run([sys.executable, "-S", "-c", LAUNCHER, *cmd], env={**os.environ, **(env or {})},
                          cwd=REPO, capture_output=True, text=True, check=False)
    elapsed, maxrss_kb, code = done.stdout.split()[-3:]
    if int(code) != 0 or done.returncode != 0:
        raise RuntimeError(f"{cmd[:4]} failed ({code}): {done.stderr[-2000:]}")
    return float(elapsed), int(maxrss_kb) / 1024


def start(code: str, port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    wait_for_port(port)
    return proc


def servers(work: Path) -> tuple[dict[str, object], list[subprocess.Popen]]:
    http_dir, ftp_dir = work / "http", work / "ftp"
    http_dir.mkdir(), ftp_dir.mkdir()
    http_port, ftp_port, s3_port = free_port(), free_port(), free_port()
    procs = [
        start("import threading; from pathlib import Path; from tests.plugins.servers import start_http_server; "
              f"start_http_server(Path({str(http_dir)!r}), {http_port}); threading.Event().wait()", http_port),
        start("import threading; from pathlib import Path; from tests.plugins.servers import start_ftp_server; "
              f"start_ftp_server(Path({str(ftp_dir)!r}), None, {ftp_port}, use_sendfile=True); "
              "threading.Event().wait()", ftp_port),
        start_minio(s3_port, data=work / "minio", log=work / "minio.log"),
    ]
    info = {"http_dir": http_dir, "ftp_dir": ftp_dir, "http": f"http://127.0.0.1:{http_port}",
            "ftp": f"ftp://ftpuser:ftp-pw-Xk42@127.0.0.1:{ftp_port}", "s3": f"http://127.0.0.1:{s3_port}"}
    return info, procs


S3_ENV = {"AWS_ACCESS_KEY_ID": MINIO_USER, "AWS_SECRET_ACCESS_KEY": MINIO_PASSWORD, "AWS_DEFAULT_REGION": "us-east-1"}

BOTO = ("import boto3, sys; c = boto3.client('s3', endpoint_url=sys.argv[1]); "
        "getattr(c, sys.argv[2])(*sys.argv[3:])")


def plain(scheme: str, *, direction: str, remote: str, local: Path, info: dict) -> list[str]:
    """The plain client command for one transfer."""
    if scheme == "file":
        src, dst = (remote.removeprefix("file://"), str(local)) if direction == "in" else (
            str(local), remote.removeprefix("file://"))
        return ["cp", src, dst]
    if scheme in ("http", "ftp"):
        if direction == "in":
            return ["curl", "-sSf", "-o", str(local), remote]
        return ["curl", "-sSf", "--ftp-create-dirs", "-T", str(local), remote]
    bucket, key = remote.removeprefix("s3://").split("/", 1)
    if direction == "in":
        return [sys.executable, "-c", BOTO, info["s3"], "download_file", bucket, key, str(local)]
    return [sys.executable, "-c", BOTO, info["s3"], "upload_file", str(local), bucket, key]


def filer(direction: str, *, task: dict, root: Path, work: Path) -> list[str]:
    task_file = work / f"task-{direction}.json"
    task_file.write_text(json.dumps(task))
    return [sys.executable, "-m", "poiesis.filer", direction, "--task", str(task_file), "--root", str(root),
            "--termination-log", str(work / "termination-log")]


def remote_url(scheme: str, info: dict, work: Path, name: str) -> str:
    return {"file": f"file://{work}/store/{name}", "http": f"{info['http']}/{name}",
            "ftp": f"{info['ftp']}/{name}", "s3": f"s3://bench/{name}"}[scheme]


def bench_scheme(scheme: str, *, size: int, source: Path, info: dict, work: Path) -> dict[str, float]:
    env = {**S3_ENV, "POIESIS_S3_ENDPOINT_URL": info["s3"], "POIESIS_FILER_FILE_ROOTS": str(work / "store"),
           # the servers are on 127.0.0.1, which the filers refuse unless allowed (docs/filer.md)
           "POIESIS_FILER_ALLOW_NETWORKS": "127.0.0.1/32"}
    root = work / f"root-{scheme}"
    (root / "files/out").mkdir(parents=True)
    os.link(source, root / "files/out/big.bin")
    result: dict[str, float] = {}
    # uploads first, so the downloads read what the filer wrote
    up_task = {"outputs": [{"url": remote_url(scheme, info, work, "filer/big.bin"), "path": "/out/big.bin"}]}
    t, result["rss_out"] = timed(filer("out", task=up_task, root=root, work=work), env=env)
    result["filer_up"] = size / MB / t
    t, _ = timed(plain(scheme, direction="out", remote=remote_url(scheme, info, work, "plain/big.bin"),
                       local=source, info=info), env=env)
    result["plain_up"] = size / MB / t
    down_task = {"inputs": [{"url": remote_url(scheme, info, work, "filer/big.bin"), "path": "/in/big.bin"}]}
    t, result["rss_in"] = timed(filer("in", task=down_task, root=root, work=work), env=env)
    result["filer_down"] = size / MB / t
    assert (root / "files/in/big.bin").stat().st_size == size
    plain_dest = work / f"plain-{scheme}.bin"
    t, _ = timed(plain(scheme, direction="in", remote=remote_url(scheme, info, work, "plain/big.bin"),
                       local=plain_dest, info=info), env=env)
    result["plain_down"] = size / MB / t
    assert plain_dest.stat().st_size == size
    shutil.rmtree(root)
    plain_dest.unlink()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=500)
    parser.add_argument("--schemes", default="file,http,ftp,s3")
    parser.add_argument("--workdir", default=None, help="scratch directory (default: a new temp dir)")
    args = parser.parse_args()
    size = args.size_mb * MB
    work = Path(tempfile.mkdtemp(prefix="filer-bench-", dir=args.workdir))
    procs: list[subprocess.Popen] = []
    try:
        info, procs = servers(work)
        (work / "store/plain").mkdir(parents=True)
        import boto3

        boto3.client("s3", endpoint_url=info["s3"], **_kw()).create_bucket(Bucket="bench")
        source = work / "source.bin"
        make_file(source, size)
        print(f"{args.size_mb} MB, one file, 127.0.0.1; MB/s (1 MB = 10^6 bytes); peak RSS of the filer process")
        print(f"{'scheme':<6} {'filer down':>11} {'plain down':>11} {'filer up':>9} {'plain up':>9}"
              f" {'RSS in':>8} {'RSS out':>8}  plain client")
        worst = 0.0
        for scheme in args.schemes.split(","):
            r = bench_scheme(scheme, size=size, source=source, info=info, work=work)
            worst = max(worst, r["rss_in"], r["rss_out"])
            client = {"file": "cp", "http": "curl", "ftp": "curl", "s3": "boto3 (managed transfer)"}[scheme]
            print(f"{scheme:<6} {r['filer_down']:>11.0f} {r['plain_down']:>11.0f} {r['filer_up']:>9.0f}"
                  f" {r['plain_up']:>9.0f} {r['rss_in']:>6.0f}MB {r['rss_out']:>6.0f}MB  {client}", flush=True)
        print(f"peak filer RSS {worst:.0f} MB (limit {RSS_LIMIT_MB} MB): {'OK' if worst < RSS_LIMIT_MB else 'OVER'}")
        return 0 if worst < RSS_LIMIT_MB else 1
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


def _kw() -> dict[str, str]:
    return {"aws_access_key_id": S3_ENV["AWS_ACCESS_KEY_ID"], "aws_secret_access_key": S3_ENV["AWS_SECRET_ACCESS_KEY"],
            "region_name": S3_ENV["AWS_DEFAULT_REGION"]}


if __name__ == "__main__":
    sys.exit(main())
