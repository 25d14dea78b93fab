"""The allowlist rules of backend_parameters (poiesis/parameters.py): pure."""

from __future__ import annotations

import pytest

from poiesis.parameters import Allowance, Policy, Refused, parse_selector

SELECTOR = Allowance("node_selector", "S", "selector", allowed=("pool=batch", "disk"))
NAMES = Allowance("priority_class", "P", allowed=("low",))
COUNT = Allowance("gpu", "G", "count", maximum=2)
NEEDS = Allowance("gpu_type", "T", allowed=("a100",), needs="gpu")
POLICY = Policy((SELECTOR, NAMES, COUNT, NEEDS, Allowance("runtime_class", "R")))


@pytest.mark.parametrize(
    ("value", "refused"),
    [("pool=batch", None), ("disk=ssd, pool=batch", None), ("disk=", None), ("pool=gpu", "pool='gpu' is not allowed"),
     ("zone=a", "zone='a' is not allowed"), ("disk", "'disk' is not key=value"), ("disk=-x", "not a label value"),
     ("disk=" + "a" * 64, "not a label value")],
)
def test_a_selector_pair_matches_a_key_or_an_exact_pair(value: str, refused: str | None) -> None:
    found = SELECTOR.refusal(value)
    assert (found is None) if refused is None else (refused in found.reason and found.setting == "S")


@pytest.mark.parametrize(("value", "ok"), [("1", True), (" 2 ", True), ("0", False), ("3", False), ("-1", False),
                                           ("1.5", False), ("", False), ("two", False)])
def test_a_count_is_a_whole_number_from_one_to_the_maximum(value: str, ok: bool) -> None:
    assert (COUNT.refusal(value) is None) is ok


def test_an_empty_allowance_refuses_any_value_and_names_its_setting() -> None:
    (refusal,) = POLICY.refusals({"RUNTIME_CLASS": "anything"})
    assert refusal.as_json() == {"parameter": "runtime_class", "value": "anything", "setting": "R",
                                 "reason": "not allowed on this server (enabled by R)"}
    assert refusal.message == "resources.backend_parameters.runtime_class: not allowed on this server (enabled by R)"


def test_the_policy_lists_enabled_keys_and_leaves_unknown_ones_alone() -> None:
    assert POLICY.enabled == {"node_selector", "priority_class", "gpu", "gpu_type"}
    assert POLICY.known == POLICY.enabled | {"runtime_class"}
    assert POLICY.refusals({"VmSize": "big", "Priority_Class": "low"}) == []
    assert POLICY.check({"VmSize": "big", "Priority_Class": "low"}) == {"priority_class": "low"}


def test_a_key_that_needs_another_is_refused_alone() -> None:
    (refusal,) = POLICY.refusals({"gpu_type": "a100"})
    assert refusal.reason == "needs resources.backend_parameters.gpu too"
    assert POLICY.refusals({"gpu_type": "a100", "gpu": "1"}) == []


def test_check_raises_every_refusal_at_once() -> None:
    with pytest.raises(Refused) as raised:
        POLICY.check({"priority_class": "high", "gpu": "9"})
    assert [r.parameter for r in raised.value.refusals] == ["priority_class", "gpu"]
    assert "'high' is not allowed (P allows low)" in str(raised.value)


def test_parse_selector() -> None:
    assert parse_selector(" a=1, b = 2 ,,") == {"a": "1", "b": "2"}
    with pytest.raises(ValueError, match="key=value"):
        parse_selector("=x")
