"""``poiesis task``: run, create, get, list, cancel, wait, logs, watch; exit codes follow the task's state.

See docs/cli.md. The server is ``--server`` or $POIESIS_SERVER (default
http://127.0.0.1:8000); a bearer token is read from $POIESIS_TOKEN.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from poiesis.client import render, spec
from poiesis.client.http import ClientError, TesClient
from poiesis.config import ClientSettings

#: Exit codes (docs/cli.md). 2 is argparse's usage error.
OK, EXECUTOR_ERROR, USAGE, SYSTEM_ERROR, CANCELED, REFUSED, UNREACHABLE, TIMEOUT = 0, 1, 2, 3, 4, 5, 6, 7
STATE_EXIT = {
    "COMPLETE": OK,
    "EXECUTOR_ERROR": EXECUTOR_ERROR,
    "SYSTEM_ERROR": SYSTEM_ERROR,
    "CANCELED": CANCELED,
    "CANCELING": CANCELED,
    "PREEMPTED": CANCELED,
}
TERMINAL = frozenset(("COMPLETE", "EXECUTOR_ERROR", "SYSTEM_ERROR", "CANCELED", "PREEMPTED"))


def exit_code(state: str | None) -> int:
    """The exit code for a task in ``state``: 0 while it is still queued or running."""
    return STATE_EXIT.get(state or "", OK)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``task`` subcommands."""
    parser.add_argument("--server", help=f"TES server (POIESIS_SERVER, default {ClientSettings.server})")
    parser.add_argument("--json", action="store_true", help="print JSON for scripts instead of tables")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per HTTP request (default 30)")
    sub = parser.add_subparsers(dest="task_command", required=True)

    run = sub.add_parser("run", help="run one command in an image: poiesis task run IMAGE -- CMD...")
    run.add_argument("image")
    run.add_argument("cmd", nargs="*", help="the command; put it after -- (everything after -- is the command)")
    run.add_argument("--name")
    run.add_argument("--input", action="append", default=[], metavar="PATH=URL",
                     help="fetch URL (or a local path) to PATH before the command runs (repeatable)")
    run.add_argument("--output", action="append", default=[], metavar="PATH=URL",
                     help="upload PATH to URL (or a local path) after it ran (repeatable)")
    run.add_argument("--env", action="append", default=[], metavar="KEY=VALUE")
    run.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE")
    run.add_argument("--workdir")
    _wait_options(run, flag=True)
    run.set_defaults(handler=_run)

    create = sub.add_parser("create", help="create a task from a JSON or YAML tesTask file")
    create.add_argument("-f", "--file", required=True, help="task file (.json, .yaml; - for stdin)")
    _wait_options(create, flag=True)
    create.set_defaults(handler=_create)

    get = sub.add_parser("get", help="show a task")
    get.add_argument("id")
    get.add_argument("--view", choices=("MINIMAL", "BASIC", "FULL"), default="BASIC")
    get.set_defaults(handler=_get)

    ls = sub.add_parser("list", help="list tasks, newest first")
    ls.add_argument("--state")
    ls.add_argument("--tag", action="append", default=[], metavar="KEY[=VALUE]")
    ls.add_argument("--name-prefix")
    ls.add_argument("--all", action="store_true", help="every page, not only the first")
    ls.add_argument("--page-size", type=int)
    ls.add_argument("--view", choices=("MINIMAL", "BASIC", "FULL"), default="BASIC")
    ls.set_defaults(handler=_list)

    cancel = sub.add_parser("cancel", help="cancel tasks")
    cancel.add_argument("ids", nargs="+", metavar="id")
    cancel.set_defaults(handler=_cancel)

    wait = sub.add_parser("wait", help="wait until a task ends; the exit code follows its state")
    wait.add_argument("id")
    _wait_options(wait, flag=False)
    wait.set_defaults(handler=_wait)

    logs = sub.add_parser("logs", help="stdout and stderr of each executor")
    logs.add_argument("id")
    logs.set_defaults(handler=_logs)

    watch = sub.add_parser("watch", help="follow task events as they happen (Poiesis' change feed)")
    watch.add_argument("id", nargs="?", help="one task: its events from its creation on")
    watch.add_argument("--state", help="only events reporting this state")
    watch.add_argument("--tag", action="append", default=[], metavar="KEY[=VALUE]")
    watch.add_argument("--name-prefix")
    watch.add_argument("--since", type=int, help="resume after this event number (0: every stored event)")
    watch.add_argument("--until-done", action="store_true",
                       help="with an id: stop when the task ends; the exit code follows its state")
    watch.set_defaults(handler=_watch)


def _wait_options(parser: argparse.ArgumentParser, *, flag: bool) -> None:
    if flag:
        parser.add_argument("--wait", action="store_true", help="wait for the task to end; exit code follows its state")
    parser.add_argument("--wait-timeout", type=float, default=None, help="give up waiting after this many seconds")
    parser.add_argument("--poll", type=float, default=1.0, help="seconds between polls while waiting (default 1)")


