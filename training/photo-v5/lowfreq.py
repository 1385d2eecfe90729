"""Where a model's error sits against WebP's at the same bytes: the error of the picture's
s x s means (s = 8, 16, 32 px) and MS-SSIM's five scales (1 - the SSIM term of each), per image.

    python training/photo-v5/lowfreq.py MODEL kodim21.png,kodim23.png,... [--lam 0.03]
        [--layers 2] [--json OUT.json]

Why (chunk 14): at 0.27-0.9 bpp photo-v5-g48-c11's error in 32x32 means was 5-20x WebP's
(kodim21: 7.99 against 0.36 of a total MSE of 60 against 51) and its SSIM terms 1.4-3x worse
at the coarse scales, while its chroma and luma PSNR trailed WebP's by only 0.5-2 dB: errors
alike over whole regions, which per-position MSE weights do not see.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo, installed or not
from vqcodec import api, media  # noqa: E402
from vqcodec.models import load_model  # noqa: E402

KODAK = Path("../shared/data/kodak")
SCALE_W = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)  # MS-SSIM's exponents (Wang et al. 2003)


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(a, dtype=np.float64)).permute(2, 0, 1)[None]


def mean_errors(img: np.ndarray, out: np.ndarray) -> dict:
    e = _t(img) - _t(out)
    return {"mse": float(e.pow(2).mean()),
            **{f"means{s}": float(F.avg_pool2d(e, s).pow(2).mean()) for s in (8, 16, 32)}}


def ssim_terms(img: np.ndarray, out: np.ndarray) -> list[float]:
    """1 - (cs at scales 1-4, l*cs at scale 5), mean over RGB: what MS-SSIM multiplies."""
    x = torch.arange(11, dtype=torch.float64) - 5
    g = torch.exp(-x**2 / 4.5)
    g = (g / g.sum()).view(1, 1, 1, -1).repeat(3, 1, 1, 1)

    def blur(t):
        return F.conv2d(F.conv2d(t, g, groups=3), g.transpose(2, 3), groups=3)

    a, b, c1, c2, res = _t(img), _t(out), (0.01 * 255) ** 2, (0.03 * 255) ** 2, []
    for s in range(5):
        ma, mb = blur(a), blur(b)
        va, vb, cov = blur(a * a) - ma**2, blur(b * b) - mb**2, blur(a * b) - ma * mb
        cs = (2 * cov + c2) / (va + vb + c2)
        term = cs if s < 4 else cs * (2 * ma * mb + c1) / (ma**2 + mb**2 + c1)
        res.append(1 - float(term.mean()))
        a, b = F.avg_pool2d(a, 2), F.avg_pool2d(b, 2)
    return res


def webp_at(img: np.ndarray, nbytes: int) -> tuple[int, np.ndarray]:
    """WebP (Pillow) at the quality whose size is closest to nbytes."""
    best = None
    for q in range(0, 101):
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, format="WEBP", quality=q)
        if best is None or abs(len(buf.getvalue()) - nbytes) < abs(best[0] - nbytes):
            best = (len(buf.getvalue()), buf.getvalue())
    return best[0], np.asarray(Image.open(io.BytesIO(best[1])).convert("RGB"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("images")
    ap.add_argument("--lam", type=float, default=0.03)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    lm = load_model(a.model)
    rows = []
    for name in a.images.split(","):
        img = media.load_image(KODAK / name)
        data = api.compress(img, lm, a.layers, rdo=a.lam)
        n, ref = webp_at(img, len(data))
        for codec, nb, out in ((a.model, len(data), api.decompress(data, lm)), ("webp", n, ref)):
            r = {"image": name, "codec": codec, "bpp": 8 * nb / (img.shape[0] * img.shape[1]),
                 **mean_errors(img, out), "one_minus_ssim_terms": ssim_terms(img, out)}
            rows.append(r)
            print(f"{name} {codec[-12:]:>12} {r['bpp']:.3f} bpp mse {r['mse']:6.2f} "
                  f"means8/16/32 {r['means8']:6.2f} {r['means16']:6.2f} {r['means32']:6.2f} "
                  f"1-ssim terms {np.round(r['one_minus_ssim_terms'], 4)}")
    for codec in dict.fromkeys(r["codec"] for r in rows):
        rs = [r for r in rows if r["codec"] == codec]
        print(f"mean {codec[-12:]:>12} " + " ".join(
            f"{k} {np.mean([r[k] for r in rs]):.3f}" for k in ("bpp", "mse", "means8", "means32")))
    if a.json:
        a.json.write_text(json.dumps({"model": a.model, "lam": a.lam, "layers": a.layers,
                                      "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
