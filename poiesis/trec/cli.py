"""``poiesis trec``: arguments and environment to a running recorder."""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

from poiesis.trec import early


def add_arguments(parser: argparse.ArgumentParser) -> None:
    env = os.environ.get
    parser.add_argument("--pod", default=env("POIESIS_POD_NAME"), help="the Pod to watch (POIESIS_POD_NAME)")
    parser.add_argument("--namespace", default=env("POIESIS_POD_NAMESPACE"), help="its namespace (POIESIS_POD_NAMESPACE)")
    parser.add_argument("--task-id", default=env("POIESIS_TASK_ID"), help="the task (POIESIS_TASK_ID)")
    parser.add_argument("--database-url", default=env("POIESIS_DATABASE_URL"), help="PostgreSQL URL (POIESIS_DATABASE_URL)")
    parser.add_argument("--transfer-dir", default=env("POIESIS_TRANSFER_DIR", "/transfer"), help="the task volume (POIESIS_TRANSFER_DIR)")
    parser.add_argument("--ready-file", default=env("POIESIS_TREC_READY_FILE"),
                        help="touched once the watch is set up (POIESIS_TREC_READY_FILE; tests of TRec outside a Pod)")
    parser.add_argument("--ready-port", type=int, default=int(env("POIESIS_TREC_READY_PORT") or 0) or None,
                        help="listened on once the watch is set up; the startupProbe connects (POIESIS_TREC_READY_PORT)")
    parser.add_argument("--kubeconfig", default=None, help="kubeconfig (default: in-cluster service account)")


def main(argv: list[str]) -> int:
    """Run the recorder for one Pod until SIGTERM."""
    early.install()
    parser = argparse.ArgumentParser(prog="poiesis trec", description="record one task Pod in the database")
    add_arguments(parser)
    return run_from_args(parser.parse_args(argv))


def run_from_args(args: argparse.Namespace) -> int:
    """Start from parsed arguments (imports the client only now, keeping `poiesis --help` light).

    The SIGTERM handler is already installed (``early``) by whoever called.
    """
    termination = early.install()  # idempotent; a no-op when poiesis.cli did it first
    from poiesis import store
    from poiesis.kube.client import Kube, api_client
    from poiesis.kube.settings import KubeSettings
    from poiesis.record import Recorder
    from poiesis.trec.run import PodRecorder, run
    missing = [n for n in ("pod", "namespace", "task_id", "database_url") if not getattr(args, n)]
    if missing:
        raise SystemExit(f"poiesis trec: missing {', '.join(missing)}")
    from poiesis import logs

    logs.set_process_task(args.task_id)
    cfg = KubeSettings.from_env()
    kube = Kube(api_client(args.kubeconfig or cfg.kubeconfig), args.namespace)
    pool = store.open_pool(args.database_url, min_size=1, max_size=2, timeout=10)
    transfer = Path(args.transfer_dir)
    recorder = Recorder(
        store=store.Store(pool),
        kube=kube,
        transfer_dir=transfer if transfer.is_dir() else None,
        log_tail_bytes=cfg.trec_log_tail_bytes,
    )
    logging.getLogger("poiesis").setLevel(logging.INFO)
    try:
        rec = PodRecorder(
            kube=kube,
            recorder=recorder,
            pod_name=args.pod,
            task_id=args.task_id,
            ready_file=Path(args.ready_file) if args.ready_file else None,
            ready_port=args.ready_port,
        )
        return run(rec, termination)
    finally:
        pool.close()
