"""file:// (and bare absolute paths): copies within the configured allowed roots only.

Every path is resolved (symlinks followed) before the check, so a link
cannot lead outside the roots.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from poiesis.filer import roots
from poiesis.filer.backends.base import Backend
from poiesis.filer.errors import FilerError
from poiesis.filer.transfer import atomic_file, local_tree


class FileBackend(Backend):
    """Local or shared-mount files, confined to ``config.file_roots``."""

    def get_file(self, url: str, dest: Path) -> int:
        src = self._resolve(url)
        if not src.is_file():
            raise FilerError(f"{url}: no such file")
        with src.open("rb") as fin, atomic_file(dest) as fout:
            shutil.copyfileobj(fin, fout, self.config.chunk_size)
            return fout.tell()

    def put_file(self, src: Path, url: str) -> None:
        dest = self._resolve(url)
        if dest.is_dir():
            raise FilerError(f"{url}: is a directory")
        with src.open("rb") as fin, atomic_file(dest) as fout:
            shutil.copyfileobj(fin, fout, self.config.chunk_size)

    def list_files(self, url: str) -> list[str]:
        root = self._resolve(url)
        if not root.is_dir():
            raise FilerError(f"{url}: no such directory")
        rels = [rel for rel, path in local_tree(root)]
        for rel in rels:
            self._check_allowed(Path(os.path.realpath(root / rel)), url=url)
        return rels

    def _resolve(self, url: str) -> Path:
        path = roots.path_of(url)
        real = Path(os.path.realpath(path))
        self._check_allowed(real, url=url)
        return real

    def _check_allowed(self, real: Path, *, url: str) -> None:
        if not roots.within(real, self.config.file_roots):
            raise FilerError(f"{url}: file access outside the allowed roots is refused ({roots.ENV})")

