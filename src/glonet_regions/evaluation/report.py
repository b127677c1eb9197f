"""The evaluation report: scores.csv, scores.json, PNG plots and a self-contained report.html.

Plots use matplotlib's Agg backend. The HTML embeds every image as base64 and uses no external
JS or CSS, so it opens offline from anywhere.
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from glonet_regions.evaluation.headline import HEADLINE_WHAT, NO_DEPTH, Headline, headlines
from glonet_regions.evaluation.labels import PERSISTENCE_GROUP_LABEL
from glonet_regions.evaluation.pipeline import EvaluationResult
from glonet_regions.evaluation.scoring import WHOLE_REGION

__all__ = ["skill_table", "write_report", "write_scores"]


def _atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _label(variable: str, depth: float) -> str:
    return variable if depth is None or math.isnan(depth) else f"{variable} @ {depth:g} m"


def skill_table(scores: pd.DataFrame, model: str, *, metric: str = "rmse") -> pd.DataFrame:
    """Skill ``1 - RMSE_model / RMSE_persistence`` (whole region): variable@depth x lead.

    Rows of depth groups the checkpoint does not hold (labelled
    ``persistence (group not trained)``, not ``model``) are left out.
    """
    sel = scores[(scores["subregion"] == WHOLE_REGION) & (scores["metric"] == metric)]
    if "area" in sel.columns:
        sel = sel[sel["area"] == "interior"]
    key = ["variable", "depth", "lead_day"]
    mod = sel[sel["model"] == model].set_index(key)["value"]
    per = sel[sel["model"] == "persistence"].set_index(key)["value"]
    joined = pd.concat({"m": mod, "p": per}, axis=1).dropna()
    if joined.empty:
        return pd.DataFrame()
    with np.errstate(divide="ignore", invalid="ignore"):
        skill = 1.0 - joined["m"] / joined["p"]
    skill = skill.replace([np.inf, -np.inf], np.nan).reset_index(name="skill")
    skill["row"] = [_label(v, d) for v, d in zip(skill["variable"], skill["depth"])]
    return skill.pivot_table(index="row", columns="lead_day", values="skill", sort=False)


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> None:
    plt = _plt()
    _atomic_write(path, lambda p: fig.savefig(p, format="png", dpi=90, bbox_inches="tight"))
    plt.close(fig)


#: Axis labels of metrics that carry a unit of their own.
_METRIC_LABELS = {"lagrangian_deviation_km": "trajectory deviation (km)"}


def _plot_leads(scores: pd.DataFrame, out: Path, metric: str) -> list[Path]:
    plt = _plt()
    paths: list[Path] = []
    sel = scores[(scores["subregion"] == WHOLE_REGION) & (scores["metric"] == metric)]
    for var, sub in sel.groupby("variable", sort=False):
        depths = sorted(sub["depth"].unique(), key=lambda d: -1 if math.isnan(d) else d)
        n = len(depths)
        ncol = min(n, 3)
        nrow = math.ceil(n / ncol)
        fig, axes = plt.subplots(
            nrow, ncol, figsize=(4.2 * ncol, 3.2 * nrow), squeeze=False, layout="constrained"
        )
        for ax, depth in zip(axes.ravel(), depths):
            dsel = sub[sub["depth"].isna()] if math.isnan(depth) else sub[sub["depth"] == depth]
            for model, msub in dsel.groupby("model", sort=False):
                msub = msub.sort_values("lead_day")
                ax.plot(msub["lead_day"], msub["value"], marker="o", ms=3, label=str(model))
            ax.set_title(_label(str(var), depth), fontsize=9)
            ax.set_xlabel("lead day")
            ax.set_ylabel(_METRIC_LABELS.get(metric, metric))
            ax.grid(alpha=0.3)
        for ax in axes.ravel()[n:]:
            ax.axis("off")
        axes.ravel()[0].legend(fontsize=7)
        conv = str(sel["convention"].iloc[0]) if len(sel) else ""
        fig.suptitle(f"{var}: {metric} ({conv}) against lead day", fontsize=10)
        path = out / f"lead_{metric}_{var}.png"
        _save(fig, path)
        paths.append(path)
    return paths


def _plot_maps(result: EvaluationResult, out: Path) -> list[Path]:
    plt = _plt()
    paths = []
    for var, da in result.maps.items():
        leads = list(da["lead_day"].values)
        fig, axes = plt.subplots(
            1, len(leads), figsize=(4 * len(leads), 3.4), squeeze=False, layout="constrained"
        )
        vmax = float(np.nanmax(da.values)) if np.isfinite(da.values).any() else 1.0
        for ax, lead in zip(axes[0], leads):
            m = da.sel(lead_day=lead)
            im = ax.pcolormesh(
                m["longitude"], m["latitude"], m.values, shading="nearest", vmin=0, vmax=vmax
            )
            ax.set_title(f"lead day {int(lead)}", fontsize=9)
            ax.set_aspect("auto")
        fig.colorbar(im, ax=axes[0].tolist(), label=f"RMSE ({da.attrs.get('units', '')})")
        fig.suptitle(f"{result.forecast_name}: {var} RMSE over start dates", fontsize=10)
        path = out / f"map_{var}.png"
        _save(fig, path)
        paths.append(path)
    return paths


def _plot_scorecard(table: pd.DataFrame, model: str, out: Path) -> Path | None:
    if table.empty:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(1.0 + 0.6 * table.shape[1], 0.8 + 0.35 * table.shape[0]))
    vals = table.to_numpy(dtype=float)
    lim = max(0.05, float(np.nanmax(np.abs(vals))) if np.isfinite(vals).any() else 1.0)
    im = ax.imshow(vals, cmap="RdBu", vmin=-lim, vmax=lim, aspect="auto")
    ax.set_xticks(range(table.shape[1]), [str(c) for c in table.columns])
    ax.set_yticks(range(table.shape[0]), [str(r) for r in table.index], fontsize=8)
    ax.set_xlabel("lead day")
    for i in range(vals.shape[0]):
        for j in range(vals.shape[1]):
            if np.isfinite(vals[i, j]):
                ax.text(j, i, f"{vals[i, j]:.2f}", ha="center", va="center", fontsize=6)
    fig.colorbar(im, ax=ax, label="1 - RMSE / RMSE persistence")
    ax.set_title(
        f"{model}: skill against persistence (WB2 RMSE, interior of the whole region)",
        fontsize=9,
    )
    path = out / "scorecard.png"
    _save(fig, path)
    return path


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(path.name)}" src="data:image/png;base64,{data}">'


def _headline_html(items: list[Headline]) -> list[str]:
    esc = html.escape
    parts = [f"<h2>Headline</h2><p>{esc(HEADLINE_WHAT)}.</p>"]
    for h in items:
        parts.append(f"<h3>{esc(h.variable)}</h3>")
        has_depth = any(d != NO_DEPTH for d, _ in h.table.index)
        head = "".join(f"<th>lead day {int(c)}</th>" for c in h.table.columns)
        rows = [f"<table><tr>{'<th>depth</th>' if has_depth else ''}<th>model</th>{head}</tr>"]
        for (depth, model), vals in h.table.iterrows():
            cells = []
            for lead, v in vals.items():
                text = "-" if not np.isfinite(v) else f"{v:.4g}"
                best = bool(h.best.loc[(depth, model), lead])
                cells.append(f"<td>{'<b>' + text + ' *</b>' if best else text}</td>")
            dcell = f"<td>{'' if depth == NO_DEPTH else f'{depth:g} m'}</td>" if has_depth else ""
            rows.append(f"<tr>{dcell}<td style='text-align:left'>{esc(str(model))}</td>")
            rows[-1] += "".join(cells) + "</tr>"
        rows.append("</table>")
        parts += rows
        parts.append(f"<p>{esc(h.sentence)}</p>")
    return parts


_CONVENTIONS = (
    "<p>Conventions (docs/reference/scores.md): <b>oceanbench</b> rows are computed as "
    "OceanBench 0.4-0.6 does, over the whole evaluation box, open-boundary zone included "
    "(area <i>box</i>): RMSD = square root of the cos(latitude)-weighted lat/lon mean of the "
    "squared error, per forecast, then averaged over start dates; the missing fraction is the "
    "cos(latitude)-weighted share of the cells where the truth has a value and the model has "
    "none. <b>lagrangian_deviation_km</b> (oceanbench, variable 'trajectory'): mean distance "
    "(km) between surface drifters advected (RK4, 1 h step) from the first forecast day by the "
    "model's and the truth's currents, seeded at cos(latitude)-weighted ocean cells, over the "
    "particles alive in both, averaged over start dates; lead day L = L - 1 days of drift "
    "(OceanBench's labels, from lead day 2). <b>weatherbench2</b> rows (RMSE, bias, ACC) are "
    "cell-area weighted over the interior only (area <i>interior</i>: open-boundary zone "
    "excluded), RMSE square-rooted after the mean over start dates, ACC against the "
    "climatology named above. Rows labelled <i>" + PERSISTENCE_GROUP_LABEL + "</i> are depth "
    "groups the checkpoint does not hold: the forecast is persistence there. "
    "Files: scores.csv, scores.json.</p>"
)


def _html(
    result: EvaluationResult,
    table: pd.DataFrame,
    images: dict[str, list[Path]],
    heads: list[Headline] | None = None,
) -> str:
    esc = html.escape
    meta = result.meta
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>glonet-regions evaluation: {esc(meta.get('region', ''))}</title>",
        "<style>body{font-family:sans-serif;margin:1.5em;max-width:1300px}"
        "table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;"
        "padding:2px 6px;text-align:right}img{max-width:100%;margin:0.5em 0}</style>",
        "</head><body>",
        f"<h1>Evaluation of {esc(result.forecast_name)} on {esc(meta.get('region', ''))}</h1>",
        f"<p><b>Boundary mode</b>: {esc(str(meta.get('boundary_mode', 'unknown')))} "
        f"({esc(str(meta.get('boundary_mode_description', '')))})",
    ]
    pers = meta.get("depth_groups_persistence") or []
    if pers:
        parts.append(
            f"; <b>depth groups not in the checkpoint (persistence)</b>: {esc(', '.join(pers))}"
        )
    parts.append("</p>")
    parts += _headline_html(heads or [])
    if result.comparison is not None and not result.comparison[0].empty:
        cmp_table, title = result.comparison
        parts.append(f"<h2>What the other run's boundaries add</h2><p>{esc(title)}.</p>")
        parts.append(cmp_table.to_html(float_format=lambda v: f"{v:+.3f}", na_rep="-"))
    parts.append("<h2>Run</h2><ul>")
    for key in ("start_dates", "n_lead_days", "truth", "models", "zones", "climatology"):
        parts.append(f"<li><b>{esc(key)}</b>: {esc(str(meta.get(key)))}</li>")
    if meta.get("boundary_source"):
        parts.append(f"<li><b>boundary_source</b>: {esc(str(meta['boundary_source']))}</li>")
    parts.append("</ul>")
    parts.append(_CONVENTIONS)
    for note in result.notes:
        parts.append(f"<p><i>Note: {esc(note)}</i></p>")
    if "scorecard" in images:
        parts.append("<h2>Scorecard</h2>")
        parts += [_img(p) for p in images["scorecard"]]
    if not table.empty:
        parts.append(table.to_html(float_format=lambda v: f"{v:.3f}", na_rep="-"))
    parts.append("<h2>Error against lead day</h2>")
    parts += [_img(p) for p in images.get("lead", [])]
    parts.append("<h2>Error maps</h2>")
    parts += [_img(p) for p in images.get("maps", [])]
    parts.append("</body></html>")
    return "\n".join(parts)


def write_scores(result: EvaluationResult, out_dir: str | Path) -> dict[str, Any]:
    """Write ``scores.csv`` and ``scores.json`` into ``out_dir`` (each atomically)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    scores = result.scores
    csv = out / "scores.csv"
    _atomic_write(csv, lambda p: scores.to_csv(p, index=False))
    payload = {
        "meta": result.meta,
        "notes": result.notes,
        "forecast": result.forecast_name,
        "rows": json.loads(scores.to_json(orient="records")),
    }
    js = out / "scores.json"
    _atomic_write(js, lambda p: p.write_text(json.dumps(payload, indent=1)))
    return {"csv": csv, "json": js}


def write_report(result: EvaluationResult, out_dir: str | Path) -> dict[str, Any]:
    """Write scores.csv, scores.json, the plots and report.html into ``out_dir``.

    Returns:
        The paths written, by kind.
    """
    out = Path(out_dir)
    paths = write_scores(result, out)
    scores = result.scores
    images: dict[str, list[Path]] = {}
    images["lead"] = (
        _plot_leads(scores, out, "rmse")
        + _plot_leads(scores, out, "rmsd")
        + _plot_leads(scores, out, "lagrangian_deviation_km")
    )
    images["maps"] = _plot_maps(result, out)
    table = skill_table(scores, result.forecast_name)
    card = _plot_scorecard(table, result.forecast_name, out)
    if card is not None:
        images["scorecard"] = [card]
    page = out / "report.html"
    text = _html(result, table, images, headlines(scores, result.meta))
    _atomic_write(page, lambda p: p.write_text(text, encoding="utf-8"))
    return {**paths, "html": page, "images": images}
