"""How blocky a model's pictures are: on Kodak images coded at a few lams (3 layers, real
bytes), the mean error of the horizontal pixel step across 8 px block edges divided by that
inside blocks (1 = no blocking), with bpp, PSNR and MS-SSIM.

    python training/photo-v5/block_edges.py MODEL [MODEL ...] --images kodim05.png,kodim19.png \
        --json training/photo-v5/block_edges.json
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from vqcodec import api
from vqcodec.image_bench import ms_ssim, psnr
from vqcodec.models import load_model

KODAK = Path(os.environ.get("VQCODEC_DATA", "../shared/data")) / "kodak"


def edge_ratio(img: np.ndarray, out: np.ndarray, block: int = 8) -> float:
    """Mean |error of the step x[i+1] - x[i]| across block edges over that inside blocks."""
    d = np.abs(np.diff(out.astype(np.float64), axis=1) - np.diff(img.astype(np.float64), axis=1))
    d = d.mean(2)
    across = d[:, block - 1::block]
    inside = np.delete(d, np.s_[block - 1::block], axis=1)
    return float(across.mean() / inside.mean())


def main(models: list[str], images: list[str], lams: list[float]) -> list[dict]:
    rows = []
    for name in models:
        m = load_model(name)
        for im in images:
            img = np.array(Image.open(KODAK / im).convert("RGB"))
            for lam in lams:
                data = api.compress(img, m, layers=None, rdo=lam)
                out = api.decompress(data, m)
                rows.append({"model": name, "image": im, "lam": lam,
                             "bpp": round(len(data) * 8 / img.shape[0] / img.shape[1], 4),
                             "psnr": round(psnr(img, out), 3), "ms_ssim": round(ms_ssim(img, out), 5),
                             "edge_ratio": round(edge_ratio(img, out), 3)})
                print(json.dumps(rows[-1]), flush=True)
    return rows


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="+")
    ap.add_argument("--images", default="kodim05.png,kodim19.png")
    ap.add_argument("--lams", default="0.1,0.03,0.005")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    torch.set_num_threads(1)
    res = main(a.models, a.images.split(","), [float(x) for x in a.lams.split(",")])
    if a.json:
        a.json.write_text(json.dumps(res, indent=1) + "\n")
