"""Physical variables: names, CF metadata, plausible ranges and source aliases."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from glonet_regions.core.errors import ValidationError

_SHORT_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Variable:
    """One physical variable of the state vector.

    Attributes:
        name: Short name used everywhere inside glonet-regions (``thetao``).
        standard_name: CF standard name (``sea_water_potential_temperature``).
        units: Canonical units of the stored values (``degC``).
        ndim: 2 for a surface field (no depth axis), 3 for a field on depth levels.
        valid_range: Plausible physical range ``(min, max)`` in ``units``, for sanity checks.
        aliases: Other names this variable is recognised by in source files.
        long_name: Human-readable description.
        unit_aliases: Spellings of ``units`` that mean exactly the canonical units.
        median_range: Range ``(min, max)`` the median of a field's ocean values must lie in
            (None: not checked). Narrower than ``valid_range``, it catches a field in the wrong
            units that still fits the valid range (salinity as a fraction, x 1e-3).
    """

    name: str
    standard_name: str
    units: str
    ndim: int
    valid_range: tuple[float, float]
    aliases: tuple[str, ...] = ()
    long_name: str = ""
    unit_aliases: tuple[str, ...] = ()
    median_range: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if not _SHORT_NAME.match(self.name):
            raise ValidationError(
                f"Variable name {self.name!r} must be lower-case letters, digits and '_'"
            )
        if self.ndim not in (2, 3):
            raise ValidationError(f"Variable {self.name!r}: ndim must be 2 or 3, got {self.ndim}")
        if not self.standard_name:
            raise ValidationError(f"Variable {self.name!r}: standard_name must not be empty")
        lo, hi = self.valid_range
        if not lo < hi:
            raise ValidationError(
                f"Variable {self.name!r}: valid_range must be (min, max) with min < max, "
                f"got {self.valid_range}"
            )
        object.__setattr__(self, "valid_range", (float(lo), float(hi)))
        if self.median_range is not None:
            mlo, mhi = self.median_range
            if not lo <= mlo < mhi <= hi:
                raise ValidationError(
                    f"Variable {self.name!r}: median_range must lie inside valid_range, got "
                    f"{self.median_range}"
                )
            object.__setattr__(self, "median_range", (float(mlo), float(mhi)))
        object.__setattr__(self, "aliases", tuple(self.aliases))
        object.__setattr__(self, "unit_aliases", tuple(self.unit_aliases))

    @property
    def is_3d(self) -> bool:
        """Whether the variable lives on depth levels."""
        return self.ndim == 3

    def matches(self, name: str, attrs: Mapping[str, Any] | None = None) -> bool:
        """Whether a source variable (by name, alias or ``standard_name``) is this one."""
        if name == self.name or name in self.aliases:
            return True
        return bool(attrs) and attrs.get("standard_name") == self.standard_name  # type: ignore[union-attr]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly description."""
        return {
            "name": self.name,
            "standard_name": self.standard_name,
            "units": self.units,
            "ndim": self.ndim,
            "valid_range": list(self.valid_range),
            "aliases": list(self.aliases),
            "long_name": self.long_name,
        }


@dataclass(frozen=True)
class VariableSet:
    """An ordered set of variables with look-up by short name."""

    variables: tuple[Variable, ...]
    _by_name: dict[str, Variable] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_name: dict[str, Variable] = {}
        for var in self.variables:
            if var.name in by_name:
                raise ValidationError(f"Variable {var.name!r} is listed twice")
            by_name[var.name] = var
        object.__setattr__(self, "_by_name", by_name)

    def __iter__(self) -> Iterator[Variable]:
        return iter(self.variables)

    def __len__(self) -> int:
        return len(self.variables)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __getitem__(self, name: str) -> Variable:
        try:
            return self._by_name[name]
        except KeyError:
            raise ValidationError(
                f"Unknown variable {name!r}; known: {', '.join(self._by_name)}"
            ) from None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._by_name)

    def subset(self, names: Iterable[str]) -> VariableSet:
        """The variables named, in the order given."""
        return VariableSet(tuple(self[n] for n in names))


#: The five GLONET variables, in GLONET's surface channel order.
ZOS = Variable(
    "zos",
    "sea_surface_height_above_geoid",
    "m",
    2,
    (-5.0, 5.0),
    aliases=("ssh", "sossheig", "zos_detided", "SSH"),
    long_name="Sea surface height above geoid",
    median_range=(-3.0, 3.0),
)
THETAO = Variable(
    "thetao",
    "sea_water_potential_temperature",
    "degC",
    3,
    (-3.0, 40.0),
    aliases=("votemper", "temperature", "temp", "toce", "T"),
    long_name="Sea water potential temperature",
    median_range=(-2.5, 35.0),
    unit_aliases=("degrees_C", "degree_Celsius", "degrees_Celsius", "celsius", "Celsius", "C"),
)
SO = Variable(
    "so",
    "sea_water_salinity",
    "1e-3",
    3,
    (0.0, 45.0),
    aliases=("vosaline", "salinity", "sal", "soce", "S"),
    long_name="Sea water salinity",
    median_range=(2.0, 42.0),
    unit_aliases=("psu", "PSU", "0.001", "1", "g/kg", "g kg-1", "PSS-78"),
)
UO = Variable(
    "uo",
    "eastward_sea_water_velocity",
    "m s-1",
    3,
    (-5.0, 5.0),
    aliases=("vozocrtx", "u", "uoce", "U"),
    long_name="Eastward sea water velocity",
    median_range=(-2.0, 2.0),
    unit_aliases=("m/s", "m.s-1", "meter second-1", "m s**-1"),
)
VO = Variable(
    "vo",
    "northward_sea_water_velocity",
    "m s-1",
    3,
    (-5.0, 5.0),
    aliases=("vomecrty", "v", "voce", "V"),
    long_name="Northward sea water velocity",
    median_range=(-2.0, 2.0),
    unit_aliases=("m/s", "m.s-1", "meter second-1", "m s**-1"),
)

GLONET_VARIABLES = VariableSet((ZOS, THETAO, SO, UO, VO))
