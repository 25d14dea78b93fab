"""Process mode's path rewriting: TES paths in commands and environment values become host paths.

Pure: no I/O. The paths executors see come from ``poiesis.layout.mounts``
(container mode bind-mounts them); with no container, process mode replaces
each of them, wherever it appears as a whole path name, by where it lives
on this machine (``ROOT/files/P``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path

from poiesis import layout

# Characters that continue a path: a mapped path only matches where it is not
# part of a longer name on either side.
_PATH_CHAR = r"[\w.\-~+@%]"


def rewriter(paths: Iterable[str], *, root: Path) -> Callable[[str], str]:
    """A function replacing each of ``paths`` (and anything below it) in a text by its host path.

    A path matches only as a whole name: not preceded by a path character or
    ``/`` and followed by ``/``, the end, or a character that cannot continue
    a file name. ``/data`` thus rewrites ``/data``, ``/data/x`` and
    ``--in=/data/x``, but not ``/database`` or ``/old/data``.
    """
    ordered = sorted(set(paths), key=len, reverse=True)
    if not ordered:
        return lambda text: text
    pattern = re.compile(
        rf"(?<!{_PATH_CHAR})(?<!/)({'|'.join(re.escape(p) for p in ordered)})(?!{_PATH_CHAR})"
    )
    base = str(layout.files_root(root))

    def rewrite(text: str) -> str:
        return pattern.sub(lambda m: base + m.group(1), text)

    return rewrite
