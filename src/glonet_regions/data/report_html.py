"""Write ``data report``'s HTML page (matplotlib figures embedded, offline) and JSON summary."""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from glonet_regions.data.report import SPLITS, WHOLE, ReportData

__all__ = ["write_report"]

_COLOURS = {"train": "#1f77b4", "validation": "#ff7f0e", "test": "#2ca02c"}


def _png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _quantile_figure(data: ReportData, label: str) -> str:
    import matplotlib.pyplot as plt

    dist = data.summary["distributions"][label]
    zones = data.zones
    fig, ax = plt.subplots(figsize=(max(5.0, 1.3 * len(zones)), 3.2))
    width = 0.25
    for k, s in enumerate(SPLITS):
        for j, z in enumerate(zones):
            q = dist[z]["quantiles"][s]
            if q is None:
                continue
            x = j + (k - 1) * width
            ax.vlines(x, q[1], q[5], color=_COLOURS[s])
            ax.add_patch(plt.Rectangle((x - width / 3, q[2]), 2 * width / 3, q[4] - q[2],
                                       color=_COLOURS[s], alpha=0.6))  # fmt: skip
            ax.hlines(q[3], x - width / 3, x + width / 3, color="k")
        ax.plot([], [], color=_COLOURS[s], label=s)
    ax.set_xticks(range(len(zones)), zones, rotation=30, ha="right", fontsize=8)
    ax.set_title(f"{label}: daily zone means (box 25-75%, line 5-95%)", fontsize=9)
    ax.legend(fontsize=7)
    return _png(fig)


def _seasonal_figure(data: ReportData) -> str:
    import matplotlib.pyplot as plt

    chans = data.channels
    fig, axes = plt.subplots(1, len(chans), figsize=(3 * len(chans), 2.6), squeeze=False)
    for ax, lab in zip(axes[0], chans):
        for s in SPLITS:
            mm = data.summary["seasonal_cycle"][s]["monthly_mean"][lab]
            if mm:
                ax.plot(list(mm), list(mm.values()), "o-", color=_COLOURS[s], label=s, ms=3)
        ax.set_xlim(0.5, 12.5)
        ax.set_title(lab, fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0][0].legend(fontsize=6)
    fig.suptitle("Seasonal cycle (whole grid, monthly means)", fontsize=9)
    return _png(fig)


def _series_figure(data: ReportData) -> str:
    import matplotlib.pyplot as plt

    lab = next((c for c in data.channels if c.startswith("thetao")), data.channels[0])
    y = data.series[lab][WHOLE]
    fig, ax = plt.subplots(figsize=(8, 2.6))
    for k, s in enumerate(SPLITS):
        sel = data.split_of_day == k
        ax.plot(np.flatnonzero(sel), np.where(sel, y, np.nan)[sel], ".", ms=2,
                color=_COLOURS[s], label=s)  # fmt: skip
    ax.set_xlabel("day index")
    ax.set_title(f"{lab}, whole grid daily mean", fontsize=9)
    ax.legend(fontsize=7)
    return _png(fig)


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)


def write_report(data: ReportData, out: str | Path) -> tuple[Path, Path]:
    """Write ``index.html`` and ``summary.json`` into ``out``; returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    summ = data.summary
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>Store report: {html.escape(data.store)}</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}"
        "table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;"
        "padding:2px 6px}.warn{color:#a00}</style></head><body>",
        f"<h1>Store report: {html.escape(data.region)}</h1>",
        f"<p>{html.escape(data.store)}; days per split: "
        + ", ".join(f"{k} {v}" for k, v in summ["days_per_split"].items())
        + "</p><h2>Warnings</h2>",
    ]
    warns = summ["warnings"] or ["none"]
    parts.append("<ul>" + "".join(f"<li class='warn'>{html.escape(w)}</li>" for w in warns)
                 + "</ul>")  # fmt: skip
    parts.append("<h2>Distributions</h2>")
    for lab in data.channels:
        parts.append(f"<h3>{html.escape(lab)}</h3>")
        parts.append(f"<img src='data:image/png;base64,{_quantile_figure(data, lab)}'>")
        rows = []
        for z in data.zones:
            vt = summ["distributions"][lab][z]["vs_train"]
            keys = ("wasserstein", "ks", "share_outside_train_1_99")
            rows.append([z] + [_fmt(vt[s].get(k)) for s in ("validation", "test") for k in keys])
        parts.append(_table(
            ["zone", "val W1", "val KS", "val outside", "test W1", "test KS", "test outside"],
            rows,
        ))  # fmt: skip
    parts.append("<h2>Seasonal cycle</h2>")
    parts.append(f"<img src='data:image/png;base64,{_seasonal_figure(data)}'>")
    parts.append(_table(["split", "months covered", "days"], [
        [s, ", ".join(map(str, summ["seasonal_cycle"][s]["months"])),
         str(summ["seasonal_cycle"][s]["n_days"])] for s in SPLITS
    ]))  # fmt: skip
    parts.append(f"<img src='data:image/png;base64,{_series_figure(data)}'>")
    parts.append("<h2>Extremes (share of days)</h2>")
    for kind, table in summ["extremes"].items():
        parts.append(f"<h3>{html.escape(kind.replace('_', ' '))}</h3>")
        if not table:
            parts.append("<p>none flagged</p>")
            continue
        rows = [[z, *(_fmt(v[s]) for s in SPLITS)] for z, v in table.items()]
        parts.append(_table(["zone", *SPLITS], rows))
    q = summ["quality"]
    parts.append("<h2>Quality</h2>")
    parts.append(f"<p>{q['n_days']} days, {len(q['gaps'])} gap(s)"
                 + "".join(f"; {a} -> {b}" for a, b in q["gaps"][:10]) + "</p>")  # fmt: skip
    parts.append(_table(["channel", "NaN in ocean", "outside valid range"], [
        [c, str(q["nan_in_ocean"][c]), str(q["outside_valid_range"][c])] for c in data.channels
    ]))  # fmt: skip
    parts.append("<h2>Definitions</h2><ul>")
    parts += [
        f"<li>{html.escape(k)}: {html.escape(v)}</li>" for k, v in summ["definitions"].items()
    ]
    parts.append("</ul></body></html>")
    page = folder / "index.html"
    page.write_text("\n".join(parts))
    js = folder / "summary.json"
    js.write_text(json.dumps(_finite(summ), indent=1, allow_nan=False) + "\n")
    return page, js


def _finite(v: Any) -> Any:
    """NaN and infinities as null, numpy scalars as Python ones (strict JSON)."""
    if isinstance(v, dict):
        return {str(k): _finite(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_finite(x) for x in v]
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not np.isfinite(v):
        return None
    return v
