"""What the benchmarks share: the rate-distortion frontier of a set of points, the BD-rate
between two curves, and writing a benchmark's results (JSON, a plot of its curves)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np


def bd_rate(r1: list[float], d1: list[float], r2: list[float], d2: list[float]) -> float | None:
    """Bjontegaard delta rate (%) of curve 2 against curve 1 (negative: curve 2 is smaller)."""
    if len(r1) < 2 or len(r2) < 2:
        return None
    lo, hi = max(min(d1), min(d2)), min(max(d1), max(d2))
    if lo >= hi:
        return None

    def integral(r, d):
        o = np.argsort(d)
        d, lr = np.asarray(d)[o], np.log(np.asarray(r)[o])
        p = np.polyfit(d, lr, min(3, len(d) - 1))
        pi = np.polyint(p)
        return (np.polyval(pi, hi) - np.polyval(pi, lo)) / (hi - lo)

    return float((math.exp(integral(r2, d2) - integral(r1, d1)) - 1) * 100)


def frontier(pts: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The points no other point beats on both rate and quality (sorted by rate): a model with
    two knobs (layers, lam) has dominated settings, which a BD fit must not see."""
    out: list[tuple[float, float]] = []
    for r, d in sorted(pts):
        if not out or d > out[-1][1]:
            out.append((r, d))
    return out



def plot_rd(path: Path, xlabel: str, panels: list[tuple[str, dict]],
            xlim: tuple[float, float] | None = None) -> None:
    """One PNG of side-by-side panels, one curve per codec in each: `panels` is a list of
    (y label, {codec: (rates, values)}); codecs with no points are left out."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(12, 5))
    for ax, (ylabel, curves) in zip(axes, panels, strict=True):
        for codec, (r, d) in curves.items():
            if r:
                ax.plot(r, d, "o-", label=codec)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        if xlim is not None:
            ax.set_xlim(*xlim)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def save_results(res: dict, json_path: Path | None, plot_path: Path | None = None,
                 plot_fn: Callable[[dict, Path], None] | None = None, indent: int = 1) -> dict:
    """Write a benchmark's JSON and plot where asked; returns res."""
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(res, indent=indent))
    if plot_path and plot_fn is not None:
        plot_fn(res, plot_path)
    return res
