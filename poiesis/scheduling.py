"""What a task may ask of the scheduler: its time limit. Pure: no I/O.

``active_deadline_seconds``, a backend parameter, is the most seconds the task may run, with the
operator's maximum ``POIESIS_MAX_TASK_SECONDS``. Both backends read it the same way
(``time_limit``); it covers the task's whole time on the machine that runs it, inputs to
outputs, not the time it waited for one (docs/local.md, docs/kubernetes.md); a task that
reaches it ends with ``lifecycle.time_limit_reached``. The API refuses a value it would not
honour (``time_limit_problem``: 400 naming the parameter); the backends still never go past
the maximum, whatever is stored.
"""

from __future__ import annotations

from collections.abc import Mapping

from poiesis.parameters import Allowance

#: the backend parameter a task sets its time limit with (seconds, a whole number)
TIME_LIMIT = "active_deadline_seconds"
#: the largest limit written anywhere (Kubernetes takes an int64; a year is plenty)
MOST_SECONDS = 366 * 24 * 3600

Params = Mapping[str, str] | None


def _given(params: Params, key: str) -> str | None:
    """The parameter's value as sent (keys compare case-insensitively, as CreateTask's rule does)."""
    for name, value in (params or {}).items():
        if name.lower() == key:
            return str(value)
    return None


def _whole(value: str | None, most: int) -> int | None:
    """``value`` as a whole number from 1 to ``most``, else None."""
    text = (value or "").strip()
    return int(text) if text.isascii() and text.isdigit() and 1 <= int(text) <= most else None


def _problem(params: Params, key: str, *, most: int, maximum: int, unit: str, allows: str) -> str | None:
    value = _given(params, key)
    if value is None:
        return None
    field = f"resources.backend_parameters.{key}"
    asked = _whole(value, most)
    if asked is None:
        return f"{field} must be a whole number of {unit} from 1 to {most}, not {value!r}"
    if maximum and asked > maximum:
        return f"{field} asks for {asked} {unit}; {allows} {maximum}"
    return None


def time_limit_problem(params: Params, max_seconds: int) -> str | None:
    """Why the task's time limit cannot be accepted (naming the parameter), or None: whole seconds, 1 up to the maximum.

    ``max_seconds`` is the operator's maximum (0: none). A task asking more than it
    is refused rather than cut: it asked for a time this server never gives.
    """
    return _problem(params, TIME_LIMIT, most=MOST_SECONDS, maximum=max_seconds, unit="seconds",
                    allows="this server allows a task at most")


def time_limit_allowance(max_seconds: int) -> Allowance:
    """The time limit under the backends' allowlists: always allowed, from 1 up to the maximum (366 days when 0).

    A limit only shortens the task's own run, so no operator setting has to enable it.
    """
    return Allowance(TIME_LIMIT, "POIESIS_MAX_TASK_SECONDS", "count", maximum=max_seconds or MOST_SECONDS)


def time_limit(params: Params, max_seconds: int) -> int | None:
    """The seconds the task may run: its own limit, at most the maximum; the maximum when it sets none; None: no limit.

    A value the API would refuse (a task stored before a lower maximum, a bad value
    written past the API) never lifts the maximum.
    """
    own = _whole(_given(params, TIME_LIMIT), MOST_SECONDS)
    if own is None:
        return max_seconds or None
    return min(own, max_seconds) if max_seconds else own

