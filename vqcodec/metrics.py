"""Quality measures shared by the rate targets and the benchmarks (numpy only)."""

from __future__ import annotations

import math

import numpy as np


def psnr(a: np.ndarray, b: np.ndarray, min_mse: float = 0.0) -> float:
    """PSNR (dB) of two uint8 images over every channel; the MSE is taken as at least min_mse
    (inf when it is 0: equal images)."""
    mse = max(float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)), min_mse)
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)
