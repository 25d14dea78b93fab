"""The ``poiesis`` command: one entry point, one subcommand per role.

Parses arguments, loads the settings tree once (``poiesis.config.load``) and
hands both over; no role's logic lives here.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from pathlib import Path

from poiesis import config
from poiesis.config import Settings


def _api(args: argparse.Namespace, settings: Settings) -> int:
    from poiesis import compose

    compose.serve_api(with_flags(settings, args), workers=args.workers)
    return 0


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from poiesis import compose

    compose.serve_local(with_flags(settings, args))
    return 0


def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    from poiesis import compose

    settings = with_flags(settings, args)
    compose.migrate(settings)
    # the URL may hold a password: name the embedded server's directory only
    where = "" if settings.database.url else f" (embedded, {settings.database.data_dir})"
    print(f"poiesis: database migrated{where}")
    return 0


def _trec(args: argparse.Namespace, settings: Settings) -> int:
    from poiesis.trec import cli

    return cli.run_from_args(args, settings)


def _tctl(args: argparse.Namespace, settings: Settings) -> int:
    from poiesis.tctl import cli

    return cli.run_from_args(args, settings)


def _task(args: argparse.Namespace, settings: Settings) -> int:
    from poiesis.client import cli

    return cli.run_from_args(args, settings.client)


def with_flags(settings: Settings, args: argparse.Namespace) -> Settings:
    """``settings`` with the values given on the command line instead of the environment's."""
    return dataclasses.replace(
        settings,
        api=config.override(settings.api, host=getattr(args, "host", None), port=getattr(args, "port", None),
                            tes_version=getattr(args, "tes_version", None)),
        database=config.override(
            settings.database, url=args.database_url, data_dir=Path(args.data_dir) if args.data_dir else None
        ),
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="poiesis", description="GA4GH Task Execution Service")
    sub = parser.add_subparsers(dest="command", required=True)

    def with_db(p: argparse.ArgumentParser) -> None:
        p.add_argument("--database-url", help="PostgreSQL URL (POIESIS_DATABASE_URL); embedded server if unset")
        p.add_argument("--data-dir", help="data directory of the embedded PostgreSQL (POIESIS_DATA_DIR)")

    def with_tes_version(p: argparse.ArgumentParser) -> None:
        p.add_argument("--tes-version", choices=config.TES_VERSIONS,
                       help="TES version to serve (POIESIS_TES_VERSION, default 1.1; docs/api.md)")

    api = sub.add_parser("api", help="serve the TES API")
    with_db(api)
    api.add_argument("--host", help="address to listen on (POIESIS_HOST, default 127.0.0.1)")
    api.add_argument("--port", type=int, help="port (POIESIS_PORT, default 8000)")
    api.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    with_tes_version(api)
    api.set_defaults(func=_api)

    serve = sub.add_parser("serve", help="run everything on this machine: database, API, local backend")
    with_db(serve)
    serve.add_argument("--host", help="address to listen on (POIESIS_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (POIESIS_PORT, default 8000)")
    with_tes_version(serve)
    serve.set_defaults(func=_serve)

    migrate = sub.add_parser("migrate", help="apply database migrations and exit")
    with_db(migrate)
    migrate.set_defaults(func=_migrate)

    from poiesis.client import cli as client_cli

    task = sub.add_parser("task", help="a TES client: run, create, get, list, cancel, wait, logs (docs/cli.md)")
    client_cli.add_arguments(task)
    task.set_defaults(func=_task)

    sub.add_parser("filer", help="fetch inputs (filer in) or upload outputs (filer out) of a task", add_help=False)

    from poiesis.tctl import cli as tctl_cli
    from poiesis.trec import cli as trec_cli

    trec = sub.add_parser("trec", help="record one task Pod (the in-pod sidecar)")
    trec_cli.add_arguments(trec)
    trec.set_defaults(func=_trec)

    tctl = sub.add_parser("tctl", help="backstop controller for task Pods (leader-elected)")
    tctl_cli.add_arguments(tctl)
    tctl.set_defaults(func=_tctl)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the subcommand named on the command line."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["trec"]:  # before any slow import: the kubelet may SIGTERM the sidecar at once
        from poiesis.trec import early

        early.install()
    try:
        settings = config.load()
    except config.SettingsError as exc:
        raise SystemExit(f"poiesis: {exc}") from None
    if argv[:1] == ["filer"]:  # the filer parses its own arguments (poiesis filer in|out ...)
        from poiesis import filer

        return filer.main(argv[1:], settings.filer)
    command: list[str] = []
    if argv[:1] == ["task"]:
        from poiesis.client.cli import split_command

        argv, command = split_command(argv)
    args = build_parser().parse_args(argv)
    if command:
        args.cmd = [*getattr(args, "cmd", []), *command]
    if args.command != "task":  # the client prints only its answer
        from poiesis import logs

        logs.configure(logging.INFO, settings.logging.format)
    return int(args.func(args, settings) or 0)


if __name__ == "__main__":
    sys.exit(main())
