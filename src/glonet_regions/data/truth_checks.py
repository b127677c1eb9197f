"""Checks of a truth file (``evaluate --truth``, ``forecast --persistence --truth``).

Scores against a truth in the wrong units are worse than no scores: a temperature in Kelvin
labelled degC would score an RMSD of 273. Each variable of the truth goes through the same
unit conversion and physical range checks as the training inputs
(:func:`glonet_regions.data.reader.check_values`); the variables it lacks are returned so the
caller can say which rows will be missing.
"""

from __future__ import annotations

import xarray as xr

from glonet_regions.core.variables import GLONET_VARIABLES, VariableSet
from glonet_regions.data.reader import check_values
from glonet_regions.data.units import convert_units

__all__ = ["check_truth"]


def check_truth(
    ds: xr.Dataset, *, source: str, variables: VariableSet = GLONET_VARIABLES
) -> tuple[xr.Dataset, list[str]]:
    """The truth in canonical units, and the names of the variables it lacks.

    Variables without a ``units`` attribute are taken to be in canonical units (their values
    are still checked).

    Raises:
        DataError: Unknown units, no finite value, values or median outside the physical
            ranges of real ocean fields (naming the file and the variable).
    """
    out = ds.copy()
    for var in variables:
        if var.name not in ds.data_vars:
            continue
        da = ds[var.name]
        if "units" in da.attrs:
            da = convert_units(da, var, source=source)
        check_values(da, var, source=source)
        out[var.name] = da
    missing = [v.name for v in variables if v.name not in ds.data_vars]
    return out, missing
