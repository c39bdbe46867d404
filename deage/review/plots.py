"""Plots of review metrics over time (matplotlib, no pyplot: no global figure state).

``plot_metrics(metrics)`` returns a ``matplotlib.figure.Figure`` that a notebook shows inline;
``figure_png(fig)`` gives the PNG bytes the HTML report embeds.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from deage.review.metrics import REGIONS
from deage.review.thresholds import Thresholds

_REGION_COLOURS = {
    "forehead": "#1f77b4", "glabella": "#aec7e8", "crows_feet": "#ff7f0e", "under_eye": "#ffbb78",
    "nasolabial": "#2ca02c", "marionette": "#98df8a", "skin": "#9467bd", "neck": "#8c564b", "face": "#000000",
}


def _limit(ax: Any, value: float | None, label: str) -> None:
    if value is not None:
        ax.axhline(value, color="#d62728", linestyle="--", linewidth=1.0, label=label)


def plot_metrics(metrics: Any, thresholds: Thresholds | None = None, *, width: float = 10.0) -> Figure:
    """One panel per metric over the source frame numbers, with the thresholds as red dashed lines.

    Panels: identity distance; apparent-age change (years, on the frames identity is sampled);
    wrinkle-band change per region and crease-depth change (%);
    flicker ratio; landmark jitter (render and source, % of the eye distance); seam ratio; faces
    measured and missed.
    """
    t = thresholds or Thresholds()
    x = np.asarray(metrics.frames)
    fig = Figure(figsize=(width, 15.0), layout="constrained")
    axes = fig.subplots(7, 1, sharex=True)
    fig.suptitle(f"{_name(metrics.render)} vs {_name(metrics.source)}  (frames {metrics.frame_range[0]}"
                 f"-{metrics.frame_range[1] - 1})", fontsize=11)

    ax = axes[0]
    arcface = metrics.identity_backend == "arcface"
    ax.plot(x, metrics.identity_distance, "o-", markersize=3, color="#1f77b4")
    id_limit = t.max_identity_arcface if arcface else t.max_identity
    _limit(ax, id_limit, "limit")
    ax.set_ylabel(f"identity\ndistance ({metrics.identity_backend})")
    ax.set_ylim(0, 1.15 * max(id_limit or 0.0, _finite_max(metrics.identity_distance), 0.05))

    ax = axes[1]
    if len(metrics.age_change) == len(x):
        ok = np.isfinite(np.asarray(metrics.age_change, np.float64))
        ax.plot(x[ok], np.asarray(metrics.age_change)[ok], "o-", markersize=3, color="#8c564b")
    ax.axhline(0, color="#777777", linewidth=0.8)
    _limit(ax, t.max_age_change, "limit")
    ax.set_ylabel("apparent age\nchange (years)")

    ax = axes[2]
    for region in REGIONS:
        values = np.asarray(metrics.wrinkle_change.get(region, np.full(len(x), np.nan))) * 100.0
        ax.plot(x, values, "-", linewidth=2.2 if region == "face" else 1.0, color=_REGION_COLOURS.get(region),
                label="all skin" if region == "face" else region.replace("_", " "))
    if len(metrics.crease_change) == len(x):
        ax.plot(x, np.asarray(metrics.crease_change) * 100.0, "--", linewidth=2.2, color="#222222",
                label="crease depth, all skin")
    ax.axhline(0, color="#777777", linewidth=0.8)
    if t.max_wrinkle_change is not None:
        _limit(ax, t.max_wrinkle_change * 100.0, "limit")
    ax.set_ylabel("wrinkle band and\ncrease change (%)")
    ax.legend(fontsize=7, ncol=5, loc="lower left", framealpha=0.7)

    ax = axes[3]
    ax.plot(x, metrics.flicker_ratio, "-", color="#9467bd", label="per frame")
    ax.axhline(1.0, color="#777777", linewidth=0.8)
    _limit(ax, t.max_flicker_ratio, "limit (shot)")
    ax.set_ylabel("flicker ratio\nrender / source")

    ax = axes[4]
    ax.plot(x, np.asarray(metrics.landmark_jitter_source) * 100.0, "-", color="#7f7f7f", label="source")
    ax.plot(x, np.asarray(metrics.landmark_jitter) * 100.0, "-", color="#ff7f0e", label="render")
    ax.set_ylabel("landmark jitter\n(% eye dist.)")
    ax.legend(fontsize=7, loc="upper left")

    ax = axes[5]
    ax.plot(x, metrics.seam_ratio, "-", color="#2ca02c")
    ax.axhline(1.0, color="#777777", linewidth=0.8)
    _limit(ax, t.max_seam_ratio, "limit")
    ax.set_ylabel("seam ratio")

    ax = axes[6]
    ax.step(x, metrics.faces, where="mid", color="#1f77b4", label="faces measured")
    missed = np.asarray(metrics.faces_missed)
    if missed.any():
        ax.bar(x, missed, width=0.8, color="#d62728", label="faces missed")
    ax.set_ylabel("faces")
    ax.set_ylim(0, max(1, int(np.max(metrics.faces, initial=0)), int(missed.max(initial=0))) + 0.5)
    ax.legend(fontsize=7, loc="upper left")
    ax.set_xlabel("source frame")
    for ax in axes:
        ax.grid(True, alpha=0.3)
    return fig


def _finite_max(values: Any) -> float:
    v = np.asarray(values, np.float64)
    v = v[np.isfinite(v)]
    return float(v.max()) if v.size else 0.0


def figure_png(fig: Figure, dpi: int = 96) -> bytes:
    """PNG bytes of a figure."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def _name(path: str) -> str:
    from pathlib import Path

    return Path(path).name
