"""Three minimal servers of GetTask MINIMAL with a constant answer (no database, no checks).

``connexion``: Connexion 3 FlaskApp routed and validated from ceiling/spec.yaml, as Poiesis is
served; ``flask``: Flask behind a2wsgi; ``starlette``: a Starlette route. Each is the most any
server built on that stack can do here, whatever its handler does.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
ANSWER_STATE = "QUEUED"


def get_task(id: str, view: str = "MINIMAL") -> dict[str, str]:  # noqa: A002 - the spec's parameter name
    return {"id": id, "state": ANSWER_STATE}


def connexion_app():
    import connexion

    app = connexion.FlaskApp(__name__, specification_dir=str(HERE))
    app.add_api("spec.yaml")
    return app


def flask_app():
    from a2wsgi import WSGIMiddleware
    from flask import Flask

    flask = Flask(__name__)
    flask.add_url_rule("/ga4gh/tes/v1/tasks/<id>", view_func=lambda id: get_task(id))  # noqa: A006
    return WSGIMiddleware(flask)


def starlette_app():
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def route(request):
        return JSONResponse(get_task(request.path_params["id"]))

    return Starlette(routes=[Route("/ga4gh/tes/v1/tasks/{id}", route)])
