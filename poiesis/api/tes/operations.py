"""The five TES operations, resolved by Connexion from the operationIds in openapi/.

``Operations(context)`` holds them as ``async def`` methods; the app resolves
each operationId to the bound method of that name. Connexion has already
checked types, enums and required fields against the schema; the operations
check the rest (``validate``), await the store and hand tasks to the backend.
A task's JSON is written by PostgreSQL and sent as those bytes: no model is
built and nothing is encoded again on the way out. Errors are problem+json.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.responses import Response

from generated import models
from poiesis import layout, logs, metrics, scheduling, states
from poiesis.api import document
from poiesis.api.errors import json_response, problem_response, raw_list
from poiesis.api.hardening import limits, nulls, principal
from poiesis.api.tes import fileurls, tokens, validate
from poiesis.api.tes.context import Context
from poiesis.store import TaskFilter

log = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 256
MAX_PAGE_SIZE = 2047
#: The operationIds of openapi/, each a method of ``Operations``.
OPERATION_IDS = ("GetServiceInfo", "ListTasks", "CreateTask", "GetTask", "CancelTask")


class Operations:
    """The TES operations over one ``Context`` (method names are the document's operationIds)."""

    def __init__(self, context: Context) -> None:
        self.ctx = context

    async def GetServiceInfo(self) -> Response:  # noqa: N802 - named by the operationId
        """GET /service-info."""
        return json_response(self.ctx.service_info_json)

    async def CreateTask(self) -> Response:  # noqa: N802
        """POST /tasks: store the task QUEUED, then hand it to the backend.

        The body comes as the body validator left it (parsed once, nulls stripped, checked
        against the schema); it is validated into the generated ``TesTask`` once; that model goes on to the store and
        the backend as it is. The read-only members a client may send (id, state, logs,
        creation_time) are ignored: the store does not write them and no backend reads them.
        """
        body = nulls.validated_body()
        if not isinstance(body, dict):
            return problem_response(400, "the request body must be a JSON object (tesTask)")
        ctx = self.ctx
        found = (limits.problems(body, ctx.security.limits) or _integer_problems(body, ctx.tes_version)
                 or validate.problems(body))
        if found:
            return problem_response(400, "; ".join(found))
        task = models.TesTask.model_validate(body)
        found = layout.mount_problems(task) or fileurls.problems(body, ctx.backend.file_roots)
        if found:
            return problem_response(400, "; ".join(found))
        caller = principal.current()
        resolved = _resolve_backend_parameters(task, ctx)
        if isinstance(resolved, Response):
            return resolved
        task, warnings = resolved
        if limit := _time_limit_problem(task, ctx):
            return problem_response(400, limit)
        task_id = await ctx.store.create_task(task, owner=caller.owner)
        metrics.TASKS_CREATED.inc()
        with logs.task(task_id):
            log.info("created task for %s", caller.owner or "anonymous")
            if warnings:
                await ctx.store.add_system_logs(task_id, warnings)
            await ctx.submit(task_id, task)
        return json_response(b'{"id":"' + task_id.encode() + b'"}')

    async def GetTask(self, id: str, view: str = "MINIMAL") -> Response:  # noqa: N802, A002 - spec names
        """GET /tasks/{id}."""
        task = await self.ctx.store.get_task(id, view=view, as_text=True, owner=_visible_owner())
        if task is None:
            return problem_response(404, f"no task with id {id!r}")
        return json_response(task.encode())

    async def ListTasks(  # noqa: N802 - named by the operationId, one argument per spec parameter
        self,
        name_prefix: str | None = None,
        state: str | None = None,
        tag_key: list[str] | None = None,
        tag_value: list[str] | None = None,
        page_size: int | None = None,
        page_token: str | None = None,
        view: str = "MINIMAL",
    ) -> Response:
        """GET /tasks: newest first, filtered, one page at a time."""
        size = DEFAULT_PAGE_SIZE if page_size is None else page_size
        if not 1 <= size <= MAX_PAGE_SIZE:
            return problem_response(400, f"page_size must be between 1 and {MAX_PAGE_SIZE}, got {size}")
        keys, values = tag_key or [], tag_value or []
        if len(values) > len(keys):
            return problem_response(400, "tag_value was given more often than tag_key")
        below = None
        if page_token:
            try:
                below = tokens.decode(page_token)
            except tokens.BadToken as exc:
                return problem_response(400, str(exc))
        filters = TaskFilter(
            name_prefix=name_prefix or None,
            # Connexion fills in the schema default UNKNOWN; no task is ever UNKNOWN.
            state=None if state in (None, states.State.UNKNOWN) else state,
            tags=dict(zip(keys, values + [""] * (len(keys) - len(values)), strict=False)),
            owner=_visible_owner(),
        )
        page = await self.ctx.store.list_tasks(
            filters=filters, page_size=size, below_seq=below, view=view, as_text=True,
            max_bytes=self.ctx.security.limits.list_bytes,
        )
        extra = {} if page.next_seq is None else {"next_page_token": tokens.encode(page.next_seq)}
        return json_response(raw_list(page.tasks, **extra))

    async def CancelTask(self, id: str) -> Response:  # noqa: N802, A002
        """POST /tasks/{id}:cancel: CANCELING, then the backend stops it."""
        if await self.ctx.cancel_task(id, owner=_visible_owner()) is None:
            return problem_response(404, f"no task with id {id!r}")
        return json_response(b"{}")


def _visible_owner() -> str | None:
    """The owner whose tasks the caller of this request may see (``principal.visible_owner``)."""
    return principal.visible_owner(principal.current())


def _integer_problems(body: dict[str, Any], version: str) -> list[str]:
    """Integers outside their OpenAPI format's range in the served document (cpu_cores is int32 in TES 1.1)."""
    return limits.integer_problems(body, {"$ref": "#/components/schemas/tesTask"}, document.component_schemas(version))


def _resolve_backend_parameters(
    task: models.TesTask, ctx: Context
) -> tuple[models.TesTask, list[str]] | Response:
    """The task with the backend_parameters the backend keeps (lower-case keys), and the warnings to log; or a 400.

    TES: keys the backend does not implement are dropped with a warning, or refused with
    backend_parameters_strict. Keys it implements are checked against the operator's
    allowlists whether strict or not: a refusal names the key, the value and the setting
    (docs/security.md). The backend checks them again before anything runs.
    """
    resources = task.resources
    if resources is None or not resources.backend_parameters:
        return task, []
    policy = ctx.backend.parameters
    kept, unsupported = validate.split_backend_parameters(resources.backend_parameters, policy.known)
    if unsupported and resources.backend_parameters_strict:
        supported = ", ".join(sorted(policy.enabled)) or "none"
        return problem_response(400, f"resources.backend_parameters: unsupported keys {', '.join(sorted(unsupported))}"
                                     f" with backend_parameters_strict=true (supported: {supported})")
    if refusals := policy.refusals(kept):
        return problem_response(400, "; ".join(r.message for r in refusals),
                                backend_parameters=[r.as_json() for r in refusals])
    if kept == resources.backend_parameters:
        return task, []
    resources = resources.model_copy(update={"backend_parameters": kept or None})
    warnings = [f"warning: backend_parameters not supported and ignored: {', '.join(sorted(unsupported))}"]
    return task.model_copy(update={"resources": resources}), warnings if unsupported else []


def _time_limit_problem(task: models.TesTask, ctx: Context) -> str | None:
    """The task's time limit (active_deadline_seconds, kept for a backend that takes it) against the maximum."""
    params = task.resources.backend_parameters if task.resources else None
    return scheduling.time_limit_problem(params, ctx.backend.max_task_seconds)

