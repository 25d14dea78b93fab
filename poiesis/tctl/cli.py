"""``poiesis tctl``: arguments and environment to a running controller replica."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import signal
import socket


def add_arguments(parser: argparse.ArgumentParser) -> None:
    env = os.environ.get
    parser.add_argument("--database-url", default=env("POIESIS_DATABASE_URL"), help="PostgreSQL URL (POIESIS_DATABASE_URL)")
    parser.add_argument("--kubeconfig", default=None, help="kubeconfig (POIESIS_KUBE_KUBECONFIG; default in-cluster)")
    parser.add_argument("--namespace", default=None, help="namespace of task Pods (POIESIS_KUBE_NAMESPACE)")
    parser.add_argument(
        "--identity",
        default=env("POIESIS_POD_NAME") or f"{socket.gethostname()}-{os.getpid()}",
        help="this replica's name in the Lease (POIESIS_POD_NAME, else host-pid)",
    )
    parser.add_argument(
        "--http-port", type=int, default=int(env("POIESIS_TCTL_HTTP_PORT") or 0),
        help="port of /healthz, /readyz and /metrics (POIESIS_TCTL_HTTP_PORT; 0, the default, serves none)",
    )
    parser.add_argument(
        "--http-host", default=env("POIESIS_TCTL_HTTP_HOST") or "127.0.0.1",
        help="address of that server (POIESIS_TCTL_HTTP_HOST, default 127.0.0.1; 0.0.0.0 in a Pod)",
    )


def main(argv: list[str]) -> int:
    """Run one controller replica until SIGTERM."""
    parser = argparse.ArgumentParser(prog="poiesis tctl", description="backstop controller for task Pods")
    add_arguments(parser)
    return run_from_args(parser.parse_args(argv))


def run_from_args(args: argparse.Namespace) -> int:
    """Start from parsed arguments (imports the client only now, keeping `poiesis --help` light)."""
    from poiesis import store
    from poiesis.kube.backend import KubeBackend
    from poiesis.kube.client import Kube, api_client
    from poiesis.kube.settings import KubeSettings
    from poiesis.tctl import probes
    from poiesis.tctl.controller import Controller
    if not args.database_url:
        raise SystemExit("poiesis tctl: POIESIS_DATABASE_URL or --database-url is required")
    cfg = KubeSettings.from_env()
    if args.namespace:
        cfg = dataclasses.replace(cfg, namespace=args.namespace)
    if args.kubeconfig:
        cfg = dataclasses.replace(cfg, kubeconfig=args.kubeconfig)
    kube = Kube(api_client(cfg.kubeconfig, connections=cfg.submit_workers + 8), cfg.namespace)
    pool = store.open_pool(args.database_url, min_size=1, max_size=6, timeout=10)
    task_store = store.Store(pool)
    backend = KubeBackend(cfg, kube, store=task_store, ended_by="tctl")
    controller = Controller(kube=kube, store=task_store, cfg=cfg, identity=args.identity, submit=backend.submit)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: controller.stop.set())
    logging.getLogger("poiesis").setLevel(logging.INFO)
    server = probes.serve(controller, host=args.http_host, port=args.http_port) if args.http_port else None
    try:
        controller.run()
    finally:
        if server is not None:
            server.shutdown()
        backend.close()
        pool.close()
    return 0
