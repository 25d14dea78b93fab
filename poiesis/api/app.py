"""The ASGI app: Connexion's AsyncApp serving openapi/, behind the request hardening.

Routes, parameter and body validation and Swagger UI come from the
document; each operationId resolves to a method of ``Operations`` bound to
the one ``Context``. In front, outermost first: ``Measure`` (every request
counted, refusals too), the ``Guard`` (Host, hostile input, Origin,
credentials, body bounds), ``Probes`` (health, readiness, metrics), the
change feed (``feed``, an extension), the dashboard's pages (``dashboard``,
Flask) and the TES 1.0 service-info route. Everything that is not a successful response
leaves as a problem+json document: Connexion's validation errors already
are; database outages become 503 and anything unexpected 500, never an
HTML page. The lifespan opens the store's async pool in the serving loop.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import connexion
from connexion.datastructures import MediaTypeDict
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from connexion.middleware import ConnexionMiddleware, MiddlewarePosition
from connexion.middleware.response_validation import ResponseValidationMiddleware
from connexion.middleware.security import SecurityMiddleware
from connexion.options import SwaggerUIOptions
from connexion.resolver import Resolver
from connexion.validators import VALIDATOR_MAP
from starlette.exceptions import HTTPException

from poiesis.api import document, operation_cache, probes
from poiesis.api.dashboard.mount import Dashboard
from poiesis.api.document import spec_path
from poiesis.api.errors import PROBLEM_JSON, problem_bytes
from poiesis.api.feed.hub import Hub
from poiesis.api.feed.route import Feed
from poiesis.api.hardening import auth, parameters
from poiesis.api.hardening.guard import Guard
from poiesis.api.hardening.nulls import NullTolerantBodyValidator
from poiesis.api.tes import compat
from poiesis.api.tes.context import DASHBOARD_PATH, EVENTS_PATH, Context
from poiesis.api.tes.operations import Operations
from poiesis.store import Unavailable

log = logging.getLogger(__name__)

BASE_PATH = "/ga4gh/tes/v1"
__all__ = ["BASE_PATH", "create_app", "spec_path"]

#: Connexion's middlewares less the two this API has no use for: the document declares no security
#: requirement (the Guard authenticates) and responses are not validated.
MIDDLEWARES = [m for m in ConnexionMiddleware.default_middlewares
               if m not in (SecurityMiddleware, ResponseValidationMiddleware)]


def _response(status: int, detail: str) -> ConnexionResponse:
    return ConnexionResponse(status_code=status, content_type=PROBLEM_JSON, body=problem_bytes(status, detail))


def _unavailable(_request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    log.warning("database unavailable: %s", exc)
    return _response(503, "the task database is unavailable; try again shortly")


def _http_error(_request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    assert isinstance(exc, HTTPException)
    return _response(exc.status_code, str(exc.detail))


def _unexpected(_request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    log.exception("unhandled error", exc_info=exc)
    return _response(500, "internal server error; the server log has the details")


def _resolver(operations: Operations) -> Resolver:
    """operationId -> the bound method of that name (the document's router-controller names the class's module)."""

    def method(name: str) -> Any:
        return getattr(operations, name.rsplit(".", 1)[-1])

    return Resolver(function_resolver=method)


def create_app(context: Context, *, authenticator: auth.Authenticator | None = None) -> connexion.AsyncApp:
    """A Connexion AsyncApp serving TES (the document of ``context.tes_version``) under /ga4gh/tes/v1, behind the guard.

    ``authenticator`` defaults to the one ``context.security.auth`` names. Serve it with its
    lifespan (uvicorn does; a test client must be used as a context manager): the lifespan
    opens ``context.store``.
    """

    hub = Hub(context.store, max_subscribers=context.feed.subscribers, queue=context.feed.queue)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        await context.store.open()
        try:
            yield
        finally:
            await hub.close()
            await context.store.close()

    app = connexion.AsyncApp(__name__, lifespan=lifespan, middlewares=list(MIDDLEWARES))
    operation_cache.install(app)  # each operation decorated once (Connexion decorates per request)
    spec = document.spec(context.tes_version)  # parsed once per process, before the first request needs it
    # Middlewares added at one position run in the order added: Measure sees every request,
    # the guard's refusals too; Probes answers behind the guard's Host check.
    app.add_middleware(probes.Measure, position=MiddlewarePosition.BEFORE_EXCEPTION, spec=spec,
                       base_path=BASE_PATH)
    app.add_middleware(
        Guard,
        position=MiddlewarePosition.BEFORE_EXCEPTION,
        settings=context.security,
        authenticator=authenticator or auth.authenticator(context.security.auth),
        base_path=BASE_PATH,
        spec=spec,
    )
    app.add_middleware(probes.Probes, position=MiddlewarePosition.BEFORE_EXCEPTION, ready=context.store.ping,
                       metrics_dir=context.metrics_dir)
    # The change feed, an extension beside TES (docs/api.md), also under the dashboard's path for its pages.
    app.add_middleware(Feed, position=MiddlewarePosition.BEFORE_EXCEPTION, store=context.store, hub=hub,
                       paths=(EVENTS_PATH, DASHBOARD_PATH + "events"))
    app.add_middleware(Dashboard, position=MiddlewarePosition.BEFORE_EXCEPTION, context=context)
    app.add_middleware(compat.ServiceInfoV10, position=MiddlewarePosition.BEFORE_ROUTING,
                       path=BASE_PATH + compat.PATH, info=lambda: context.service_info)
    app.add_api(
        spec_path(context.tes_version),
        base_path=BASE_PATH,
        resolver=_resolver(Operations(context)),
        swagger_ui_options=SwaggerUIOptions(swagger_ui=True),
        strict_validation=False,
        validate_responses=False,
        validator_map={
            "parameter": parameters.NamingParameterValidator,
            "body": MediaTypeDict({**VALIDATOR_MAP["body"], "*/*json": NullTolerantBodyValidator.of(context.tes_version)}),
        },
    )
    app.add_error_handler(Unavailable, _unavailable)
    app.add_error_handler(HTTPException, _http_error)
    app.add_error_handler(Exception, _unexpected)
    return app
