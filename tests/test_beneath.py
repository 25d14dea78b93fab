"""``beneath.read_tail`` and ``read_bounded`` on a real directory with what an executor could plant there."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from poiesis import beneath


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "root" / "files" / "out").mkdir(parents=True)
    (tmp_path / "secret").write_text("token")
    return tmp_path / "root"


def test_a_regular_file_gives_its_tail_and_its_whole(root: Path) -> None:
    path = root / "files" / "out" / "log"
    path.write_bytes(b"0123456789")
    assert beneath.read_tail(root, path, 4) == b"6789"
    assert beneath.read_tail(root, path, 100) == b"0123456789"
    assert beneath.read_bounded(root, path, 10) == b"0123456789"
    with pytest.raises(beneath.TooLarge):
        beneath.read_bounded(root, path, 9)


def test_a_huge_sparse_file_costs_only_the_bound(root: Path) -> None:
    path = root / "files" / "out" / "log"
    with open(path, "wb") as f:
        f.truncate(1 << 40)  # 1 TiB, no blocks
        f.seek(0, 2)
        f.write(b"end")
    assert beneath.read_tail(root, path, 5) == b"\x00\x00end"
    with pytest.raises(beneath.TooLarge, match="larger than 1000 bytes"):
        beneath.read_bounded(root, path, 1000)


@pytest.mark.parametrize("plant", ["final", "parent", "hard", "fifo", "dir", "escape"])
def test_links_and_special_files_are_refused_not_followed(root: Path, plant: str) -> None:
    """A final or intermediate symlink, a hard link, a FIFO, a directory, '..': Unsafe, the secret unread."""
    secret = root.parent / "secret"
    out = root / "files" / "out"
    path = out / "log"
    if plant == "final":
        path.symlink_to(secret)
    elif plant == "parent":
        out.rmdir()
        out.symlink_to(root.parent)
        path = out / "secret"
    elif plant == "hard":
        os.link(secret, path)
    elif plant == "fifo":
        os.mkfifo(path)
    elif plant == "dir":
        path.mkdir()
    else:
        path = root / "files" / ".." / ".." / "secret"
    for read in (beneath.read_tail, beneath.read_bounded):
        with pytest.raises(beneath.Unsafe):
            read(root, path, 100)


def test_a_fifo_with_a_writer_waiting_does_not_block(root: Path) -> None:
    """Opening a FIFO to read does not wait for a writer, and it is refused without reading."""
    path = root / "files" / "out" / "log"
    os.mkfifo(path)
    done = threading.Event()

    def read() -> None:
        with pytest.raises(beneath.Unsafe, match="not a regular file"):
            beneath.read_tail(root, path, 100)
        done.set()

    threading.Thread(target=read, daemon=True).start()
    assert done.wait(10), "reading blocked on the FIFO"


def test_a_missing_file_is_file_not_found(root: Path) -> None:
    with pytest.raises(FileNotFoundError):
        beneath.read_tail(root, root / "files" / "out" / "none", 10)
