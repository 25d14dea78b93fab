"""The Connexion application: the OpenAPI document, its handlers and the error shape.

Everything that is not a successful response leaves as a problem+json
document: Connexion's validation errors already are; database outages become
503 and anything unexpected 500, never an HTML page.
"""

from __future__ import annotations

import json
import logging

import connexion
from connexion.datastructures import MediaTypeDict
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from connexion.middleware import MiddlewarePosition
from connexion.options import SwaggerUIOptions
from connexion.resolver import Resolver
from connexion.validators import VALIDATOR_MAP
from starlette.exceptions import HTTPException

from poiesis.api import auth, compat, document, ops, parameters, wsgi
from poiesis.api.context import Context
from poiesis.api.document import spec_path
from poiesis.api.errors import PROBLEM_JSON, Jsonifier, problem_body
from poiesis.api.guard import Guard
from poiesis.api.nulls import NullTolerantBodyValidator
from poiesis.store import Unavailable

log = logging.getLogger(__name__)

BASE_PATH = "/ga4gh/tes/v1"
__all__ = ["BASE_PATH", "create_app", "spec_path"]


def _response(status: int, detail: str) -> ConnexionResponse:
    return ConnexionResponse(
        status_code=status, content_type=PROBLEM_JSON, body=json.dumps(problem_body(status, detail))
    )


def _unavailable(_request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    log.warning("database unavailable: %s", exc)
    return _response(503, "the task database is unavailable; try again shortly")


def _http_error(_request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    assert isinstance(exc, HTTPException)
    return _response(exc.status_code, str(exc.detail))


def _unexpected(_request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    log.exception("unhandled error", exc_info=exc)
    return _response(500, "internal server error; the server log has the details")


def _add_compat_routes(app: connexion.FlaskApp, context: Context) -> None:
    """Routes served beside the document for older clients (docs/api.md, compatibility routes)."""
    app.add_middleware(
        compat.ServiceInfoV10,
        position=MiddlewarePosition.BEFORE_ROUTING,
        path=BASE_PATH + compat.PATH,
        info=lambda: context.service_info,
    )


def create_app(context: Context, *, authenticator: auth.Authenticator | None = None) -> connexion.FlaskApp:
    """A Connexion FlaskApp serving TES under /ga4gh/tes/v1 with Swagger UI, behind the guard.

    ``authenticator`` defaults to the one ``context.security.auth`` names.
    """
    app = connexion.FlaskApp(__name__, jsonifier=Jsonifier())
    wsgi.install(app)  # one thread hop per request instead of a2wsgi's several
    spec = document.spec()  # parsed once per process, before the first request needs it
    # Middlewares added at one position run in the order added: Measure sees every request,
    # the guard's refusals too; Probes answers behind the guard's Host check.
    app.add_middleware(ops.Measure, position=MiddlewarePosition.BEFORE_EXCEPTION, spec=spec, base_path=BASE_PATH)
    app.add_middleware(
        Guard,
        position=MiddlewarePosition.BEFORE_EXCEPTION,
        settings=context.security,
        authenticator=authenticator or auth.authenticator(context.security.auth),
        base_path=BASE_PATH,
        spec=spec,
    )
    app.add_middleware(ops.Probes, position=MiddlewarePosition.BEFORE_EXCEPTION, ready=context.store.ping,
                       metrics_dir=context.metrics_dir)
    app.add_api(
        spec_path(),
        base_path=BASE_PATH,
        resolver=Resolver(),
        swagger_ui_options=SwaggerUIOptions(swagger_ui=True),
        strict_validation=False,
        validate_responses=False,
        validator_map={
            "parameter": parameters.NamingParameterValidator,
            "body": MediaTypeDict({**VALIDATOR_MAP["body"], "*/*json": NullTolerantBodyValidator}),
        },
    )
    app.app.config["POIESIS"] = context
    _add_compat_routes(app, context)
    app.add_error_handler(Unavailable, _unavailable)
    app.add_error_handler(HTTPException, _http_error)
    app.add_error_handler(Exception, _unexpected)
    return app
