"""Content inputs, file:// confinement, output planning and type filling (no network needed)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from poiesis.filer import FilerConfig, FilerError, fetch_inputs, output_types, upload_outputs
from tests.tasks import inputs_of, outputs_of


def test_content_input_large_utf8(root: Path, config: FilerConfig) -> None:
    """Inline content of 256 KiB (multi-byte UTF-8) is written exactly as UTF-8."""
    content = ("héllo wörld ✓ " * 20_000)[: 256 * 1024]
    fetch_inputs(inputs_of({"inputs": [{"path": "/data/c.txt", "content": content}]}), root=root, config=config)
    assert (root / "files/data/c.txt").read_bytes() == content.encode("utf-8")
    assert len(content) >= 128 * 1024


def test_content_wins_over_url(root: Path, config: FilerConfig) -> None:
    """When content is non-empty the url is ignored, even an unusable one."""
    task = {"inputs": [{"path": "/c.txt", "content": "inline", "url": "gopher://127.0.0.1:1/never"}]}
    fetch_inputs(inputs_of(task), root=root, config=config)
    assert (root / "files/c.txt").read_text() == "inline"


def test_empty_content_is_an_empty_file_unless_a_url_is_given(root: Path, config: FilerConfig, tmp_path: Path) -> None:
    """Empty content alone makes an empty file; with a url, the url is fetched (content is not 'set')."""
    fetch_inputs(inputs_of({"inputs": [{"path": "/empty", "content": ""}]}), root=root, config=config)
    assert (root / "files/empty").read_bytes() == b""
    with pytest.raises(FilerError, match="input #0 /x"):
        fetch_inputs(inputs_of({"inputs": [{"path": "/x", "content": "", "url": "gopher://127.0.0.1:1/n"}]}), root=root, config=config)


def test_input_without_content_or_url(root: Path, config: FilerConfig) -> None:
    """An input with neither content nor url is an error naming the input."""
    with pytest.raises(FilerError, match="input #0 /x: neither content nor url"):
        fetch_inputs(inputs_of({"inputs": [{"path": "/x"}]}), root=root, config=config)


def test_relative_input_path_refused(root: Path, config: FilerConfig) -> None:
    """A relative TES path is refused instead of landing somewhere unexpected."""
    with pytest.raises(FilerError, match="not absolute"):
        fetch_inputs(inputs_of({"inputs": [{"path": "data/x", "content": "x"}]}), root=root, config=config)


def test_dotdot_path_stays_under_root(root: Path, config: FilerConfig) -> None:
    """``..`` in a TES path cannot climb out of ROOT/files."""
    fetch_inputs(inputs_of({"inputs": [{"path": "/a/../../../escape.txt", "content": "x"}]}), root=root, config=config)
    assert (root / "files/escape.txt").read_text() == "x"
    assert not (root.parent / "escape.txt").exists()


def test_bare_path_is_a_file_url(file_store: Path, root: Path, config: FilerConfig) -> None:
    """A url that is a bare absolute path is read like file:// (inside the allowed roots)."""
    (file_store / "bare.txt").write_text("bare")
    fetch_inputs(inputs_of({"inputs": [{"path": "/b.txt", "url": str(file_store / "bare.txt")}]}), root=root, config=config)
    assert (root / "files/b.txt").read_text() == "bare"


def test_file_outside_roots_refused(tmp_path: Path, root: Path, config: FilerConfig) -> None:
    """file:// outside the allowed roots is refused for inputs and outputs."""
    outside = tmp_path / "outside.txt"
    outside.write_text("secret")
    with pytest.raises(FilerError, match="outside the allowed roots"):
        fetch_inputs(inputs_of({"inputs": [{"path": "/x", "url": f"file://{outside}"}]}), root=root, config=config)
    (root / "files").mkdir(exist_ok=True)
    (root / "files/o.txt").write_text("o")
    with pytest.raises(FilerError, match="outside the allowed roots"):
        upload_outputs(outputs_of({"outputs": [{"path": "/o.txt", "url": f"file://{tmp_path}/up.txt"}]}), root=root,
                       config=config)
    assert not (tmp_path / "up.txt").exists()


def test_file_symlink_escape_refused(tmp_path: Path, file_store: Path, root: Path, config: FilerConfig) -> None:
    """A symlink inside an allowed root that points outside it is refused (file and directory)."""
    (tmp_path / "secret.txt").write_text("secret")
    (file_store / "tree").mkdir()
    (file_store / "tree/ok.txt").write_text("ok")
    os.symlink(tmp_path / "secret.txt", file_store / "tree/link.txt")
    with pytest.raises(FilerError, match="outside the allowed roots"):
        fetch_inputs(inputs_of({"inputs": [{"path": "/x", "url": f"file://{file_store}/tree/link.txt"}]}), root=root,
                     config=config)
    with pytest.raises(FilerError, match="outside the allowed roots"):
        fetch_inputs(inputs_of({"inputs": [{"path": "/d", "url": f"file://{file_store}/tree", "type": "DIRECTORY"}]}),
                     root=root, config=config)


