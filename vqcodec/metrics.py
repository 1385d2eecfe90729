"""Quality measures shared by the rate targets and the benchmarks (numpy only)."""

from __future__ import annotations

import math

import numpy as np


def psnr_from_mse(mse: float, peak: float = 255.0, min_mse: float = 0.0) -> float:
    """PSNR (dB) of a mean squared error on a scale whose largest value is `peak` (255 for
    uint8, 1 for [0, 1] tensors); the MSE is taken as at least min_mse (inf when it is 0)."""
    mse = max(mse, min_mse)
    return math.inf if mse == 0 else 10 * math.log10(peak**2 / mse)


def psnr(a: np.ndarray, b: np.ndarray, min_mse: float = 0.0) -> float:
    """PSNR (dB) of two uint8 images over every channel; the MSE is taken as at least min_mse
    (inf when it is 0: equal images)."""
    return psnr_from_mse(float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)),
                         min_mse=min_mse)
