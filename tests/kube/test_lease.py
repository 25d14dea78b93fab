"""Leader election decisions: a pure function of the Lease record and an injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from poiesis.tctl import lease

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


HELD_BY_B = lease.LeaseRecord(holder="b", duration_s=15, acquire_time=at(0), renew_time=at(10), transitions=2)


def test_missing_lease_is_created_by_whoever_asks() -> None:
    """No Lease yet: create it holding it ourselves."""
    d = lease.decide(None, me="a", now=at(0), duration_s=15)
    assert d.action == "create" and d.leads
    assert d.record == lease.LeaseRecord(holder="a", duration_s=15, acquire_time=at(0), renew_time=at(0))


def test_holder_renews() -> None:
    """Our own Lease is renewed: renew time moves, acquire time and transitions stay."""
    d = lease.decide(HELD_BY_B, me="b", now=at(20), duration_s=15)
    assert d.action == "renew" and d.record.renew_time == at(20)
    assert d.record.acquire_time == at(0) and d.record.transitions == 2


def test_others_wait_while_the_lease_is_fresh() -> None:
    """Another replica's Lease renewed within its duration: wait, up to the last instant."""
    assert lease.decide(HELD_BY_B, me="a", now=at(24.999), duration_s=15).action == "wait"
    assert not lease.decide(HELD_BY_B, me="a", now=at(11), duration_s=15).leads


def test_expired_lease_is_taken() -> None:
    """Not renewed for its duration: taken over, transitions counted."""
    d = lease.decide(HELD_BY_B, me="a", now=at(25), duration_s=15)
    assert d.action == "take"
    assert d.record == lease.LeaseRecord(holder="a", duration_s=15, acquire_time=at(25), renew_time=at(25), transitions=3)


def test_released_lease_is_taken_at_once() -> None:
    """A Lease given up (no holder) is free even though it was renewed just now."""
    released = lease.LeaseRecord(holder=None, duration_s=15, renew_time=at(10))
    assert lease.decide(released, me="a", now=at(10.1), duration_s=15).action == "take"


def test_leader_stops_acting_when_renewals_fail() -> None:
    """A leader may act only until its last successful renewal is a full duration old."""
    assert lease.holds(at(10), now=at(24.9), duration_s=15)
    assert not lease.holds(at(10), now=at(25), duration_s=15)
    assert not lease.holds(None, now=at(0), duration_s=15)


def test_lease_object_round_trip() -> None:
    """A record written to a Lease object reads back the same (microsecond times, whole seconds)."""
    obj = lease.to_lease(HELD_BY_B, name="l", namespace="ns", resource_version="7")
    assert obj["metadata"] == {"name": "l", "namespace": "ns", "resourceVersion": "7"}
    assert obj["spec"]["renewTime"] == "2026-01-01T00:00:10.000000Z"
    assert lease.from_lease(obj) == HELD_BY_B
