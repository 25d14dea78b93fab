"""``sanitize.storable``: any bytes or text in, a string PostgreSQL stores out (no NUL, UTF-8, bounded)."""

from __future__ import annotations

import json

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from poiesis import lifecycle
from poiesis.sanitize import REPLACEMENT, storable

limits = st.integers(min_value=0, max_value=300)
keeps = st.sampled_from(["head", "tail"])
#: text as Python may hold it: any code point, lone surrogates (surrogateescape'd file names) included
any_text = st.text(st.characters(codec=None, min_codepoint=0, max_codepoint=0x10FFFF, categories=None))


def acceptable(text: str, limit: int) -> None:
    """What PostgreSQL (through psycopg) accepts, with the bound: no NUL, strict UTF-8, at most ``limit`` bytes."""
    assert "\x00" not in text
    assert len(text.encode("utf-8")) <= limit


@given(st.binary(max_size=600), limits, keeps)
def test_any_bytes_become_storable_text(data: bytes, limit: int, keep: str) -> None:
    acceptable(storable(data, limit, keep=keep), limit)  # type: ignore[arg-type]


@given(any_text, limits, keeps)
def test_any_text_becomes_storable_text(data: str, limit: int, keep: str) -> None:
    acceptable(storable(data, limit, keep=keep), limit)  # type: ignore[arg-type]


@given(st.text(st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), max_size=100))
def test_storable_text_comes_back_unchanged(text: str) -> None:
    """Valid, NUL-free and within the bound: untouched, as bytes or as text."""
    assert storable(text, 1000) == text == storable(text.encode(), 1000)


@given(st.text(st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), min_size=1, max_size=200),
       st.integers(min_value=1, max_value=100))
def test_a_long_text_keeps_whole_characters_of_its_tail_or_head(text: str, limit: int) -> None:
    """Cut between characters: the tail is a suffix, the head a prefix, each as long as the bound allows."""
    tail, head = storable(text, limit, keep="tail"), storable(text, limit, keep="head")
    assert text.endswith(tail) and text.startswith(head)
    assert len(tail.encode()) > limit - 4 or tail == text
    assert len(head.encode()) > limit - 4 or head == text


def test_nul_and_invalid_bytes_are_replaced() -> None:
    assert storable(b"a\x00b\xffc", 100) == f"a{REPLACEMENT}b{REPLACEMENT}c"
    assert storable("/out/\udcff", 100) == f"/out/{REPLACEMENT}"
    assert storable(b"x" * 10 + b"the end", 7, keep="tail") == "the end"
    assert storable("é" * 10, 5) == "éé"  # 2 bytes each: the third would pass the bound


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=200, deadline=None)
@given(data=st.one_of(st.binary(max_size=300), any_text), limit=limits)
def test_postgresql_accepts_every_result(db_url: str, data: bytes | str, limit: int) -> None:
    """The real server stores what comes out, unchanged, in a text column and in a system log line."""
    text = storable(data, limit)
    line = lifecycle.clip(data if isinstance(data, str) else data.decode("utf-8", "surrogateescape"))
    with psycopg.connect(db_url, autocommit=True) as conn:
        assert conn.execute("SELECT %s::text, %s::text[]", (text, [line])).fetchone() == (text, [line])


@given(st.one_of(st.binary(max_size=400), st.lists(st.dictionaries(
    st.sampled_from(["url", "path", "size_bytes", "x"]),
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), any_text, st.lists(st.integers(), max_size=2)),
), max_size=3).map(lambda v: json.dumps(v).encode())))
def test_outputs_json_gives_storable_logs_or_says_why(data: bytes) -> None:
    """Whatever outputs.json holds: storable output file logs, or ``OutputsUnreadable``; never another exception."""
    from poiesis.record import OutputsUnreadable, parse_outputs

    try:
        found = parse_outputs(data)
    except OutputsUnreadable:
        return
    for entry in found:
        assert set(entry) == {"url", "path", "size_bytes"}
        for key in ("url", "path"):
            acceptable(entry[key], 16 << 10)
        assert 0 <= int(entry["size_bytes"]) < 2**63
