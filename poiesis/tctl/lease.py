"""Leader election on a coordination.k8s.io Lease, decided by a pure function of the record and a clock.

Each replica reads the Lease, asks ``decide`` what to write, and writes it
with the record's resourceVersion; a 409 means another replica wrote first
and this one is not the leader this round. A leader whose renewals fail
stops acting once its last successful renewal is older than the duration
(``holds``), which is when the others may take over.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

_MICRO = "%Y-%m-%dT%H:%M:%S.%fZ"


@dataclass(frozen=True)
class LeaseRecord:
    """What the Lease's spec says."""

    holder: str | None
    duration_s: float
    acquire_time: datetime | None = None
    renew_time: datetime | None = None
    transitions: int = 0


@dataclass(frozen=True)
class Decision:
    """What to write: 'create', 'renew', 'take' (with ``record``) or 'wait' (nothing)."""

    action: str
    record: LeaseRecord | None = None

    @property
    def leads(self) -> bool:
        return self.action != "wait"


def expired(record: LeaseRecord, now: datetime) -> bool:
    """No holder, never renewed, or not renewed within its duration."""
    if not record.holder or record.renew_time is None:
        return True
    return now >= record.renew_time + timedelta(seconds=record.duration_s)


def decide(current: LeaseRecord | None, *, me: str, now: datetime, duration_s: float) -> Decision:
    """Create a missing Lease, renew our own, take an expired one, else wait."""
    if current is None:
        return Decision("create", LeaseRecord(holder=me, duration_s=duration_s, acquire_time=now, renew_time=now))
    if current.holder == me:
        return Decision("renew", replace(current, renew_time=now, duration_s=duration_s))
    if expired(current, now):
        return Decision(
            "take",
            LeaseRecord(
                holder=me, duration_s=duration_s, acquire_time=now, renew_time=now, transitions=current.transitions + 1
            ),
        )
    return Decision("wait")


def holds(last_renewed: datetime | None, *, now: datetime, duration_s: float) -> bool:
    """Whether a leader whose last successful write was at ``last_renewed`` may still act."""
    return last_renewed is not None and now < last_renewed + timedelta(seconds=duration_s)


# -- Lease objects --------------------------------------------------------------------


def _fmt(t: datetime | None) -> str | None:
    return t.astimezone(UTC).strftime(_MICRO) if t else None


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def from_lease(obj: dict[str, Any]) -> LeaseRecord:
    """A Lease object's spec as a record."""
    spec = obj.get("spec") or {}
    return LeaseRecord(
        holder=spec.get("holderIdentity"),
        duration_s=float(spec.get("leaseDurationSeconds") or 0),
        acquire_time=_parse(spec.get("acquireTime")),
        renew_time=_parse(spec.get("renewTime")),
        transitions=int(spec.get("leaseTransitions") or 0),
    )


def to_lease(record: LeaseRecord, *, name: str, namespace: str, resource_version: str | None = None) -> dict[str, Any]:
    """A Lease object carrying the record (with the resourceVersion it replaces, if any)."""
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if resource_version:
        meta["resourceVersion"] = resource_version
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": meta,
        "spec": {
            "holderIdentity": record.holder,
            "leaseDurationSeconds": max(1, round(record.duration_s)),
            "acquireTime": _fmt(record.acquire_time),
            "renewTime": _fmt(record.renew_time),
            "leaseTransitions": record.transitions,
        },
    }
