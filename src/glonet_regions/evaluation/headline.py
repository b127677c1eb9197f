"""The answer first: every model's error at lead days 1, 5 and 10, per variable, best marked.

:func:`headlines` builds, for each variable, a table of every model's WeatherBench-2 RMSE over
the interior of the whole evaluation box at each scored depth and the headline lead days
(:data:`HEADLINE_LEADS`, those the forecast reaches, plus its last one when it stops before
10), and one sentence saying whether the fine-tuned model beats the global forecast and the
physical forecast there. The report (HTML) and the printed summary show them at the top.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from glonet_regions.evaluation.labels import PERSISTENCE_GROUP_LABEL
from glonet_regions.evaluation.scoring import WHOLE_REGION

__all__ = [
    "HEADLINE_LEADS",
    "HEADLINE_METRIC",
    "HEADLINE_WHAT",
    "NO_DEPTH",
    "Headline",
    "headline_leads",
    "headlines",
    "headlines_text",
]

#: Lead days of the headline tables.
HEADLINE_LEADS: tuple[int, ...] = (1, 5, 10)
#: Depth of 2-D variables in the headline tables.
NO_DEPTH = -1.0
#: Metric of the headline tables (lower is better).
HEADLINE_METRIC = "rmse"
#: What the headline numbers are.
HEADLINE_WHAT = (
    "RMSE (WeatherBench-2: cell-area weighted, square root after the mean over start dates) "
    "over the interior of the evaluation box (open-boundary zone excluded); * = best"
)


@dataclass(frozen=True)
class Headline:
    """One variable's headline.

    Attributes:
        variable: The variable.
        table: Index ``(depth, model)`` (depth :data:`NO_DEPTH` for 2-D variables), one column
            per lead day.
        best: Same shape as ``table``: True where the value is the lowest of its depth and lead.
        sentence: Whether the fine-tuned model beats the global and physical forecasts.
    """

    variable: str
    table: pd.DataFrame
    best: pd.DataFrame
    sentence: str


def headline_leads(available: Sequence[int]) -> list[int]:
    """:data:`HEADLINE_LEADS` the forecast reaches, plus its last lead day if it stops sooner."""
    have = sorted({int(d) for d in available})
    if not have:
        return []
    picks = [d for d in HEADLINE_LEADS if d in have]
    if have[-1] < HEADLINE_LEADS[-1] and have[-1] not in picks:
        picks.append(have[-1])
    return picks or have[:1]


def _depth_text(depth: float) -> str:
    return "the surface" if depth == NO_DEPTH else f"{depth:g} m"


def _leads_text(leads: Sequence[int]) -> str:
    word = "lead day" if len(leads) == 1 else "lead days"
    return f"{word} {', '.join(str(d) for d in leads)}"


def _versus(
    table: pd.DataFrame, model: str, other: str, leads: Sequence[int]
) -> tuple[str, int] | None:
    """The clause saying where ``model`` beats ``other`` (None: nothing to compare)."""
    models = set(table.index.get_level_values("model"))
    if model not in models or other not in models:
        return None
    wins: dict[float, list[int]] = {}
    seen: list[float] = []
    n = 0
    k = 0
    for depth in dict.fromkeys(table.index.get_level_values("depth")):
        try:
            mine = table.loc[(depth, model)]
            theirs = table.loc[(depth, other)]
        except KeyError:
            continue
        for lead in leads:
            a, b = float(mine[lead]), float(theirs[lead])
            if not (np.isfinite(a) and np.isfinite(b)):
                continue
            n += 1
            if depth not in seen:
                seen.append(depth)
            if a < b:
                k += 1
                wins.setdefault(depth, []).append(lead)
    if n == 0:
        return None
    # Only the depths where the model itself forecasts (persistence groups have no model row).
    at = f"at {_depth_text(seen[0])}" if len(seen) == 1 else "at every depth it forecasts"
    if k == n:
        return f"beats {other} {at} and every lead day", k
    if k == 0:
        return f"does not beat {other} {at.replace('every', 'any')} or lead day", k
    if len(seen) == 1:
        return f"beats {other} only at {_leads_text(wins[seen[0]])}", k
    where = "; ".join(f"{_depth_text(d)}: {_leads_text(ls)}" for d, ls in wins.items())
    return f"beats {other} at {k} of {n} (depth, lead day) points ({where})", k


def _sentence(
    variable: str, table: pd.DataFrame, roles: Mapping[str, Any], leads: Sequence[int]
) -> str:
    model = str(roles.get("forecast", ""))
    others = [*roles.get("global", []), *roles.get("references", [])]
    models = set(table.index.get_level_values("model"))
    pers_depths = [
        d for d, m in table.index if m == PERSISTENCE_GROUP_LABEL and (d, model) not in table.index
    ]
    tail = ""
    if pers_depths:
        tail = (
            f" At {', '.join(_depth_text(d) for d in dict.fromkeys(pers_depths))} the forecast is "
            f"{PERSISTENCE_GROUP_LABEL}."
        )
    if model not in models:
        return f"{variable}: {model} has no trained rows here.{tail}"
    clauses = [c for c in (_versus(table, model, o, leads) for o in others) if c is not None]
    if not clauses:
        return (
            f"{variable}: no global forecast or physical forecast in this evaluation to compare "
            f"{model} with.{tail}"
        )
    return f"{variable}: {model} " + "; it ".join(c for c, _ in clauses) + "." + tail


def headlines(scores: pd.DataFrame, meta: Mapping[str, Any]) -> list[Headline]:
    """One :class:`Headline` per variable (in the order of the scores)."""
    if scores.empty:
        return []
    sel = scores[
        (scores["subregion"] == WHOLE_REGION)
        & (scores["metric"] == HEADLINE_METRIC)
        & (scores["area"] == "interior")
    ]
    leads = headline_leads(sel["lead_day"].unique())
    if sel.empty or not leads:
        return []
    sel = sel[sel["lead_day"].isin(leads)]
    sel = sel.assign(depth=sel["depth"].fillna(NO_DEPTH))
    roles = dict(meta.get("roles", {}))
    roles.setdefault("forecast", meta.get("forecast", ""))
    order = list(dict.fromkeys(sel["model"]))
    out: list[Headline] = []
    for var in dict.fromkeys(sel["variable"]):
        sub = sel[sel["variable"] == var]
        table = (
            sub.groupby(["depth", "model", "lead_day"], sort=False)["value"]
            .first()
            .unstack("lead_day")
        )
        if table.empty:
            continue
        table = table.reindex(columns=leads)
        depths = sorted(dict.fromkeys(table.index.get_level_values("depth")))
        rows = [(d, m) for d in depths for m in order if (d, m) in table.index]
        table = table.loc[rows]
        lows = table.groupby(level="depth", sort=False).transform("min")
        best = (table == lows) & table.notna()
        out.append(Headline(str(var), table, best, _sentence(str(var), table, roles, leads)))
    return out


def _cells(h: Headline, fmt: str) -> pd.DataFrame:
    text = h.table.apply(lambda col: col.map(lambda v: "-" if not np.isfinite(v) else fmt % v))
    return text.where(~h.best, text + "*").where(h.best, text + " ")


def headlines_text(items: Sequence[Headline]) -> str:
    """The headlines as plain text (the printed summary)."""
    if not items:
        return ""
    lines = [f"Headline: {HEADLINE_WHAT}"]
    for h in items:
        cells = _cells(h, "%.4g")
        cells.columns = [f"lead {c}" for c in cells.columns]
        has_depth = any(d != NO_DEPTH for d, _ in h.table.index)
        cells.index = [
            f"{_depth_text(d):>9}  {m}" if has_depth else str(m) for d, m in h.table.index
        ]
        lines.append("")
        lines.append(h.variable)
        lines.append(cells.to_string())
        lines.append(h.sentence)
    return "\n".join(lines)
