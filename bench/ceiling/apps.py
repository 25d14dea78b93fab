"""Minimal servers of GetTask MINIMAL and CreateTask with constant answers (no database).

``asyncapp_tes``: Connexion 3 AsyncApp with the TES document and ``async def`` handlers answering
constant bytes, Poiesis's stack since issue 20 (its default middlewares, no Poiesis guard);
``connexion``: Connexion 3 FlaskApp routed and validated from ceiling/spec.yaml, as Poiesis is
served; ``connexion_tes``: the same with the TES document Poiesis serves (generated/v1_1/openapi.yaml),
so CreateTask's body is validated against the real task schema; ``flask``: Flask behind a2wsgi;
``starlette``: a Starlette route (both only parse a CreateTask body). Each is the most any server
built on that stack can do here, whatever its handler does.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
ANSWER_STATE = "QUEUED"


def get_task(id: str, view: str = "MINIMAL") -> dict[str, str]:  # noqa: A002 - the spec's parameter name
    return {"id": id, "state": ANSWER_STATE}


def create_task(body: dict) -> dict[str, str]:
    return {"id": "task-0"}


#: the TES document names two response media types, so its handlers say which one they answer
JSON = {"Content-Type": "application/json"}


def tes_get_task(id: str, view: str = "MINIMAL") -> tuple:  # noqa: A002 - the spec's parameter name
    return get_task(id, view), 200, JSON


def tes_create_task(body: dict) -> tuple:
    return create_task(body), 200, JSON


def list_tasks(**_: object) -> tuple:
    return {"tasks": []}, 200, JSON


def cancel_task(**_: object) -> tuple:
    return {}, 200, JSON


def service_info() -> tuple:
    return {}, 200, JSON


def connexion_app():
    import connexion

    app = connexion.FlaskApp(__name__, specification_dir=str(HERE))
    app.add_api("spec.yaml")
    return app


def _tes_document(prefix: str) -> dict:
    """The TES document Poiesis serves, each operationId pointing at ``apps.<prefix><operation>`` here."""
    import copy

    from poiesis.api import document

    spec = copy.deepcopy(document.spec())
    names = {"GetTask": "get_task", "CreateTask": "create_task", "ListTasks": "list_tasks",
             "CancelTask": "cancel_task", "GetServiceInfo": "service_info"}
    for path in spec["paths"].values():
        for operation in path.values():
            if isinstance(operation, dict) and "operationId" in operation:
                operation.pop("x-openapi-router-controller", None)
                operation["operationId"] = f"apps.{prefix}{names[operation['operationId']]}"
    return spec


def tes_list_tasks(**_: object) -> tuple:
    return list_tasks()


def tes_cancel_task(**_: object) -> tuple:
    return cancel_task()


def tes_service_info() -> tuple:
    return service_info()


def connexion_tes_app():
    import connexion

    app = connexion.FlaskApp(__name__, specification_dir=str(HERE))
    app.add_api(_tes_document("tes_"))  # servers: /ga4gh/tes/v1
    return app


# Connexion 3 AsyncApp (what Poiesis serves since issue 20): async handlers answering bytes, as Poiesis's do.
async def async_get_task(id: str, view: str = "MINIMAL"):  # noqa: A002 - the spec's parameter name
    from starlette.responses import Response

    return Response(b'{"id":"' + id.encode() + b'","state":"QUEUED"}', media_type="application/json")


async def async_create_task(body: dict):
    from starlette.responses import Response

    return Response(b'{"id":"task-0"}', media_type="application/json")


async def async_list_tasks(**_: object):
    from starlette.responses import Response

    return Response(b'{"tasks":[]}', media_type="application/json")


async def async_cancel_task(**_: object):
    from starlette.responses import Response

    return Response(b"{}", media_type="application/json")


async def async_service_info():
    from starlette.responses import Response

    return Response(b"{}", media_type="application/json")


def asyncapp_tes_app():
    import connexion

    app = connexion.AsyncApp(__name__, specification_dir=str(HERE))
    app.add_api(_tes_document("async_"))
    return app


def flask_app():
    from a2wsgi import WSGIMiddleware
    from flask import Flask, request

    flask = Flask(__name__)
    flask.add_url_rule("/ga4gh/tes/v1/tasks/<id>", "get", view_func=lambda id: get_task(id))  # noqa: A006
    flask.add_url_rule("/ga4gh/tes/v1/tasks", "create", methods=["POST"], view_func=lambda: create_task(request.get_json()))
    return WSGIMiddleware(flask)


def starlette_app():
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def route(request):
        return JSONResponse(get_task(request.path_params["id"]))

    async def create(request):
        return JSONResponse(create_task(await request.json()))

    return Starlette(routes=[Route("/ga4gh/tes/v1/tasks/{id}", route),
                             Route("/ga4gh/tes/v1/tasks", create, methods=["POST"])])