def test_no_roots_configured_refuses_everything(file_store: Path, root: Path) -> None:
    """With no allowed roots configured, every file:// URL is refused."""
    (file_store / "f.txt").write_text("f")
    with pytest.raises(FilerError, match="outside the allowed roots"):
        fetch_inputs(inputs_of({"inputs": [{"path": "/f", "url": f"file://{file_store}/f.txt"}]}), root=root,
                     config=FilerConfig())


def test_missing_file_output_is_an_error(file_store: Path, root: Path, config: FilerConfig) -> None:
    """A FILE output that does not exist fails; nothing is uploaded in its place."""
    with pytest.raises(FilerError, match=r"output #0 /out/none\.txt: file does not exist"):
        upload_outputs(outputs_of({"outputs": [{"path": "/out/none.txt", "url": f"file://{file_store}/n.txt"}]}), root=root,
                       config=config)
    assert list(file_store.iterdir()) == []


def test_file_output_that_is_a_directory_is_an_error(file_store: Path, root: Path, config: FilerConfig) -> None:
    """An output typed FILE whose path is a directory fails instead of uploading the tree."""
    (root / "files/out/d").mkdir(parents=True)
    with pytest.raises(FilerError, match="is not a regular file"):
        upload_outputs(outputs_of({"outputs": [{"path": "/out/d", "url": f"file://{file_store}/d", "type": "FILE"}]}),
                       root=root, config=config)


def test_output_type_filled_in(file_store: Path, root: Path, config: FilerConfig) -> None:
    """Outputs without a type are uploaded as what is on disk, and output_types reports it."""
    (root / "files/out/d").mkdir(parents=True)
    (root / "files/out/d/1.txt").write_text("1")
    (root / "files/out/f.txt").write_text("f")
    task = {"outputs": [
        {"path": "/out/d", "url": f"file://{file_store}/d"},
        {"path": "/out/f.txt", "url": f"file://{file_store}/f.txt"},
        {"path": "/out/f.txt", "url": f"file://{file_store}/g.txt", "type": "FILE"},
    ]}
    logs = upload_outputs(outputs_of(task), root=root, config=config)
    assert [log["path"] for log in logs] == ["/out/d/1.txt", "/out/f.txt", "/out/f.txt"]
    assert (file_store / "d/1.txt").read_text() == "1"
    assert output_types(outputs_of(task), root=root) == ["DIRECTORY", "FILE", "FILE"]


def test_output_symlink_out_of_root_refused(tmp_path: Path, file_store: Path, root: Path,
                                            config: FilerConfig) -> None:
    """An output that is a symlink to a file outside the task's files is not uploaded."""
    (tmp_path / "host-secret").write_text("token")
    (root / "files/out").mkdir(parents=True)
    os.symlink(tmp_path / "host-secret", root / "files/out/leak.txt")
    with pytest.raises(FilerError, match="resolves outside the task's files"):
        upload_outputs(outputs_of({"outputs": [{"path": "/out/leak.txt", "url": f"file://{file_store}/leak"}]}), root=root,
                       config=config)
    assert list(file_store.iterdir()) == []


def test_wildcard_needs_path_prefix(root: Path, config: FilerConfig, file_store: Path) -> None:
    """A wildcard output without path_prefix is an error (the spec requires it)."""
    with pytest.raises(FilerError, match="path_prefix is required"):
        upload_outputs(outputs_of({"outputs": [{"path": "/out/*.txt", "url": f"file://{file_store}/w"}]}), root=root,
                       config=config)


def test_wildcard_posix_patterns(root: Path, config: FilerConfig, file_store: Path) -> None:
    """``?``, ``[...]`` and ``*`` match as POSIX says: ``*`` stops at ``/`` and skips dot files."""
    base = root / "files/w"
    (base / "d").mkdir(parents=True)
    for name in ("a1.txt", "a2.txt", "b1.txt", ".hidden.txt", "d/a3.txt"):
        (base / name).write_text(name)
    task = {"outputs": [
        {"path": "/w/[ab]1.txt", "path_prefix": "/w", "url": f"file://{file_store}/p"},
        {"path": "/w/a?.txt", "path_prefix": "/w/", "url": f"file://{file_store}/q"},
        {"path": "/w/*.txt", "path_prefix": "/", "url": f"file://{file_store}/r"},
        {"path": "/w/*/a*.txt", "path_prefix": "/w/", "url": f"file://{file_store}/s"},
    ]}
    logs = upload_outputs(outputs_of(task), root=root, config=config)
    assert [log["url"].removeprefix(f"file://{file_store}/") for log in logs] == [
        "p/a1.txt", "p/b1.txt", "q/a1.txt", "q/a2.txt", "r/w/a1.txt", "r/w/a2.txt", "r/w/b1.txt", "s/d/a3.txt",
    ]


def test_wildcard_match_outside_prefix(root: Path, config: FilerConfig, file_store: Path) -> None:
    """A path_prefix that is not a literal prefix of the pattern is an error, not a guessed URL."""
    (root / "files/w").mkdir(parents=True)
    (root / "files/w/a.txt").write_text("a")
    with pytest.raises(FilerError, match="path_prefix must be a literal prefix of path"):
        upload_outputs(outputs_of({"outputs": [{"path": "/w/*.txt", "path_prefix": "/other/", "url": f"file://{file_store}"}]}),
                       root=root, config=config)
