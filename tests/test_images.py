"""Image references (poiesis/images.py): the distribution grammar, and nothing a container CLI reads as an option."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from poiesis.images import NAME_MAX, REFERENCE_MAX, reference_problem

SHA = "0123456789abcdef" * 4

GOOD = [
    "ubuntu",
    "alpine:3.19",
    "docker.io/library/alpine:3.19",
    "localhost:5000/x/y@sha256:" + SHA,
    "localhost:5000/x/y:1.0@sha256:" + SHA,
    "quay.io/biocontainers/samtools:1.9--h8571acd_11",
    "ghcr.io/some-org/some_image__x.y-z:v1.2.3-rc.1",
    "registry.example.org:443/team/tool:latest",
    "[::1]:5000/foo:bar",
    "localhost/poiesis/busybox:1.35",
    "x@sha512:" + "a" * 128,
    "a" * NAME_MAX,
    "a:" + "T" * 128,
]

BAD = [
    ("", "empty"),
    ("UPPER", "lower case"),
    ("Ubuntu:1", "lower case"),
    ("-x", "starts with '-'"),
    ("--privileged", "starts with '-'"),
    ("--volume=/:/host", "starts with '-'"),
    ("--network=host", "starts with '-'"),
    ("a:b:c", "expected"),
    ("a" * (NAME_MAX + 1), "name is longer"),
    ("a" * (REFERENCE_MAX + 1), "longer than"),
    ("a:" + "t" * 129, "expected"),
    ("alpine latest", "white space"),
    (" alpine", "white space"),
    ("alpine\n", "white space"),
    ("alp\x00ine", "control"),
    ("alpine\t", "white space"),
    ("x@sha256:" + SHA.upper(), "64 lower-case hex"),
    ("x@sha256:abc", "expected"),
    ("x@sha256:" + SHA[:-1], "64 lower-case hex"),
    ("a/", "expected"),
    ("/a", "expected"),
    ("a//b", "expected"),
    ("a___b", "expected"),
    ("a.", "expected"),
    ("a:.tag", "expected"),
    ("docker://alpine", "expected"),
    ("alpine:3.19;rm", "expected"),
    ("\uff41lpine", "expected"),  # a full-width letter: \w must not stretch to Unicode
    ("a:t\u00e9", "expected"),
]


@pytest.mark.parametrize("value", GOOD)
def test_valid_references_pass(value: str) -> None:
    assert reference_problem("executors[0].image", value) is None


@pytest.mark.parametrize(("value", "why"), BAD)
def test_invalid_references_are_named_with_their_field(value: str, why: str) -> None:
    problem = reference_problem("executors[3].image", value)
    assert problem is not None
    assert problem.startswith("executors[3].image: ")
    assert "is not a valid image reference" in problem
    assert why in problem, problem
    assert "\x00" not in problem and "\n" not in problem, "the message quotes the value with repr"


# -- properties -----------------------------------------------------------------

_alnum = st.from_regex(r"[a-z0-9]{1,6}", fullmatch=True)
_separator = st.sampled_from([".", "_", "__", "-", "--", "---"])


@st.composite
def _path_component(draw: st.DrawFn) -> str:
    parts = [draw(_alnum)]
    for _ in range(draw(st.integers(0, 3))):
        parts += [draw(_separator), draw(_alnum)]
    return "".join(parts)


_domain = st.one_of(
    st.from_regex(r"[a-zA-Z0-9]([a-zA-Z0-9-]{0,8}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,8}[a-zA-Z0-9])?){0,3}",
                  fullmatch=True),
    st.just("[::1]"),
)


@st.composite
def references(draw: st.DrawFn) -> str:
    """References built from the grammar's productions."""
    name = "/".join(draw(st.lists(_path_component(), min_size=1, max_size=4)))
    if draw(st.booleans()):
        domain = draw(_domain)
        if draw(st.booleans()):
            domain += f":{draw(st.integers(1, 65535))}"
        name = f"{domain}/{name}"
    if draw(st.booleans()):
        name += ":" + draw(st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True))
    if draw(st.booleans()):
        name += "@sha256:" + draw(st.from_regex(r"[0-9a-f]{64}", fullmatch=True))
    return name


@given(references())
def test_every_reference_of_the_grammar_passes(value: str) -> None:
    assert reference_problem("image", value) is None


@given(st.text(max_size=300))
def test_nothing_accepted_reads_as_an_option_or_splits(value: str) -> None:
    """Any text: what passes never starts with '-', holds no white space or control character, stays short."""
    if reference_problem("image", value) is None:
        assert value and not value.startswith("-")
        assert value.isascii() and value.isprintable() and not any(c.isspace() for c in value)
        assert len(value) <= REFERENCE_MAX


@given(st.text(min_size=0, max_size=100))
def test_a_leading_dash_is_always_refused(rest: str) -> None:
    problem = reference_problem("executors[0].image", "-" + rest)
    assert problem is not None and problem.startswith("executors[0].image: ")
