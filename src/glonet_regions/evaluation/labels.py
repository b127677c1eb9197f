"""What each row of the scores is: boundary mode of the forecast, persistence groups, climatology.

- :func:`boundary_info` reads the forecast cube's ``boundary_mode``,
  ``boundary_mode_description`` and ``depth_groups_persistence`` attributes (``unknown`` when
  a cube predates them);
- :func:`label_persistence_groups` renames the forecast's rows of the depth groups its
  checkpoint does not hold (they are persistence, the day before the start held) to
  :data:`PERSISTENCE_GROUP_LABEL`, so they never carry the model's name;
- :func:`climatology_label` names the climatology baseline by what it is (harmonic fit or
  day-of-year mean, and how many training days).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from glonet_regions.core.region import Region
from glonet_regions.forecast.align import depth_indices

__all__ = [
    "BOUNDARY_MODES",
    "PERSISTENCE_GROUP_LABEL",
    "UNKNOWN",
    "boundary_info",
    "climatology_label",
    "label_persistence_groups",
    "persistence_groups",
]

#: Model name of the forecast's rows that come from depth groups not in its checkpoint.
PERSISTENCE_GROUP_LABEL = "persistence (group not trained)"
#: Boundary mode of a cube that does not say.
UNKNOWN = "unknown"
#: The boundary modes a forecast cube may carry, and what each means.
BOUNDARY_MODES: dict[str, str] = {
    "forecast": "boundary from a global forecast issued on or before the start date",
    "reanalysis": "idealised: perfect boundaries (the reanalysis of the forecast's own days)",
    "persistence": "boundary held at its state on the day before the start",
    "none": "no boundary forcing",
}
#: Diagnostics and the variable (level) whose depth group they come from.
_DERIVED = {"ugos": "zos", "vgos": "zos", "trajectory": "uo"}


def _split(value: Any) -> list[str]:
    text = "" if value is None else str(value)
    return [p.strip() for p in text.split(",") if p.strip() and p.strip().lower() != "none"]


def boundary_info(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """The forecast's boundary mode, its description and its persistence groups.

    Returns:
        ``boundary_mode`` (``unknown`` when the cube lacks it), ``boundary_mode_description``,
        ``boundary_source``, ``depth_groups_persistence`` (a list) and ``boundary_known``.
    """
    mode = str(attrs.get("boundary_mode", "") or "").strip()
    known = bool(mode)
    mode = mode or UNKNOWN
    desc = str(attrs.get("boundary_mode_description", "") or "").strip()
    if not desc:
        desc = BOUNDARY_MODES.get(mode, "not recorded in the forecast file")
    return {
        "boundary_mode": mode,
        "boundary_mode_description": desc,
        "boundary_source": str(attrs.get("boundary_source", "") or ""),
        "depth_groups_persistence": _split(attrs.get("depth_groups_persistence")),
        "boundary_known": known,
    }


def persistence_groups(
    region: Region, groups: list[str]
) -> tuple[set[str], dict[str, list[float]], list[str]]:
    """2-D variables, 3-D variables with their levels, and unknown names, of ``groups``."""
    two_d: set[str] = set()
    three_d: dict[str, list[float]] = {}
    unknown: list[str] = []
    by_name = {g.name: g for g in region.depth.groups}
    for name in groups:
        g = by_name.get(name)
        if g is None:
            unknown.append(name)
            continue
        two_d.update(g.variables_2d)
        levels = [float(region.depth.levels[i]) for i in g.level_indices]
        for v in g.variables_3d:
            three_d.setdefault(v, []).extend(levels)
    return two_d, three_d, unknown


def _groups_of(region: Region, variable: str) -> set[str]:
    return {g.name for g in region.depth.groups if variable in (*g.variables_2d, *g.variables_3d)}


def label_persistence_groups(
    scores: pd.DataFrame,
    model: str,
    region: Region,
    groups: list[str],
    notes: list[str],
) -> pd.DataFrame:
    """Rename ``model``'s rows of the persistence ``groups`` to :data:`PERSISTENCE_GROUP_LABEL`.

    A row is in a group when its variable is one of the group's 2-D variables (no depth) or
    one of its 3-D variables at one of its levels. Geostrophic currents follow ``zos``, the
    trajectory deviation follows ``uo`` at its level; the mixed-layer depth is persistence
    when every group holding ``thetao`` is (when only some are, a note says so).
    """
    if not groups or scores.empty:
        return scores
    two_d, three_d, unknown = persistence_groups(region, groups)
    if unknown:
        notes.append(
            f"Depth group(s) {', '.join(unknown)} named persistence by the forecast are not "
            f"groups of region {region.name!r}: their rows keep the model's name."
        )
    names = set(groups)
    mld_groups = _groups_of(region, "thetao")
    mld_all = bool(mld_groups) and mld_groups <= names
    mld_some = bool(mld_groups & names) and not mld_all

    def is_persistence(variable: str, depth: float) -> bool:
        var = _DERIVED.get(variable, variable)
        if var == "mld":
            return mld_all
        if depth is None or math.isnan(depth):
            return var in two_d
        levels = three_d.get(var) or []
        return bool(levels) and bool(depth_indices(levels, [depth]))

    sel = scores["model"] == model
    flags = np.zeros(len(scores), dtype=bool)
    idx = np.flatnonzero(sel.to_numpy())
    rows = scores.iloc[idx]
    cache: dict[tuple[str, float], bool] = {}
    for k, var, depth in zip(idx, rows["variable"], rows["depth"]):
        key = (str(var), float(depth))
        if key not in cache:
            cache[key] = is_persistence(*key)
        flags[k] = cache[key]
    out = scores.copy()
    out.loc[flags, "model"] = PERSISTENCE_GROUP_LABEL
    out.attrs = dict(scores.attrs)
    if flags.any():
        notes.append(
            f"Depth group(s) {', '.join(groups)} are not in the checkpoint of {model}: the "
            f"forecast holds persistence there; their rows are labelled "
            f"'{PERSISTENCE_GROUP_LABEL}' and left out of the skill scorecard."
        )
    if mld_some and (rows["variable"] == "mld").any():
        notes.append(
            f"The mixed-layer depth of {model} mixes trained levels with persistence group(s) "
            f"{', '.join(sorted(mld_groups & names))}."
        )
    return out


def climatology_label(attrs: Mapping[str, Any]) -> str:
    """``climatology (<method> of N training days)`` from a climatology's attributes."""
    method = str(attrs.get("climatology_method", "") or "")
    n_days = attrs.get("climatology_n_days")
    kind = "harmonic fit" if method.startswith("harmonic") else "day-of-year mean"
    if method.startswith("day-of-year") and "window" in attrs.get("climatology_method", ""):
        window = attrs.get("climatology_window_days")
        kind = f"day-of-year mean, {window}-day window" if window else kind
    if n_days is None:
        return f"climatology ({kind} of the training split)"
    return f"climatology ({kind} of {int(n_days)} training days)"
