"""Units of source variables: recognise the canonical units and convert known alternatives."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from glonet_regions.core.errors import DataError
from glonet_regions.core.variables import Variable

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["CONVERSIONS", "UnitConversion", "canonical_units", "convert_units", "equivalent_units"]


@dataclass(frozen=True)
class UnitConversion:
    """A linear conversion ``canonical = value * scale + offset`` from some spellings."""

    from_units: tuple[str, ...]
    scale: float
    offset: float
    description: str


#: Spellings meaning exactly the canonical units, beyond each Variable's ``unit_aliases``.
_EQUIVALENTS: dict[str, tuple[str, ...]] = {
    "m": ("m", "meter", "meters", "metre", "metres"),
    "degC": ("degC", "deg_C", "degree_C", "degrees_celsius", "°C"),
    "m s-1": ("m s-1", "m/s", "m.s-1", "m s^-1", "meter/second", "meters/second", "m/sec"),
    "1e-3": ("1e-3", "1.e-3", "0.001", "psu", "PSU", "pss", "PSS", "practical_salinity_unit"),
}

#: Known alternatives per canonical unit.
CONVERSIONS: dict[str, tuple[UnitConversion, ...]] = {
    "degC": (
        UnitConversion(
            ("K", "kelvin", "Kelvin", "degK", "deg_K", "degree_K", "degrees_K", "degrees_kelvin"),
            1.0,
            -273.15,
            "K -> degC (value - 273.15)",
        ),
    ),
    "m": (
        UnitConversion(
            ("cm", "centimeter", "centimeters", "centimetre", "centimetres"),
            0.01,
            0.0,
            "cm -> m (value / 100)",
        ),
        UnitConversion(
            ("mm", "millimeter", "millimeters", "millimetre"), 0.001, 0.0, "mm -> m (value / 1000)"
        ),
    ),
    "m s-1": (
        UnitConversion(
            ("cm s-1", "cm/s", "cm.s-1", "cm s^-1", "cm s**-1", "centimeter/second"),
            0.01,
            0.0,
            "cm/s -> m/s (value / 100)",
        ),
    ),
}


def _norm(text: str) -> str:
    return " ".join(str(text).split())


def equivalent_units(var: Variable) -> tuple[str, ...]:
    """Every spelling accepted as the variable's canonical units."""
    return (var.units, *var.unit_aliases, *_EQUIVALENTS.get(var.units, ()))


def canonical_units(var: Variable, units: str) -> bool:
    """Whether ``units`` means the variable's canonical units."""
    target = _norm(units)
    return any(_norm(u) == target for u in equivalent_units(var))


def _find_conversion(var: Variable, units: str) -> UnitConversion | None:
    target = _norm(units)
    for conv in CONVERSIONS.get(var.units, ()):
        if any(_norm(u) == target for u in conv.from_units):
            return conv
    return None


def convert_units(
    da: xr.DataArray, var: Variable, *, source: str, source_name: str | None = None
) -> xr.DataArray:
    """``da`` in the variable's canonical units (``units`` attribute set, ``history`` noted).

    Raises:
        DataError: No ``units`` attribute, or units neither canonical nor convertible; the
            message names the file, the variable, the units found and those expected.
    """
    shown = f"{var.name}" + (f" ({source_name})" if source_name and source_name != var.name else "")
    accepted = sorted(set(equivalent_units(var)))
    convertible = [u for c in CONVERSIONS.get(var.units, ()) for u in c.from_units[:1]]
    expected = f"{var.units!r} (or {', '.join(accepted)}" + (
        f"; converted from {', '.join(convertible)})" if convertible else ")"
    )
    units = da.attrs.get("units")
    if units is None:
        raise DataError(f"{source}: variable {shown} has no 'units' attribute; expected {expected}")
    if canonical_units(var, str(units)):
        out = da
    else:
        conv = _find_conversion(var, str(units))
        if conv is None:
            raise DataError(
                f"{source}: variable {shown} has units {units!r}, which glonet-regions does "
                f"not know how to convert; expected {expected}"
            )
        out = da * conv.scale + conv.offset if conv.offset else da * conv.scale
        out.attrs = dict(da.attrs)
        note = f"glonet-regions: converted units {conv.description}"
        previous = out.attrs.get("history")
        out.attrs["history"] = f"{previous}\n{note}" if previous else note
        out.attrs["original_units"] = str(units)
    out.attrs["units"] = var.units
    return out
