"""Per-rate gap to WebP: the extra bytes a model's frontier needs at each WebP point's quality.

BD-rate averages over the whole range; this says where the gap is (the low end, the top):

    python training/photo-v5/gap.py training/photo-v5/bench_kodak_g48c18.json photo-v5-g48-c18

prints, for PSNR and MS-SSIM, "bpp:+x%" per WebP point up to --max-bpp (log-rate interpolated
along the model's frontier; a WebP quality outside the model's range is extrapolated flat, so
read the ends with care).
"""

import argparse
import json

import numpy as np

from vqcodec.bench_results import frontier


def points(bench: dict, codec: str, metric: str) -> list[tuple[float, float]]:
    return frontier([(p["bpp"], p[metric]) for p in bench["points"] if p["codec"] == codec])


def gaps(bench: dict, model: str, metric: str, max_bpp: float) -> list[tuple[float, float]]:
    """(WebP bpp, model's extra bytes in %) at each WebP point's quality."""
    rates, quals = zip(*points(bench, model, metric), strict=True)
    out = []
    for wr, wq in points(bench, "webp", metric):
        if wr <= max_bpp:
            out.append((wr, (np.exp(np.interp(wq, quals, np.log(rates))) / wr - 1) * 100))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bench", help="a Kodak bench JSON with webp and the models' points")
    ap.add_argument("models", nargs="+")
    ap.add_argument("--max-bpp", type=float, default=1.3)
    a = ap.parse_args()
    bench = json.load(open(a.bench))
    for metric in ("psnr", "ms_ssim"):
        for m in a.models:
            print(metric, m, " ".join(f"{r:.2f}:{g:+.0f}%" for r, g in gaps(bench, m, metric, a.max_bpp)))


if __name__ == "__main__":
    main()
