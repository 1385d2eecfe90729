"""Ancestral sampling from the prior: repeatable by seed, right shapes, a grid from the CLI."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from vqcodec.models import load_model
from vqcodec.sample import grid, sample_images


def test_seed_makes_samples_repeatable(tiny_model):
    lm = load_model(tiny_model)
    a = sample_images(lm, 3, 20, 28, seed=5)
    assert a.shape == (3, 20, 28, 3) and a.dtype == np.uint8
    assert np.array_equal(a, sample_images(lm, 3, 20, 28, seed=5))
    assert not np.array_equal(a, sample_images(lm, 3, 20, 28, seed=6))
    cold = sample_images(lm, 3, 20, 28, seed=5, temperature=0.1)
    assert cold.shape == a.shape


def test_grid_layout():
    imgs = np.zeros((5, 4, 6, 3), np.uint8)
    g = grid(imgs, pad=2)
    assert g.shape == (2 * 4 + 2, 3 * 6 + 4, 3)  # 3 columns, 2 rows, white gutters
    assert g[4, 0, 0] == 255 and g[0, 0, 0] == 0


def test_sample_cli(tiny_model, tmp_path):
    out = tmp_path / "grid.png"
    cmd = [sys.executable, "-m", "vqcodec", "sample", "--model", str(tiny_model), "-n", "4",
           "--size", "16", "-o", str(out)]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=Path(__file__).parents[1])
    assert r.returncode == 0, r.stderr
    assert Image.open(out).size == (2 * 16 + 2, 2 * 16 + 2)
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=Path(__file__).parents[1])
    assert r.returncode == 1 and "--force" in r.stderr
