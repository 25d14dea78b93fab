"""backend_parameters under the operator's allowlists: which a backend lists, which values it takes. Pure.

A backend describes each ``resources.backend_parameters`` key it implements
with an ``Allowance``: the setting that enables it and what that setting
allows. Nothing is allowed by default: a key whose allowance is empty is
refused, naming the setting that would allow it; a value outside a non-empty
allowance is refused, naming the value and the setting. CreateTask asks
``Policy.refusals`` before it stores a task (400), and the backend asks
``Policy.check`` again before anything reaches the cluster or an engine, so a
task stored before the operator narrowed a setting cannot slip through.

Keys compare case-insensitively (TES); ``normalized`` gives the lower-case
mapping both sides check. Service-info lists ``Policy.enabled`` only.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

#: a Kubernetes label value: at most 63 characters, alphanumeric at both ends, - _ . inside (or empty)
_LABEL_VALUE = re.compile(r"^(?:[A-Za-z0-9](?:[-_.A-Za-z0-9]{0,61}[A-Za-z0-9])?)?$")
FIELD = "resources.backend_parameters"

Kind = Literal["name", "selector", "count"]


@dataclass(frozen=True)
class Refusal:
    """One backend_parameters entry that may not be used, and the setting that decides it."""

    parameter: str
    value: str | None
    setting: str
    reason: str

    @property
    def message(self) -> str:
        return f"{FIELD}.{self.parameter}: {self.reason}"

    def as_json(self) -> dict[str, Any]:
        """The entry of a 400's ``backend_parameters`` member."""
        return {"parameter": self.parameter, "value": self.value, "setting": self.setting, "reason": self.reason}


class Refused(ValueError):
    """A task whose backend_parameters the settings do not allow (raised by the backend's own check)."""

    def __init__(self, refusals: list[Refusal]) -> None:
        self.refusals = refusals
        super().__init__("; ".join(r.message for r in refusals))


@dataclass(frozen=True)
class Allowance:
    """What the operator allows for one key.

    ``name``: the value must be one of ``allowed``. ``selector``: the value is
    ``k=v,k2=v2`` and each pair must match an entry of ``allowed``, either
    ``k`` (any label value) or ``k=v`` (that pair only). ``count``: a whole
    number from 1 to ``maximum``. ``needs``: another key that must be given too.
    ``off``: why the key is refused while the allowance is empty (default: the
    setting that would enable it).
    """

    key: str
    setting: str
    kind: Kind = "name"
    allowed: tuple[str, ...] = ()
    maximum: int = 0
    needs: str | None = None
    off: str | None = None

    @property
    def enabled(self) -> bool:
        return self.maximum > 0 if self.kind == "count" else bool(self.allowed)

    def refusal(self, value: str) -> Refusal | None:
        """Why ``value`` may not be used for this key; None when it may."""
        if not self.enabled:
            return Refusal(self.key, value, self.setting,
                           self.off or f"not allowed on this server (enabled by {self.setting})")
        reason = {"name": self._name, "selector": self._selector, "count": self._count}[self.kind](value)
        return Refusal(self.key, value, self.setting, reason) if reason else None

    def _name(self, value: str) -> str | None:
        if value in self.allowed:
            return None
        return f"{value!r} is not allowed ({self.setting} allows {', '.join(self.allowed)})"

    def _count(self, value: str) -> str | None:
        try:
            number = int(value.strip())
        except ValueError:
            number = 0
        if 1 <= number <= self.maximum:
            return None
        return f"{value!r} is not a whole number from 1 to {self.maximum} (the maximum is {self.setting})"

    def _selector(self, value: str) -> str | None:
        try:
            pairs = parse_selector(value)
        except ValueError as exc:
            return str(exc)
        for key, label in pairs.items():
            if f"{key}={label}" in self.allowed:
                continue
            if key not in self.allowed:
                return f"{key}={label!r} is not allowed ({self.setting} allows {', '.join(self.allowed)})"
            if not _LABEL_VALUE.match(label):
                return f"{label!r} is not a label value (at most 63 of A-Z a-z 0-9 - _ ., alphanumeric at both ends)"
        return None


def parse_selector(value: str) -> dict[str, str]:
    """'k=v,k2=v2' -> {'k': 'v', 'k2': 'v2'}; an entry without '=' or a key is a ValueError."""
    out = {}
    for pair in filter(None, (p.strip() for p in value.split(","))):
        key, sep, label = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"entry {pair!r} is not key=value")
        out[key.strip()] = label.strip()
    return out


def normalized(params: Mapping[str, Any] | None) -> dict[str, str]:
    """The parameters with lower-case keys (TES: keys are case-insensitive) and string values."""
    return {str(k).lower(): str(v) for k, v in (params or {}).items()}


@dataclass(frozen=True)
class Policy:
    """Every key a backend implements, each under its allowance."""

    allowances: tuple[Allowance, ...] = ()

    @property
    def known(self) -> frozenset[str]:
        """Keys the backend implements, allowed or not."""
        return frozenset(a.key for a in self.allowances)

    @property
    def enabled(self) -> frozenset[str]:
        """Keys the settings allow (service-info's ``tesResources_backend_parameters``)."""
        return frozenset(a.key for a in self.allowances if a.enabled)

    def refusals(self, params: Mapping[str, Any] | None) -> list[Refusal]:
        """Every known key of ``params`` the settings refuse; unknown keys are not this policy's business."""
        return list(self._refusals(normalized(params)))

    def _refusals(self, params: dict[str, str]) -> Iterator[Refusal]:
        for allowance in self.allowances:
            if allowance.key not in params:
                continue
            value = params[allowance.key]
            if refusal := allowance.refusal(value):
                yield refusal
            elif allowance.needs and allowance.needs not in params:
                yield Refusal(allowance.key, value, allowance.setting, f"needs {FIELD}.{allowance.needs} too")

    def check(self, params: Mapping[str, Any] | None) -> dict[str, str]:
        """The known keys of ``params``, normalized; raises ``Refused`` when the settings refuse any."""
        found = self.refusals(params)
        if found:
            raise Refused(found)
        return {k: v for k, v in normalized(params).items() if k in self.known}
