"""How the API is served: uvicorn's configuration (the guarded protocol, the limits) and its workers.

What is served, and with which database and backend, is the composition
root's business (``poiesis.compose``); this module only knows uvicorn.
"""

from __future__ import annotations

from typing import Any

from poiesis.api.feed import hub
from poiesis.api.hardening import protocol
from poiesis.config import Settings


class StreamsEndingProtocol(protocol.GuardedHttpTools):
    """The guarded protocol, which also ends the change feed's open streams when uvicorn stops.

    uvicorn asks every connection to shut down, then waits for the responses still open; a
    feed stream never ends by itself, so the first such call ends them all (``hub.stop_all``).
    """

    def shutdown(self) -> None:
        hub.stop_all()
        super().shutdown()


def uvicorn_config(settings: Settings, app: Any, *, workers: int = 1, factory: bool = False) -> Any:
    """uvicorn's Config for the API: the guarded protocol (httptools) and the configured limits."""
    import uvicorn

    from poiesis import logs

    limits = settings.security.limits
    config = uvicorn.Config(
        app, factory=factory, host=settings.api.host, port=settings.api.port, workers=workers, log_level="info",
        log_config=logs.uvicorn_log_config(settings.logging.format), access_log=settings.api.access_log,
        http=StreamsEndingProtocol, timeout_keep_alive=max(1, round(limits.idle_timeout)),
        h11_max_incomplete_event_size=limits.header_bytes, server_header=False,
        limit_concurrency=limits.concurrency,
    )
    setattr(config, protocol.CONFIG_ATTRIBUTE, limits.header_timeout)
    setattr(config, protocol.HEADER_BYTES_ATTRIBUTE, limits.header_bytes)
    return config


def run(config: Any) -> None:
    """Serve ``config`` until interrupted: one process, or ``config.workers`` spawned workers.

    Each worker unpickles the config, its factory and settings included, and loads the app itself.
    """
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    if config.workers > 1:
        Multiprocess(config, sockets=[config.bind_socket()]).run()
    else:
        uvicorn.Server(config).run()
