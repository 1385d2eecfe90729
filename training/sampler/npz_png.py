"""An .npz image set (x_train, x_test) as PNG folders, for `vqcodec train --data OUT/train`.

    python training/sampler/npz_png.py ../shared/data/mnist/mnist_subset.npz runs/mnist-png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("npz", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--limit", type=int, help="Only the first N images of each split.")
    a = ap.parse_args()
    d = np.load(a.npz)
    for split in ("train", "test"):
        folder = a.out / split
        folder.mkdir(parents=True, exist_ok=True)
        x = d[f"x_{split}"][: a.limit]
        for i, img in enumerate(x):
            Image.fromarray(img.squeeze()).save(folder / f"{i:05d}.png")
        print(f"{len(x)} images in {folder}")


if __name__ == "__main__":
    main()