def split_command(argv: list[str]) -> tuple[list[str], list[str]]:
    """(the words before the first ``--``, the command after it): argparse cannot mix options and a
    command that has options of its own, so ``poiesis task run`` takes its command after ``--``."""
    if "--" not in argv:
        return argv, []
    at = argv.index("--")
    return argv[:at], argv[at + 1:]


def run_from_args(args: argparse.Namespace, settings: ClientSettings) -> int:
    """Run the chosen subcommand against ``settings`` (``--server`` overrides); errors print one line to stderr."""
    client = TesClient(args.server or settings.server, token=settings.token, timeout=args.timeout)
    try:
        return args.handler(client, args)
    except spec.SpecError as exc:
        print(f"poiesis task: {exc}", file=sys.stderr)
        return USAGE
    except ClientError as exc:
        print(f"poiesis task: {exc}", file=sys.stderr)
        return UNREACHABLE if exc.status is None or exc.status >= 500 else REFUSED


def _print(args: argparse.Namespace, value: Any, text: str) -> None:
    print(render.as_json(value) if args.json else text)


def _submit(client: TesClient, args: argparse.Namespace, task: dict[str, Any]) -> int:
    task_id = client.create(task)
    if not args.wait:
        _print(args, {"id": task_id}, task_id)
        return OK
    if not args.json:
        print(task_id, file=sys.stderr)
    return _wait_and_show(client, args, task_id)


def _run(client: TesClient, args: argparse.Namespace) -> int:
    task = spec.run_task(
        args.image, args.cmd, name=args.name, inputs=args.input, outputs=args.output,
        env=args.env, tags=args.tag, workdir=args.workdir,
    )
    return _submit(client, args, task)


def _create(client: TesClient, args: argparse.Namespace) -> int:
    return _submit(client, args, spec.load_task(args.file))


def _get(client: TesClient, args: argparse.Namespace) -> int:
    task = client.get(args.id, view=args.view)
    _print(args, task, render.task_detail(task))
    return exit_code(task.get("state"))


def _tag_filters(words: list[str]) -> dict[str, list[str]]:
    """``--tag K[=V]`` words as ListTasks' tag_key/tag_value (no values at all when every tag is a bare key)."""
    keys, values = [], []
    for word in words:
        key, _, value = word.partition("=")
        keys.append(key)
        values.append(value)
    return {"tag_key": keys, "tag_value": values if any(values) else []}


def _list(client: TesClient, args: argparse.Namespace) -> int:
    tasks = list(client.list(
        all_pages=args.all, state=args.state, name_prefix=args.name_prefix, page_size=args.page_size,
        view=args.view, **_tag_filters(args.tag),
    ))
    _print(args, tasks, render.task_rows(tasks))
    return OK


def _cancel(client: TesClient, args: argparse.Namespace) -> int:
    for task_id in args.ids:
        client.cancel(task_id)
        if not args.json:
            print(f"{task_id} cancel requested")
    if args.json:
        print(render.as_json({"canceled": args.ids}))
    return OK


def _wait_and_show(client: TesClient, args: argparse.Namespace, task_id: str) -> int:
    deadline = None if args.wait_timeout is None else time.monotonic() + args.wait_timeout
    while True:
        state = client.get(task_id)["state"]
        if state in TERMINAL:
            break
        if deadline is not None and time.monotonic() >= deadline:
            task = client.get(task_id, view="BASIC")
            _print(args, task, render.task_detail(task))
            print(f"poiesis task: {task_id} is still {state} after {args.wait_timeout:g}s", file=sys.stderr)
            return TIMEOUT
        time.sleep(args.poll)
    task = client.get(task_id, view="BASIC")
    _print(args, task, render.task_detail(task))
    return exit_code(task["state"])


def _wait(client: TesClient, args: argparse.Namespace) -> int:
    return _wait_and_show(client, args, args.id)


def _watch(client: TesClient, args: argparse.Namespace) -> int:
    """One line (or JSON object) per event until interrupted, or until the task ends with ``--until-done``."""
    if args.until_done and not args.id:
        raise spec.SpecError("--until-done needs a task id")
    since = args.since if args.since is not None else (0 if args.id else None)
    frames = client.events(since=since, id=args.id, state=args.state, name_prefix=args.name_prefix,
                           **_tag_filters(args.tag))
    try:
        for frame in frames:
            if frame.event != "state":
                continue
            event = {"seq": frame.id, **frame.data}
            print(render.as_line(event) if args.json else render.event_line(event), flush=True)
            if args.until_done and event["state"] in TERMINAL:
                return exit_code(event["state"])
    except KeyboardInterrupt:
        return OK
    return OK


def _logs(client: TesClient, args: argparse.Namespace) -> int:
    task = client.get(args.id, view="FULL")
    if args.json:
        print(render.as_json(render.executor_logs(task)))
    else:
        sys.stdout.write(render.logs_text(task))
    return exit_code(task.get("state"))
