"""``poiesis tctl``: arguments and the settings tree to a running controller replica.

Every flag defaults to None, meaning the tree's value (the environment): a
flag given overrides it.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import signal
import socket

from poiesis.config import Settings, override


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database-url", help="PostgreSQL URL (POIESIS_DATABASE_URL)")
    parser.add_argument("--kubeconfig", help="kubeconfig (POIESIS_KUBE_KUBECONFIG; default in-cluster)")
    parser.add_argument("--namespace", help="namespace of task Pods (POIESIS_KUBE_NAMESPACE)")
    parser.add_argument("--identity", help="this replica's name in the Lease (POIESIS_POD_NAME, else host-pid)")
    parser.add_argument(
        "--http-port", type=int,
        help="port of /healthz, /readyz and /metrics (POIESIS_TCTL_HTTP_PORT; 0, the default, serves none)",
    )
    parser.add_argument(
        "--http-host", help="address of that server (POIESIS_TCTL_HTTP_HOST, default 127.0.0.1; 0.0.0.0 in a Pod)",
    )


def with_flags(settings: Settings, args: argparse.Namespace) -> Settings:
    """``settings`` with the flags given instead of the environment's values."""
    return dataclasses.replace(
        settings,
        database=override(settings.database, url=args.database_url),
        kube=override(settings.kube, namespace=args.namespace, kubeconfig=args.kubeconfig),
        pod=override(settings.pod, name=args.identity),
        tctl=override(settings.tctl, http_port=args.http_port, http_host=args.http_host),
    )


def main(argv: list[str], settings: Settings) -> int:
    """Run one controller replica until SIGTERM."""
    parser = argparse.ArgumentParser(prog="poiesis tctl", description="backstop controller for task Pods")
    add_arguments(parser)
    return run_from_args(parser.parse_args(argv), settings)


def run_from_args(args: argparse.Namespace, settings: Settings) -> int:
    """Start from parsed arguments over ``settings`` (imports the client only now, keeping `poiesis --help` light)."""
    from poiesis import store
    from poiesis.kube.backend import KubeBackend
    from poiesis.kube.client import Kube, api_client
    from poiesis.tctl import probes
    from poiesis.tctl.controller import Controller
    settings = with_flags(settings, args)
    if not settings.database.url:
        raise SystemExit("poiesis tctl: POIESIS_DATABASE_URL or --database-url is required")
    cfg, http = settings.kube, settings.tctl
    identity = settings.pod.name or f"{socket.gethostname()}-{os.getpid()}"
    kube = Kube(api_client(cfg.kubeconfig, connections=cfg.submit_workers + 8), cfg.namespace)
    pool = store.open_pool(settings.database.url, min_size=1, max_size=6, timeout=10)
    task_store = store.Store(pool)
    backend = KubeBackend(cfg, kube, store=task_store, ended_by="tctl", s3_buckets=settings.filer.s3_buckets)
    controller = Controller(kube=kube, store=task_store, cfg=cfg, identity=identity, submit=backend.submit)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: controller.stop.set())
    logging.getLogger("poiesis").setLevel(logging.INFO)
    server = (
        probes.serve(controller, host=http.http_host, port=http.http_port, metrics_dir=settings.metrics.multiproc_dir)
        if http.http_port else None
    )
    try:
        controller.run()
    finally:
        if server is not None:
            server.shutdown()
        backend.close()
        pool.close()
    return 0
