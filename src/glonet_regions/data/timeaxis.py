"""Daily time axes: CMEMS P1D stamps normalised to the day; gaps, duplicates, sub-daily steps."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from glonet_regions.core.errors import DataError

__all__ = ["format_dates", "normalise_daily_times"]

_DAY = np.timedelta64(1, "D")


def format_dates(days: Sequence[object] | np.ndarray, limit: int = 10) -> str:
    """``2022-02-06, 2022-02-07, ... (N in all)``."""
    text = [str(np.asarray(d).astype("datetime64[D]")) for d in days]
    if len(text) > limit:
        return ", ".join(text[:limit]) + f", ... ({len(text)} in all)"
    return ", ".join(text)


def _as_datetime64(values: np.ndarray, source: str) -> np.ndarray:
    if np.issubdtype(values.dtype, np.datetime64):
        return values.astype("datetime64[ns]")
    try:  # cftime objects of a standard calendar, or strings
        return pd.DatetimeIndex([pd.Timestamp(str(v)) for v in values]).values.astype(
            "datetime64[ns]"
        )
    except (ValueError, TypeError) as exc:
        raise DataError(
            f"{source}: time values of type {values.dtype} cannot be read as dates ({exc})"
        ) from None


def normalise_daily_times(
    values: np.ndarray, *, source: str, allow_gaps: bool = False
) -> np.ndarray:
    """The days (``datetime64[ns]`` at 00:00) of a daily time axis.

    CMEMS daily means are stamped at 00:00 or 12:00 of their day; both give that day. The
    input must be sorted.

    Raises:
        DataError: Sub-daily or coarser-than-daily steps, duplicate days, or missing days
            (unless ``allow_gaps``); the message names ``source`` and lists the dates.
    """
    times = _as_datetime64(np.asarray(values), source)
    if times.size == 0:
        raise DataError(f"{source}: the time axis is empty")
    if np.isnat(times).any():
        raise DataError(f"{source}: the time axis holds missing (NaT) values")
    days = times.astype("datetime64[D]")
    if times.size > 1:
        steps = np.diff(times)
        positive = steps[steps > np.timedelta64(0, "ns")]
        if positive.size:
            hours = positive / np.timedelta64(1, "h")
            typical = float(np.median(hours))
            if typical < 20.0:
                i = int(np.argmin(hours))
                raise DataError(
                    f"{source}: time steps of {typical:g} h found (e.g. "
                    f"{_stamp(positive, times, i)}); expected daily (P1D) means, one per day"
                )
            if typical > 36.0 and np.all(hours > 36.0):
                raise DataError(
                    f"{source}: time steps of {typical / 24:g} days found; expected daily "
                    "(P1D) means, one per day"
                )
        unique, counts = np.unique(days, return_counts=True)
        dup = unique[counts > 1]
        if dup.size:
            raise DataError(
                f"{source}: duplicate days in the time axis: {format_dates(dup)} "
                "(several time steps fall on the same day)"
            )
        full = np.arange(days[0], days[-1] + _DAY, _DAY)
        missing = np.setdiff1d(full, days)
        if missing.size and not allow_gaps:
            raise DataError(f"{source}: missing days in the time axis: {format_dates(missing)}")
    return days.astype("datetime64[ns]")


def _stamp(positive: np.ndarray, times: np.ndarray, i: int) -> str:
    steps = np.diff(times)
    where = np.flatnonzero(steps > np.timedelta64(0, "ns"))[i]
    a, b = times[where], times[where + 1]
    return f"{np.datetime_as_string(a, unit='m')} to {np.datetime_as_string(b, unit='m')}"
