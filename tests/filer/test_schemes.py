"""Every scheme x FILE / DIRECTORY / wildcard, inputs and outputs, against the real servers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from poiesis.filer import FilerError, fetch_inputs, upload_outputs
from poiesis.filer.errors import public_url
from tests.filer.conftest import Remote
from tests.tasks import inputs_of, outputs_of

TREE = {"a.txt": b"alpha\n", "sub/b.bin": os.urandom(300_000), "sub/deeper/c.txt": b"gamma"}


def _cfg(request: pytest.FixtureRequest, name: str):  # type: ignore[no-untyped-def]
    return request.getfixturevalue(name)


def _write_tree(base: Path, tree: dict[str, bytes]) -> None:
    for rel, data in tree.items():
        (base / rel).parent.mkdir(parents=True, exist_ok=True)
        (base / rel).write_bytes(data)


def test_file_input(remote: tuple[Remote, str], root: Path, request: pytest.FixtureRequest) -> None:
    """A FILE input lands byte-for-byte at ROOT/files/<path>."""
    store, cfg = remote
    data = os.urandom(1_500_000)
    store.put("in/data.bin", data)
    task = {"inputs": [{"url": store.url("in/data.bin"), "path": "/data/in.bin", "type": "FILE"}]}
    fetch_inputs(inputs_of(task), root=root, config=_cfg(request, cfg))
    assert (root / "files/data/in.bin").read_bytes() == data
    assert [p.name for p in (root / "files/data").iterdir()] == ["in.bin"]  # no temp file left


def test_directory_input(remote: tuple[Remote, str], root: Path, request: pytest.FixtureRequest) -> None:
    """A DIRECTORY input reproduces the whole tree (HTTP has no listing and says so)."""
    store, cfg = remote
    for rel, data in TREE.items():
        store.put(f"dir/{rel}", data)
    task = {"inputs": [{"url": store.url("dir"), "path": "/data/dir", "type": "DIRECTORY"}]}
    if not store.has_dirs:
        with pytest.raises(FilerError, match="DIRECTORY inputs are not supported over HTTP"):
            fetch_inputs(inputs_of(task), root=root, config=_cfg(request, cfg))
        return
    fetch_inputs(inputs_of(task), root=root, config=_cfg(request, cfg))
    for rel, data in TREE.items():
        assert (root / "files/data/dir" / rel).read_bytes() == data


def test_file_output(remote: tuple[Remote, str], root: Path, request: pytest.FixtureRequest) -> None:
    """A FILE output is uploaded and logged with its size as a string."""
    store, cfg = remote
    data = os.urandom(700_000)
    _write_tree(root / "files/out", {"result.bin": data})
    task = {"outputs": [{"url": store.url("o/result.bin"), "path": "/out/result.bin", "type": "FILE"}]}
    logs = upload_outputs(outputs_of(task), root=root, config=_cfg(request, cfg))
    assert logs == [{"url": public_url(store.url("o/result.bin")), "path": "/out/result.bin", "size_bytes": "700000"}]
    assert "@" not in logs[0]["url"]  # FTP URLs carry credentials; logs must not
    assert store.get("o/result.bin") == data


def test_directory_output(remote: tuple[Remote, str], root: Path, request: pytest.FixtureRequest) -> None:
    """A DIRECTORY output uploads every file below it, one log each, URL = url + relative path."""
    store, cfg = remote
    _write_tree(root / "files/out/dir", TREE)
    task = {"outputs": [{"url": store.url("od"), "path": "/out/dir", "type": "DIRECTORY"}]}
    logs = upload_outputs(outputs_of(task), root=root, config=_cfg(request, cfg))
    assert sorted(log["path"] for log in logs) == sorted(f"/out/dir/{rel}" for rel in TREE)
    for log in logs:
        rel = log["path"].removeprefix("/out/dir/")
        assert log["url"] == public_url(store.url(f"od/{rel}"))
        assert log["size_bytes"] == str(len(TREE[rel]))
        assert store.get(f"od/{rel}") == TREE[rel]


def test_wildcard_output(remote: tuple[Remote, str], root: Path, request: pytest.FixtureRequest) -> None:
    """Wildcard matches are uploaded with path_prefix stripped and the rest appended to the url."""
    store, cfg = remote
    _write_tree(root / "files/work", {"x1.txt": b"1", "x2.txt": b"22", "y.txt": b"no", "sub/x3.txt": b"no"})
    task = {"outputs": [{"url": store.url("w"), "path": "/work/x*.txt", "path_prefix": "/work/"}]}
    logs = upload_outputs(outputs_of(task), root=root, config=_cfg(request, cfg))
    assert logs == [
        {"url": public_url(store.url("w/x1.txt")), "path": "/work/x1.txt", "size_bytes": "1"},
        {"url": public_url(store.url("w/x2.txt")), "path": "/work/x2.txt", "size_bytes": "2"},
    ]
    assert store.get("w/x2.txt") == b"22"
    assert not store.exists("w/y.txt")


@pytest.mark.parametrize("remote", ["file", "ftp", "s3"], indirect=True)
def test_directory_round_trip(remote: tuple[Remote, str], root: Path, request: pytest.FixtureRequest,
                              tmp_path: Path) -> None:
    """What a DIRECTORY output uploads, a DIRECTORY input brings back unchanged."""
    store, cfg = remote
    _write_tree(root / "files/out", TREE)
    config = _cfg(request, cfg)
    upload_outputs(outputs_of({"outputs": [{"url": store.url("rt"), "path": "/out"}]}), root=root, config=config)
    other = tmp_path / "other"
    fetch_inputs(inputs_of({"inputs": [{"url": store.url("rt"), "path": "/in", "type": "DIRECTORY"}]}), root=other,
                 config=config)
    for rel, data in TREE.items():
        assert (other / "files/in" / rel).read_bytes() == data


def test_missing_object(remote: tuple[Remote, str], root: Path, request: pytest.FixtureRequest) -> None:
    """A missing remote file fails the input, names it, and leaves no file behind."""
    store, cfg = remote
    task = {"inputs": [{"name": "ref", "url": store.url("nope/missing.txt"), "path": "/data/m.txt"}]}
    with pytest.raises(FilerError) as err:
        fetch_inputs(inputs_of(task), root=root, config=_cfg(request, cfg))
    assert "input #0 /data/m.txt (ref)" in str(err.value)
    assert any(word in str(err.value) for word in ("404", "NoSuchKey", "550", "no such file"))
    assert [p for p in root.rglob("*") if p.is_file()] == []


def test_empty_file_both_ways(remote: tuple[Remote, str], root: Path, request: pytest.FixtureRequest) -> None:
    """A zero-byte file uploads with size_bytes "0" and downloads as an empty file."""
    store, cfg = remote
    config = _cfg(request, cfg)
    (root / "files/out").mkdir(parents=True)
    (root / "files/out/empty").write_bytes(b"")
    logs = upload_outputs(outputs_of({"outputs": [{"url": store.url("e/empty"), "path": "/out/empty"}]}), root=root,
                          config=config)
    assert logs[0]["size_bytes"] == "0" and store.get("e/empty") == b""
    fetch_inputs(inputs_of({"inputs": [{"url": store.url("e/empty"), "path": "/in/empty"}]}), root=root, config=config)
    assert (root / "files/in/empty").read_bytes() == b""
