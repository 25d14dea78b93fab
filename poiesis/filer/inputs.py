"""TIF: put every input of a task at its path under ``ROOT/files``.

Inline ``content`` wins over ``url`` (the spec says the url is then
ignored). Nothing here knows a scheme; backends do the transfers.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from poiesis import layout
from poiesis.config.filer import FilerConfig
from poiesis.filer import backends
from poiesis.filer.backends.base import Backend
from poiesis.filer.errors import FilerError, hide
from poiesis.filer.spec import InputSpec
from poiesis.filer.transfer import atomic_file, join_url, with_retries

log = logging.getLogger(__name__)


def fetch_inputs(inputs: Sequence[InputSpec], *, root: Path, config: FilerConfig) -> None:
    """Fetch every input of a task; raise FilerError naming the first one that failed."""
    hide(config.secrets)
    cache: dict[str, Backend] = {}
    try:
        for index, item in enumerate(inputs):
            try:
                fetch_input(item, root=root, config=config, cache=cache)
            except (FilerError, layout.LayoutError) as exc:
                raise FilerError(f"input {_label(item, index)}: {exc}") from exc
    finally:
        for backend in cache.values():
            backend.close()


def fetch_input(
    item: InputSpec, *, root: Path, config: FilerConfig, cache: dict[str, Backend] | None = None
) -> None:
    """Fetch one tesInput to its place under ``root``."""
    dest = layout.host_path(root, item.path)
    url = item.url or ""
    content = item.content
    if content or (content is not None and not url):  # non-empty content wins; "" alone is an empty file
        with atomic_file(dest) as fh:
            fh.write(content.encode("utf-8"))
        return
    if not url:
        raise FilerError("neither content nor url given")
    backend = backends.backend_for(url, config=config, cache=cache)
    kind = (item.type or "FILE").upper()
    if kind == "DIRECTORY":
        _fetch_tree(backend, url=url, dest=dest, config=config)
    elif kind == "FILE":
        _fetch_file(backend, url=url, dest=dest, config=config)
    else:
        raise FilerError(f"unknown type {kind!r}")


def _fetch_file(backend: Backend, *, url: str, dest: Path, config: FilerConfig) -> None:
    size = with_retries(lambda: backend.get_file(url, dest), policy=config.retry, what=url)
    log.info("fetched %s bytes to %s", size, dest)


def _fetch_tree(backend: Backend, *, url: str, dest: Path, config: FilerConfig) -> None:
    rels = with_retries(lambda: backend.list_files(url), policy=config.retry, what=url)
    dest.mkdir(parents=True, exist_ok=True)
    for rel in rels:
        target = dest / rel
        if not target.resolve().is_relative_to(dest.resolve()):
            raise FilerError(f"{url}: entry {rel!r} would land outside the input directory")
        _fetch_file(backend, url=join_url(url, rel), dest=target, config=config)


def _label(item: InputSpec, index: int) -> str:
    return f"#{index} {item.path or '?'}" + (f" ({item.name})" if item.name else "")
