"""``poiesis trec``: arguments and the settings tree to a running recorder.

Every flag defaults to None, meaning the tree's value (the Pod's environment,
which kube/build.py sets): a flag given overrides it.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
from pathlib import Path

from poiesis.config import Settings, override
from poiesis.trec import early


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pod", help="the Pod to watch (POIESIS_POD_NAME)")
    parser.add_argument("--namespace", help="its namespace (POIESIS_POD_NAMESPACE)")
    parser.add_argument("--task-id", help="the task (POIESIS_TASK_ID)")
    parser.add_argument("--database-url", help="PostgreSQL URL (POIESIS_DATABASE_URL)")
    parser.add_argument("--transfer-dir", help="the task volume (POIESIS_TRANSFER_DIR, default /transfer)")
    parser.add_argument("--ready-file",
                        help="touched once the watch is set up (POIESIS_TREC_READY_FILE; tests of TRec outside a Pod)")
    parser.add_argument("--ready-port", type=int,
                        help="listened on once the watch is set up; the startupProbe connects (POIESIS_TREC_READY_PORT)")
    parser.add_argument("--kubeconfig", help="kubeconfig (POIESIS_KUBE_KUBECONFIG; default: in-cluster service account)")


def with_flags(settings: Settings, args: argparse.Namespace) -> Settings:
    """``settings`` with the flags given instead of the environment's values."""
    return dataclasses.replace(
        settings,
        pod=override(settings.pod, name=args.pod, namespace=args.namespace, task_id=args.task_id,
                     transfer_dir=args.transfer_dir),
        database=override(settings.database, url=args.database_url),
        trec=override(settings.trec, ready_file=Path(args.ready_file) if args.ready_file else None,
                      ready_port=args.ready_port),
        kube=override(settings.kube, kubeconfig=args.kubeconfig),
    )


def main(argv: list[str], settings: Settings) -> int:
    """Run the recorder for one Pod until SIGTERM."""
    early.install()
    parser = argparse.ArgumentParser(prog="poiesis trec", description="record one task Pod in the database")
    add_arguments(parser)
    return run_from_args(parser.parse_args(argv), settings)


def run_from_args(args: argparse.Namespace, settings: Settings) -> int:
    """Start from parsed arguments over ``settings`` (imports the client only now, keeping `poiesis --help` light).

    The SIGTERM handler is already installed (``early``) by whoever called.
    """
    termination = early.install()  # idempotent; a no-op when poiesis.cli did it first
    from poiesis import store
    from poiesis.kube.client import Kube, api_client
    from poiesis.record import Recorder
    from poiesis.trec.run import PodRecorder, run
    settings = with_flags(settings, args)
    pod, url = settings.pod, settings.database.url
    if not (pod.name and pod.namespace and pod.task_id and url):
        missing = [name for name, value in (("pod", pod.name), ("namespace", pod.namespace),
                                            ("task_id", pod.task_id), ("database_url", url)) if not value]
        raise SystemExit(f"poiesis trec: missing {', '.join(missing)}")
    from poiesis import logs

    logs.set_process_task(pod.task_id)
    cfg = settings.kube
    kube = Kube(api_client(cfg.kubeconfig), pod.namespace)
    pool = store.open_pool(url, min_size=1, max_size=2, timeout=10)
    transfer = Path(pod.transfer_dir)
    # with the task's secret, only this task's run, through the functions a task credential may call
    writer = store.TaskStore(pool, pod.task_id, pod.task_secret) if pod.task_secret else store.Store(pool)
    recorder = Recorder(
        store=writer,
        kube=kube,
        transfer_dir=transfer if transfer.is_dir() else None,
        log_tail_bytes=cfg.trec_log_tail_bytes,
    )
    logging.getLogger("poiesis").setLevel(logging.INFO)
    try:
        rec = PodRecorder(
            kube=kube,
            recorder=recorder,
            pod_name=pod.name,
            task_id=pod.task_id,
            ready_file=settings.trec.ready_file,
            ready_port=settings.trec.ready_port,
        )
        return run(rec, termination)
    finally:
        pool.close()
