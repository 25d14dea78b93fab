"""Structural difference between two TES OpenAPI documents (``scripts/spec-diff``).

This is how Poiesis adopts a new TES revision: diff the upstream document
against ``openapi/`` (our newest version's document by default), add the
new version's document, regenerate (docs/api.md "When the spec revs"). Only what changes the API's shape is
compared: paths, operations (operationId, parameters, request body, response
codes and their schemas, security), schemas (properties, types, formats,
enums, required lists, defaults, $refs, readOnly and the other validation
keywords), security schemes, the global security requirement and the server
URLs. Prose (descriptions, summaries, titles), examples, tags and ``x-``
extensions are ignored.

Parameters, responses and request bodies are compared where operations use
them (their ``$ref`` is followed); schemas are compared by name, a ``$ref``
to a schema counting as that schema's name. An external ``$ref`` to the GA4GH
service-info document is answered from the local reference copy (see
:func:`find_reference_dir`), and the schema it names joins the document's
schemas under its own name, so a document that copies those schemas in and one
that refers to them by URL compare equal.

Pure functions on loaded documents; reading files happens only in
:func:`load_document` and :func:`main`. Never fetches anything over the network.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pathlib
import re
import sys
from collections.abc import Iterator, Mapping
from typing import Any

import yaml

from poiesis.config import TES_VERSIONS

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
SPEC_NAME = "task_execution_service.openapi.yaml"


def our_document(version: str) -> pathlib.Path:
    """openapi/v<version>/task_execution_service.openapi.yaml: our document of TES ``version``."""
    return REPO_ROOT / "openapi" / f"v{version}" / SPEC_NAME


#: Our document of the newest TES version served: what a new upstream revision is compared with.
OUR_DOCUMENT = our_document(TES_VERSIONS[-1])
REFERENCE_ENV = "POIESIS_TES_REFERENCE"

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
PROSE_KEYS = frozenset({"description", "summary", "title", "example", "examples", "externalDocs", "tags"})
SET_KEYWORDS = frozenset({"enum", "required"})
SCHEMA_LIST_KEYWORDS = ("allOf", "oneOf", "anyOf")
SCHEMA_CHILD_KEYWORDS = ("items", "not", "additionalProperties")
SCHEMA_REF_PREFIX = "#/components/schemas/"
_SERVICE_INFO_URL = re.compile(r"ga4gh-service-info/(?:(?:blob|raw)/)?(?P<version>[^/]+)/service-info\.ya?ml$")


class SpecDiffError(Exception):
    """A document cannot be read or one of its references cannot be resolved."""


@dataclasses.dataclass(frozen=True)
class Difference:
    """One structural difference: ``change`` is added, removed or changed."""

    change: str
    where: str
    old: Any = None
    new: Any = None

    def __str__(self) -> str:
        if self.change == "changed":
            return f"changed {self.where}: {_show(self.old)} -> {_show(self.new)}"
        value = self.new if self.change == "added" else self.old
        suffix = "" if value is None else f": {_show(value)}"
        return f"{self.change} {self.where}{suffix}"


@dataclasses.dataclass(frozen=True)
class _Members:
    """A list whose order does not matter (enum, required, security)."""

    items: frozenset[str]


# ---------------------------------------------------------------- locating files


def find_reference_dir(*, environ: Mapping[str, str] | None = None) -> pathlib.Path:
    """Return the directory holding the TES reference documents.

    ``$POIESIS_TES_REFERENCE`` when set, else ``reference/tes`` in the repository
    (verbatim upstream copies; their sources and commits are in its SOURCE.txt).
    """
    environ = os.environ if environ is None else environ
    if environ.get(REFERENCE_ENV):
        found = pathlib.Path(environ[REFERENCE_ENV])
        if not found.is_dir():
            raise SpecDiffError(f"{REFERENCE_ENV}={found} is not a directory")
        return found
    candidates = [REPO_ROOT / "reference" / "tes"]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise SpecDiffError(
        "cannot find the TES reference documents: looked in "
        + ", ".join(str(c) for c in candidates)
        + f"; set {REFERENCE_ENV} to the directory holding task_execution_service.openapi.yaml"
        " and service-info-v1.0.0/"
    )


def local_copy_of(url: str, *, reference_dir: pathlib.Path) -> pathlib.Path:
    """Map the URL of a known external document to its local reference copy."""
    match = _SERVICE_INFO_URL.search(url)
    if not match:
        raise SpecDiffError(f"no local copy known for external $ref {url!r}")
    path = reference_dir / f"service-info-{match['version']}" / "service-info.yaml"
    if not path.is_file():
        raise SpecDiffError(f"external $ref {url!r} needs the local copy {path}, which does not exist")
    return path


# ---------------------------------------------------------------- loading


def _read_yaml(path: pathlib.Path) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise SpecDiffError(f"cannot read {path}: {err}") from err
    if not isinstance(loaded, dict):
        raise SpecDiffError(f"{path} does not hold an OpenAPI document")
    return loaded


def load_document(path: pathlib.Path | str, *, reference_dir: pathlib.Path | None = None) -> dict[str, Any]:
    """Read an OpenAPI document and pull the schemas its external $refs name into it.

    ``reference_dir`` is only looked up (with :func:`find_reference_dir`) when
    the document has an external reference by URL.
    """
    path = pathlib.Path(path)
    document = _read_yaml(path)
    importer = _Importer(document=document, base=path.resolve(), reference_dir=reference_dir)
    importer.rewrite(document, source=path.resolve())
    return document


class _Importer:
    """Rewrites external schema $refs into local ones, copying the schemas in."""

    def __init__(self, *, document: dict[str, Any], base: pathlib.Path, reference_dir: pathlib.Path | None) -> None:
        self.schemas = document.setdefault("components", {}).setdefault("schemas", {})
        self.base = base
        self.reference_dir = reference_dir
        self.files: dict[pathlib.Path, dict[str, Any]] = {}
        self.imported: dict[tuple[pathlib.Path, str], str] = {}

    def rewrite(self, node: Any, *, source: pathlib.Path) -> None:
        """Rewrite in place every $ref below ``node``, which comes from ``source``."""
        if isinstance(node, list):
            for item in node:
                self.rewrite(item, source=source)
            return
        if not isinstance(node, dict):
            return
        ref = node.get("$ref")
        if isinstance(ref, str):
            node["$ref"] = self._local_ref(ref, source=source)
        for key, value in list(node.items()):
            if key != "$ref":
                self.rewrite(value, source=source)

    def _local_ref(self, ref: str, *, source: pathlib.Path) -> str:
        location, _, fragment = ref.partition("#")
        if not location and source == self.base:
            return ref
        target = self._file_of(location, source=source) if location else source
        if not fragment.startswith("/components/schemas/"):
            raise SpecDiffError(f"external $ref {ref!r} does not name a schema; only schemas can be imported")
        return SCHEMA_REF_PREFIX + self._import(target, fragment)

    def _file_of(self, location: str, *, source: pathlib.Path) -> pathlib.Path:
        if re.match(r"^[a-z][a-z0-9+.-]*://", location):
            if self.reference_dir is None:
                self.reference_dir = find_reference_dir()
            return local_copy_of(location, reference_dir=self.reference_dir).resolve()
        return (source.parent / location).resolve()

    def _import(self, target: pathlib.Path, fragment: str) -> str:
        key = (target, fragment)
        if key in self.imported:
            return self.imported[key]
        if target not in self.files:
            self.files[target] = _read_yaml(target)
        schema = _pointer(self.files[target], fragment, where=f"{target}#{fragment}")
        name = fragment.rsplit("/", 1)[-1]
        if name in self.schemas:
            name = f"{target.stem}:{name}"
        self.imported[key] = name
        copied = json.loads(json.dumps(schema))
        self.schemas[name] = copied
        self.rewrite(copied, source=target)
        return name


def _pointer(document: Any, fragment: str, *, where: str) -> Any:
    node = document
    for part in fragment.lstrip("/").split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            raise SpecDiffError(f"$ref target {where} does not exist")
        node = node[part]
    return node


# ---------------------------------------------------------------- canonical form


def canonical(document: Mapping[str, Any]) -> dict[str, Any]:
    """Reduce a loaded document to the structure spec-diff compares."""
    components = document.get("components") or {}
    shape: dict[str, Any] = {
        "openapi": document.get("openapi"),
        "servers": _Members(frozenset(s.get("url", "") for s in document.get("servers") or [])),
        "paths": {
            path: _canonical_path_item(item, document=document)
            for path, item in (document.get("paths") or {}).items()
        },
        "components": {
            "schemas": {name: _canonical_schema(s) for name, s in (components.get("schemas") or {}).items()},
            "securitySchemes": {
                name: _strip_prose(s) for name, s in (components.get("securitySchemes") or {}).items()
            },
        },
    }
    if "security" in document:
        shape["security"] = _canonical_security(document["security"])
    return shape


def _strip_prose(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip_prose(v) for k, v in node.items() if k not in PROSE_KEYS and not str(k).startswith("x-")}
    if isinstance(node, list):
        return [_strip_prose(v) for v in node]
    return node


def _canonical_schema(schema: Any) -> Any:
    if not isinstance(schema, dict):
        return schema
    shape: dict[str, Any] = {}
    for key, value in schema.items():
        if key in PROSE_KEYS or str(key).startswith("x-"):
            continue
        if key == "$ref":
            shape[key] = value.removeprefix(SCHEMA_REF_PREFIX)
        elif key == "properties":
            shape[key] = {name: _canonical_schema(prop) for name, prop in value.items()}
        elif key in SET_KEYWORDS and isinstance(value, list):
            shape[key] = _Members(frozenset(_member(v) for v in value))
        elif key in SCHEMA_LIST_KEYWORDS:
            shape[key] = [_canonical_schema(part) for part in value]
        elif key in SCHEMA_CHILD_KEYWORDS:
            shape[key] = _canonical_schema(value)
        else:
            shape[key] = _strip_prose(value)
    return shape


def _resolve(node: Any, *, document: Mapping[str, Any]) -> Any:
    """Follow a local $ref to a parameter, response or request body."""
    seen = set()
    while isinstance(node, dict) and isinstance(node.get("$ref"), str):
        ref = node["$ref"]
        if ref in seen or not ref.startswith("#/"):
            raise SpecDiffError(f"cannot follow $ref {ref!r}")
        seen.add(ref)
        node = _pointer(document, ref[1:], where=ref)
    return node


def _canonical_path_item(item: Mapping[str, Any], *, document: Mapping[str, Any]) -> dict[str, Any]:
    shared = item.get("parameters") or []
    return {
        method: _canonical_operation(item[method], shared=shared, document=document)
        for method in HTTP_METHODS
        if method in item
    }


def _canonical_operation(operation: Mapping[str, Any], *, shared: list[Any], document: Mapping[str, Any]) -> dict[str, Any]:
    parameters: dict[str, Any] = {}
    for raw in [*shared, *(operation.get("parameters") or [])]:
        parameter = _resolve(raw, document=document)
        parameters[f"{parameter.get('in')}:{parameter.get('name')}"] = _canonical_parameter(parameter)
    shape: dict[str, Any] = {"operationId": operation.get("operationId"), "parameters": parameters}
    if "requestBody" in operation:
        body = _resolve(operation["requestBody"], document=document)
        shape["requestBody"] = {"required": bool(body.get("required", False)), "content": _canonical_content(body)}
    shape["responses"] = {
        str(code): {"content": _canonical_content(_resolve(response, document=document))}
        for code, response in (operation.get("responses") or {}).items()
    }
    if "security" in operation:
        shape["security"] = _canonical_security(operation["security"])
    return shape


def _canonical_parameter(parameter: Mapping[str, Any]) -> dict[str, Any]:
    shape: dict[str, Any] = {"required": bool(parameter.get("required", False))}
    for key, value in parameter.items():
        if key in PROSE_KEYS or key in ("name", "in", "required") or str(key).startswith("x-"):
            continue
        shape[key] = _canonical_schema(value) if key == "schema" else _strip_prose(value)
    return shape


def _canonical_content(holder: Mapping[str, Any]) -> dict[str, Any]:
    return {
        media_type: {"schema": _canonical_schema(media.get("schema"))} if "schema" in media else {}
        for media_type, media in (holder.get("content") or {}).items()
    }


def _canonical_security(requirements: list[Mapping[str, Any]]) -> _Members:
    """Render each alternative as its scheme names joined by '+', '{}' for none."""
    rendered = set()
    for requirement in requirements or []:
        names = [f"{name}{_scopes(scopes)}" for name, scopes in sorted(requirement.items())]
        rendered.add("+".join(names) if names else "{}")
    return _Members(frozenset(rendered))


def _scopes(scopes: list[str] | None) -> str:
    return f"({','.join(sorted(scopes))})" if scopes else ""


def _member(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


# ---------------------------------------------------------------- comparing


def differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Difference]:
    """Every structural difference from document ``old`` to document ``new`` (both loaded)."""
    return list(_walk(canonical(old), canonical(new), ()))


def diff_files(
    old: pathlib.Path | str, new: pathlib.Path | str, *, reference_dir: pathlib.Path | None = None
) -> list[Difference]:
    """Load two documents and return their structural differences."""
    return differences(
        load_document(old, reference_dir=reference_dir),
        load_document(new, reference_dir=reference_dir),
    )


def _walk(old: Any, new: Any, where: tuple[str, ...]) -> Iterator[Difference]:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new), key=str):
            here = (*where, str(key))
            if key not in new:
                yield Difference("removed", _where(here), old=_leaf(old[key]))
            elif key not in old:
                yield Difference("added", _where(here), new=_leaf(new[key]))
            else:
                yield from _walk(old[key], new[key], here)
    elif isinstance(old, _Members) and isinstance(new, _Members):
        for member in sorted(old.items - new.items):
            yield Difference("removed", f"{_where(where)}[{member}]")
        for member in sorted(new.items - old.items):
            yield Difference("added", f"{_where(where)}[{member}]")
    elif isinstance(old, list) and isinstance(new, list):
        for index in range(max(len(old), len(new))):
            here = (*where, str(index))
            if index >= len(new):
                yield Difference("removed", _where(here), old=_leaf(old[index]))
            elif index >= len(old):
                yield Difference("added", _where(here), new=_leaf(new[index]))
            else:
                yield from _walk(old[index], new[index], here)
    elif old != new:
        yield Difference("changed", _where(where), old=_leaf(old, whole=True), new=_leaf(new, whole=True))


def _where(parts: tuple[str, ...]) -> str:
    return ".".join(f"[{p}]" if "." in p or " " in p else p for p in parts)


def _leaf(value: Any, *, whole: bool = False) -> Any:
    """A scalar as it is; a members set as a sorted list; a subtree only when ``whole``."""
    if isinstance(value, _Members):
        return sorted(value.items)
    if isinstance(value, (dict, list)):
        return json.dumps(_plain(value), sort_keys=True) if whole else None
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, _Members):
        return sorted(value.items)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _show(value: Any) -> str:
    return value if isinstance(value, str) and value.startswith(("{", "[")) else json.dumps(value)


# ---------------------------------------------------------------- command line


def main(argv: list[str]) -> int:
    """``spec-diff OLD.yaml [NEW.yaml]``: print the structural differences, one per line."""
    parser = argparse.ArgumentParser(
        prog="spec-diff",
        description="Print the structural difference between two TES OpenAPI documents.",
    )
    parser.add_argument("old", type=pathlib.Path, help="the document to compare from (e.g. an upstream TES release)")
    parser.add_argument(
        "new", type=pathlib.Path, nargs="?", default=OUR_DOCUMENT,
        help=f"the document to compare to (default: {OUR_DOCUMENT.relative_to(REPO_ROOT)})",
    )
    parser.add_argument(
        "--reference", type=pathlib.Path, default=None,
        help=f"directory of the TES reference documents (default: ${REFERENCE_ENV} or reference/tes in the repository)",
    )
    parser.add_argument("--fail-on-diff", action="store_true", help="exit 1 when the documents differ")
    args = parser.parse_args(argv)
    try:
        found = diff_files(args.old, args.new, reference_dir=args.reference)
    except SpecDiffError as err:
        print(f"spec-diff: {err}", file=sys.stderr)
        return 2
    for difference in found:
        print(difference)
    if not found:
        print("no structural differences")
    return 1 if found and args.fail_on_diff else 0
