"""A task's resources in whole units: TES's cores and gigabytes as millicores and bytes, exactly (pure).

TES 1.2 lets ``cpu_cores``, ``ram_gb`` and ``disk_gb`` be fractional and
asks that a request be rounded up; TES 1.1's whole cores and fractional
gigabytes are the same numbers. Every conversion reads a number as the
decimal its JSON spelled (for a float, the shortest decimal that reads back
as the same double: Python's ``repr``), multiplies in exact decimal
arithmetic and rounds up to the whole unit: 0.1 GiB is 107374183 bytes, not
the 107374182 that binary floating point gives, and 0.5 cores is 500
millicores. A gigabyte is a GiB (2^30 bytes), as the backends have always
read it (docs/kubernetes.md). So whatever a client asks is never rounded
down, and a request that is a whole number of the unit, written with at most
15 significant digits (every such decimal is its double's shortest form),
round-trips: its unit count divided back gives the same float.
"""

from __future__ import annotations

import decimal
import math
from decimal import Decimal

#: Bytes in one of TES's gigabytes (read as GiB).
GIB = 2**30
#: Millicores in a core (Kubernetes' CPU unit).
MILLI = 1000
#: Enough digits for any double (17 significant) times 2^30 (10 digits): products are exact.
_EXACT = decimal.Context(prec=64, rounding=decimal.ROUND_CEILING)


def as_written(value: float) -> Decimal:
    """``value`` as the decimal a JSON document spells it (a float's shortest round-trip form)."""
    if isinstance(value, bool) or not math.isfinite(value):
        raise ValueError(f"not a finite number: {value!r}")
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def _whole_units(value: float, per: int) -> int:
    """``value`` times ``per``, rounded up to a whole number (exact decimal arithmetic)."""
    return int(_EXACT.multiply(as_written(value), Decimal(per)).to_integral_value(rounding=decimal.ROUND_CEILING))


def millicores(cores: float) -> int:
    """``cores`` as a whole number of millicores, rounded up: 0.5 -> 500, 4 -> 4000, 0.0001 -> 1."""
    return _whole_units(cores, MILLI)


def gib_bytes(gigabytes: float) -> int:
    """``gigabytes`` (GiB) as a whole number of bytes, rounded up: 0.5 -> 536870912."""
    return _whole_units(gigabytes, GIB)


def cpu_quantity(cores: float) -> str:
    """A Kubernetes CPU quantity of ``cores``: whole cores as such ("4"), else millicores ("500m")."""
    milli = millicores(cores)
    return str(milli // MILLI) if milli % MILLI == 0 else f"{milli}m"


def cpus_option(cores: float) -> str:
    """``--cpus`` of podman and docker for ``cores``: the millicores as a decimal number of cores ("0.5", "4")."""
    return str(_EXACT.divide(Decimal(millicores(cores)), Decimal(MILLI)))
