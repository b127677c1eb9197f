"""What another run's boundaries would have added: its skill minus this run's, per variable.

Given the scores of this evaluation and of another one of the same start dates (typically the
same checkpoint forecast with ``--boundary reanalysis``, perfect boundaries, against the honest
``--boundary forecast``), :func:`skill_difference` gives, per variable and depth, the
difference of skill against persistence (``1 - RMSE / RMSE_persistence``, WeatherBench-2 RMSE
over the interior) at lead days 1, 5 and 10: positive where the other run's boundaries help.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from glonet_regions.core.errors import DataError
from glonet_regions.evaluation.headline import headline_leads
from glonet_regions.evaluation.labels import UNKNOWN

__all__ = ["forecast_of", "read_scores", "skill_difference"]

_NEEDED = {"model", "variable", "depth", "lead_day", "metric", "subregion", "value"}


def read_scores(path: str | Path) -> pd.DataFrame:
    """A ``scores.csv`` written by ``glonet-regions evaluate`` (clear error otherwise)."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"Scores file {p} does not exist")
    try:
        df = pd.read_csv(p, keep_default_na=False, na_values=["", "NaN", "nan"])
    except Exception as exc:  # pandas raises many kinds on a bad file
        raise DataError(f"{p} is not a scores.csv of glonet-regions evaluate: {exc}") from exc
    missing = sorted(_NEEDED - set(df.columns))
    if missing:
        raise DataError(f"{p} is not a scores.csv of glonet-regions evaluate: no {missing}")
    if "boundary_mode" in df.columns:
        df["boundary_mode"] = df["boundary_mode"].fillna("").astype(str)
    return df


def forecast_of(scores: pd.DataFrame) -> tuple[str, str]:
    """``(model name, boundary mode)`` of the evaluated forecast of a scores table.

    The forecast's rows are the ones with a boundary mode; a table without that column (or
    with none set) must hold exactly one model besides the baselines.
    """
    if "boundary_mode" in scores.columns:
        rows = scores[scores["boundary_mode"].astype(str) != ""]
        names = list(dict.fromkeys(rows["model"]))
        if len(names) == 1:
            return str(names[0]), str(rows["boundary_mode"].iloc[0])
    baselines = ("persistence", "climatology", "global", "physical")
    names = [m for m in dict.fromkeys(scores["model"]) if not str(m).startswith(baselines)]
    if len(names) != 1:
        raise DataError(f"Cannot tell the evaluated forecast among the models {names}")
    return str(names[0]), UNKNOWN


def _skill(scores: pd.DataFrame, model: str) -> pd.Series:
    sel = scores[(scores["subregion"] == "region") & (scores["metric"] == "rmse")]
    if "area" in sel.columns:
        sel = sel[sel["area"] == "interior"]
    sel = sel.assign(depth=sel["depth"].fillna(-1.0))
    key = ["variable", "depth", "lead_day"]
    mine = sel[sel["model"] == model].set_index(key)["value"]
    pers = sel[sel["model"] == "persistence"].set_index(key)["value"]
    both = pd.concat({"m": mine, "p": pers}, axis=1).dropna()
    return 1.0 - both["m"] / both["p"].where(both["p"] > 0)


def skill_difference(this: pd.DataFrame, other: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """The other run's skill minus this run's, per variable@depth (rows) and lead day.

    Returns:
        ``(table, title)``; the title names both boundary modes. The table is empty when the
        runs share no (variable, depth, lead day).
    """
    name_a, mode_a = forecast_of(this)
    name_b, mode_b = forecast_of(other)
    diff = (_skill(other, name_b) - _skill(this, name_a)).dropna()
    title = (
        f"skill of {name_b} with {mode_b} boundaries minus skill of {name_a} with {mode_a} "
        "boundaries (1 - RMSE/RMSE_persistence, interior of the whole box)"
    )
    if diff.empty:
        return pd.DataFrame(), title
    leads = headline_leads(diff.index.get_level_values("lead_day").unique())
    frame = diff.rename("delta").reset_index()
    frame = frame[frame["lead_day"].isin(leads)]
    frame["row"] = [
        v if d < 0 else f"{v} @ {d:g} m" for v, d in zip(frame["variable"], frame["depth"])
    ]
    table = frame.pivot_table(index="row", columns="lead_day", values="delta", sort=False)
    return table, title
