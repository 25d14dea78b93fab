"""TOF: upload every output of a task and return one output file log per file.

Planning (which local file goes to which URL) is pure and separate from
uploading. A FILE output that does not exist is an error; a DIRECTORY
output yields one log per file below it; a wildcard path (POSIX patterns)
yields one log per match, its URL being the output url plus the match with
``path_prefix`` removed. Nothing is reported until every upload succeeded.
"""

from __future__ import annotations

import glob
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from poiesis import layout
from poiesis.config.filer import FilerConfig
from poiesis.filer import backends
from poiesis.filer.backends.base import Backend
from poiesis.filer.errors import FilerError, hide, public_url
from poiesis.filer.spec import OutputSpec
from poiesis.filer.transfer import join_url, local_tree, with_retries

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Upload:
    """One local file to send to one URL."""

    local: Path
    path: str
    url: str

    def file_log(self) -> dict[str, str]:
        """The tesOutputFileLog for this upload (size_bytes is a string; no credentials in the url)."""
        return {"url": public_url(self.url), "path": self.path, "size_bytes": str(self.local.stat().st_size)}


def upload_outputs(outputs: Sequence[OutputSpec], *, root: Path, config: FilerConfig) -> list[dict[str, str]]:
    """Upload every output of a task; return the output file logs, in task order."""
    hide(config.secrets)
    cache: dict[str, Backend] = {}
    logs: list[dict[str, str]] = []
    try:
        for index, item in enumerate(outputs):
            try:
                for upload in plan_output(item, root=root):
                    _upload(upload, config=config, cache=cache)
                    logs.append(upload.file_log())
            except (FilerError, layout.LayoutError) as exc:
                raise FilerError(f"output {_label(item, index)}: {exc}") from exc
    finally:
        for backend in cache.values():
            backend.close()
    return logs


def output_types(outputs: Sequence[OutputSpec], *, root: Path) -> list[str]:
    """The type of each output (given, or found on disk when the task left it out)."""
    return [_resolve_type(item, root=root) for item in outputs]


def plan_output(item: OutputSpec, *, root: Path) -> list[Upload]:
    """The uploads one tesOutput stands for (no I/O beyond looking at ``root``)."""
    path, url = item.path, item.url
    if not url:
        raise FilerError("no url given")
    if layout.has_wildcard(path):
        return _plan_wildcard(path, url=url, prefix=item.path_prefix, root=root)
    local = layout.host_path(root, path)
    kind = _resolve_type(item, root=root)
    if kind == "DIRECTORY":
        if not local.is_dir():
            raise FilerError("directory does not exist")
        uploads = [Upload(p, f"{path.rstrip('/')}/{rel}", join_url(url, rel)) for rel, p in local_tree(local)]
        return _confined(uploads, root=root)
    if not local.is_file():
        raise FilerError("file does not exist" if not local.exists() else "is not a regular file")
    return _confined([Upload(local, path, url)], root=root)


def _plan_wildcard(pattern: str, *, url: str, prefix: str | None, root: Path) -> list[Upload]:
    if problem := layout.prefix_problem(pattern, prefix):
        raise FilerError(problem)
    assert prefix is not None  # prefix_problem said so
    base = layout.files_root(root)
    uploads = []
    for match in sorted(glob.glob(glob.escape(str(base)) + "/" + pattern.lstrip("/"))):
        local = Path(match)
        files = [(layout.tes_path_of(root, p), p) for _, p in local_tree(local)] if local.is_dir() else [
            (layout.tes_path_of(root, local), local)
        ]
        for tes_path, p in files:
            uploads.append(Upload(p, tes_path, join_url(url, layout.strip_prefix(tes_path, prefix))))
    if not uploads:
        log.warning("wildcard %s matched no file", pattern)
    return _confined(uploads, root=root)


def _confined(uploads: list[Upload], *, root: Path) -> list[Upload]:
    """Refuse files that resolve (through symlinks) outside ``ROOT/files``."""
    top = layout.files_root(root).resolve()
    for upload in uploads:
        if not upload.local.resolve().is_relative_to(top):
            raise FilerError(f"{upload.path} resolves outside the task's files; refusing to upload it")
    return uploads


def _resolve_type(item: OutputSpec, *, root: Path) -> str:
    given = (item.type or "").upper()
    if given in ("FILE", "DIRECTORY"):
        return given
    if given:
        raise FilerError(f"unknown type {given!r}")
    path = item.path
    if layout.has_wildcard(path):
        return "DIRECTORY"
    return "DIRECTORY" if layout.host_path(root, path).is_dir() else "FILE"


def _upload(upload: Upload, *, config: FilerConfig, cache: dict[str, Backend]) -> None:
    backend = backends.backend_for(upload.url, config=config, cache=cache)
    with_retries(lambda: backend.put_file(upload.local, upload.url), policy=config.retry, what=upload.url)
    log.info("uploaded %s", upload.path)


def _label(item: OutputSpec, index: int) -> str:
    return f"#{index} {item.path or '?'}" + (f" ({item.name})" if item.name else "")
