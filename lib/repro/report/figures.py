"""Shared figure style and deterministic PNG output.

A figure written by :func:`save_figure` is byte-identical across reruns with the same data:
matplotlib's PNG writer gets no "Software" or date metadata, and the file is written atomically.
"""
from __future__ import annotations

import io
from pathlib import Path

import matplotlib

from repro.core.io import atomic_write_bytes

STYLE = {
    "figure.figsize": (6.4, 4.0),
    "figure.dpi": 100,
    "savefig.dpi": 120,
    "savefig.bbox": "tight",
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "lines.linewidth": 1.6,
    "axes.prop_cycle": matplotlib.cycler(color=[
        "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]),
    "svg.hashsalt": "repro",
}
"""Colour-blind-safe palette (Okabe-Ito) and a light grid; the same for every paper."""


def use_style() -> None:
    """Apply the project's matplotlib style to the current session."""
    matplotlib.rcParams.update(STYLE)


def save_figure(fig, out_dir, name: str) -> str:
    """Save ``fig`` as ``out_dir/name`` (a .png) deterministically; return ``name`` for metrics.json."""
    if not name.endswith(".png"):
        raise ValueError(f"figure name {name!r}: expected a .png file name")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    atomic_write_bytes(Path(out_dir) / name, buffer.getvalue())
    return name
