"""poiesis.units: TES's cores and gigabytes to millicores and bytes, rounded up exactly (pure, Hypothesis).

The oracle is exact rational arithmetic on the decimal a client's JSON
spells (``Fraction(repr(x))``), never a float product.
"""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from generated.models import TesExecutor, TesResources
from poiesis import units
from poiesis.kube import build
from poiesis.local import engine

#: Every finite non-negative double, tiny and huge ones included, and JSON integers.
AMOUNTS = st.floats(min_value=0, allow_nan=False, allow_infinity=False) | st.integers(0, 2**63)


def _written(value: float) -> Fraction:
    return Fraction(repr(value)) if isinstance(value, float) else Fraction(value)


@given(AMOUNTS)
def test_any_amount_maps_to_the_least_whole_unit_not_below_it(value: float) -> None:
    """millicores and bytes are the exact ceiling of the number as written: never less, less than one unit more."""
    for whole, per in ((units.millicores(value), units.MILLI), (units.gib_bytes(value), units.GIB)):
        assert whole == math.ceil(_written(value) * per)
        assert Fraction(whole, per) >= _written(value) > Fraction(whole - 1, per)


@given(st.integers(0, 10**15 - 1))
def test_whole_millicores_round_trip(milli: int) -> None:
    """A number of cores that is a whole number of millicores (0.5, 1.25, 0.001) maps to exactly that many."""
    cores = float(Fraction(milli, units.MILLI))
    assert units.millicores(cores) == milli
    assert float(units.cpus_option(cores)) == cores
    assert units.cpu_quantity(cores) == (str(milli // 1000) if milli % 1000 == 0 else f"{milli}m")


@given(st.integers(0, 2**20))
def test_whole_mebibytes_round_trip(mebibytes: int) -> None:
    """A number of gigabytes that is a whole number of MiB (0.5, 8.25, 1/1024; up to 1 TiB, where such a number
    has at most 15 significant digits and so is its float's shortest form) maps to exactly that many bytes."""
    gigabytes = float(Fraction(mebibytes, 1024))
    assert units.gib_bytes(gigabytes) == mebibytes * 2**20
    assert float(Fraction(units.gib_bytes(gigabytes), units.GIB)) == gigabytes


@pytest.mark.parametrize(("gigabytes", "expected"), [(0.1, 107374183), (8.2, 8804682957), (1e-9, 2), (0.5, 2**29)])
def test_binary_floating_point_would_round_down(gigabytes: float, expected: int) -> None:
    """Where the float product falls short (0.1 GiB: 107374182.4 -> 107374182), the exact mapping rounds up."""
    assert units.gib_bytes(gigabytes) == expected
    assert units.gib_bytes(gigabytes) >= gigabytes * units.GIB


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, True])
def test_no_number_is_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="not a finite number"):
        units.millicores(bad)


def test_kubernetes_requests_fractional_cores_in_millicores_and_memory_in_bytes() -> None:
    """0.5 cores -> 500m, 4 -> "4"; 0.1 GiB -> 107374183 bytes, request and limit."""
    assert build.executor_resources(TesResources(cpu_cores=0.5, ram_gb=0.1)) == {
        "requests": {"cpu": "500m", "memory": "107374183"}, "limits": {"memory": "107374183"}}
    assert build.executor_resources(TesResources(cpu_cores=4))["requests"] == {"cpu": "4"}


def test_podman_gets_cpus_and_memory_from_the_task(tmp_path) -> None:
    """Container mode: --cpus=0.5 and --memory=<bytes> before the image; nothing when the task asks for nothing."""
    mode = engine.Mode("podman", cli="/usr/bin/podman")
    stdio = (None, tmp_path / "out", tmp_path / "err")
    executor = TesExecutor(image="alpine", command=["true"])

    def argv(resources: TesResources | None) -> list[str]:
        return engine.plan_container(executor, mode=mode, task_id="t", index=0, root=tmp_path, mapped=[], stdio=stdio,
                                     resources=resources).argv

    with_limits = argv(TesResources(cpu_cores=1.25, ram_gb=0.5))
    assert "--cpus=1.25" in with_limits and f"--memory={2**29}" in with_limits
    assert with_limits.index("--memory=536870912") < with_limits.index("--")
    assert not [a for a in argv(None) + argv(TesResources(zones=["z"])) if a.startswith(("--cpus", "--memory"))]
    assert "--cpus=0.01" in argv(TesResources(cpu_cores=0.001))  # podman's least CFS quota, 1 ms a 100 ms period
