"""What a task asks of the scheduler (poiesis/scheduling.py): what the API accepts, what the backends apply."""

from __future__ import annotations

import pytest

from poiesis import scheduling


@pytest.mark.parametrize(("value", "maximum", "needle"), [
    ("0", 0, "whole number of seconds from 1"),
    ("-5", 0, "whole number of seconds from 1"),
    ("1.5", 0, "whole number of seconds from 1"),
    ("soon", 0, "whole number of seconds from 1"),
    ("٣", 0, "whole number of seconds from 1"),  # a digit, but not ASCII
    (str(scheduling.MOST_SECONDS + 1), 0, "whole number of seconds from 1"),
    ("3601", 3600, "asks for 3601 seconds; this server allows a task at most 3600"),
])
def test_a_limit_the_api_refuses_names_the_parameter(value: str, maximum: int, needle: str) -> None:
    found = scheduling.time_limit_problem({"active_deadline_seconds": value}, maximum)
    assert found is not None and needle in found
    assert found.startswith("resources.backend_parameters.active_deadline_seconds")


@pytest.mark.parametrize(("params", "maximum"), [
    (None, 0), ({}, 60), ({"active_deadline_seconds": "60"}, 60), ({"Active_Deadline_Seconds": " 5 "}, 0),
    ({"node_selector": "a=b"}, 10),
])
def test_limits_the_api_accepts(params, maximum: int) -> None:
    assert scheduling.time_limit_problem(params, maximum) is None


@pytest.mark.parametrize(("params", "maximum", "expected"), [
    (None, 0, None),
    (None, 30, 30),
    ({"active_deadline_seconds": "10"}, 0, 10),
    ({"active_deadline_seconds": "10"}, 30, 10),
    ({"active_deadline_seconds": "60"}, 30, 30),  # stored before the maximum came down: never above it
    ({"ACTIVE_DEADLINE_SECONDS": "7"}, 0, 7),
    ({"active_deadline_seconds": "junk"}, 30, 30),
    ({"active_deadline_seconds": "junk"}, 0, None),
])
def test_the_limit_a_backend_applies(params, maximum: int, expected: int | None) -> None:
    assert scheduling.time_limit(params, maximum) == expected
