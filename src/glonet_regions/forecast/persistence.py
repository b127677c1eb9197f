"""Persistence as a forecast cube: the day before each start date, held for every lead day."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from glonet_regions.forecast.align import daily_to_cube
from glonet_regions.forecast.cube import FIRST_DAY, LEAD, add_cf_attributes

__all__ = ["persistence_forecast"]


def persistence_forecast(daily: xr.Dataset, first_days: Sequence[Any], n_lead: int) -> xr.Dataset:
    """The day before each start date, held for ``n_lead`` days.

    Raises:
        DataError: when ``daily`` lacks the day before a start date.
    """
    one = daily_to_cube(daily, first_days, 1, offset_days=-1, source="persistence initial day")
    out = xr.concat([one.isel({LEAD: 0}, drop=True)] * n_lead, dim=LEAD)
    out = out.assign_coords({LEAD: np.arange(n_lead, dtype=np.int64)})
    order = [d for d in (FIRST_DAY, LEAD, "depth", "latitude", "longitude") if d in out.dims]
    out = out.transpose(*order, ...)
    out.attrs = {"model": "persistence", "description": "last initial-condition day held"}
    return add_cf_attributes(out)
