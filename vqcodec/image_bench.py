"""Rate-distortion benchmark of images: vqcodec models (every layer count, and every rate
weight of an entropy-constrained model) against Pillow's JPEG/WebP/AVIF.

    vqcodec bench images ../shared/data/kodak --out-json runs/bench.json --plot runs/bench.png

Rates are measured from real file bytes. For vqcodec a file of k layers is the all-layer file
truncated to k layers (what `--layers k` writes: the streams are independent). Also reported per
layer: bits per index actually written vs log2(m) vs the prior's cross-entropy.
"""

from __future__ import annotations

import io
import math
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from . import api, container, media, metrics
from .bench_results import bd_rate, frontier, plot_rd, save_results
from .coding import cross_entropy_bits
from .models import list_models, load_model
from .segments import with_groups

QUALITIES = {"jpeg": [10, 20, 30, 40, 50, 60, 70, 80, 90, 95],
             "webp": [5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95],
             "avif": [10, 20, 30, 40, 50, 60, 70, 80, 90]}


# metrics.psnr, finite for equal images (148 dB) so that curves and means stay numbers.
psnr = partial(metrics.psnr, min_mse=1e-10)


def ms_ssim(a: np.ndarray, b: np.ndarray) -> float | None:
    """MS-SSIM (pytorch-msssim, the `bench` extra); None when it is not installed."""
    try:
        from pytorch_msssim import ms_ssim as _ms
    except ImportError:
        return None
    if min(a.shape[:2]) <= 160:  # its 4 downsamplings need a larger image
        return None
    ta = torch.from_numpy(a).permute(2, 0, 1)[None].double()
    tb = torch.from_numpy(b).permute(2, 0, 1)[None].double()
    return float(_ms(ta, tb, data_range=255))


def classical(img: np.ndarray, codec: str, q: int) -> tuple[int, np.ndarray, float, float]:
    """(bytes, decoded image, encode s, decode s) through Pillow."""
    buf = io.BytesIO()
    t = time.perf_counter()
    Image.fromarray(img).save(buf, format=codec.upper(), quality=q)
    te = time.perf_counter() - t
    t = time.perf_counter()
    out = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    return len(buf.getvalue()), out, te, time.perf_counter() - t



def _curve(rows: list[dict], codec: str, metric: str) -> tuple[list[float], list[float]]:
    pts = frontier([(r["bpp"], r[metric]) for r in rows
                     if r["codec"] == codec and r[metric] is not None])
    return [p[0] for p in pts], [p[1] for p in pts]


# Encode-time rate weights of an entropy-constrained model (product HR-VQ) swept by the bench,
# each with every layer count; models without the knob are swept over layers only. 0.003 and 2
# reach the ends of photo-v4-c3's training range (about 1.5 and 0.1 bpp on Kodak); 0.005 fills
# the frontier's widest gap (photo-v5-g48-c2: 0.97 bpp at lam 0.01, 1.67 at 0.003), 0.02 and
# 0.05 the next ones (photo-v5-g48-c10: 0.44 bpp at lam 0.03, 0.80 at 0.01; 0.19 at 0.1);
# 0.002 and 0.001 the top (photo-v5-g48-c11: 1.4 bpp at lam 0.003, then 3.8 at lam 0, where
# they give 1.6-2.6 bpp: the rates people keep photos at).
BENCH_LAMBDAS = (0.0, 0.001, 0.002, 0.003, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.3, 1.0, 2.0)


def _bench_model(name: str, images: dict, device: str, log: Callable[[str], None],
                 lambdas: tuple[float, ...] | None = None) -> tuple[list[dict], list[dict]]:
    """Per-image rows of one model at every (lam, layers) setting, and its per-layer index
    statistics (bits written vs the prior's cross-entropy, at lam = 0)."""
    lm = load_model(name, device)
    n, m = lm.codec.num_layers, lm.codec.m
    lams = (lambdas or BENCH_LAMBDAS) if lm.codec.groups else (0.0,)
    acc = {k: {"bits": 0.0, "ce": 0.0, "idx": 0} for k in range(n)}
    rows: list[dict] = []
    for fname, img in images.items():
        for lam in lams:
            t = time.perf_counter()
            # every layer (not the model's default_layers), cut below
            data = api.compress(img, lm, n, rdo=lam) if lm.codec.groups else api.compress(img, lm, n)
            t_enc = time.perf_counter() - t
            f = container.unpack(data)
            if lam == 0:
                _layer_stats(acc, img, lm, f)
            for k in range(1, n + 1):
                blob = container.pack(container.truncate(f, k))
                t = time.perf_counter()
                out = api.decompress(blob, lm)
                t_dec = time.perf_counter() - t
                setting = f"{k}" if lam == 0 else f"{k}/lam{lam:g}"
                rows.append({"codec": f"{name}@{setting}", "image": fname,
                             "bpp": 8 * len(blob) / (img.shape[0] * img.shape[1]),
                             "psnr": psnr(img, out), "ms_ssim": ms_ssim(img, out),
                             "enc_s": t_enc, "dec_s": t_dec})
        log(f"{name} {fname}: " + ", ".join(
            f"{r['bpp']:.3f} bpp {r['psnr']:.2f} dB" for r in rows[-n * len(lams):]))
    stats = [{"layer": i + 1, "bits_per_index_written": a["bits"] / a["idx"],
              "cross_entropy_bits_per_index": a["ce"] / a["idx"],
              "log2_m": math.log2(m)} for i, a in acc.items() if a["idx"]]  # none without lam 0
    return rows, stats


def _layer_stats(acc: dict, img: np.ndarray, lm, f: container.VQCFile) -> None:
    """Add one image's stream bits and the prior's cross-entropy per layer to acc."""
    codes = with_groups(api.encode_codes(img, lm, rdo=0.0))  # the codes of f (lam = 0)
    ex = lm.codec.exact
    for i in range(lm.codec.num_layers):
        sm = ex.step_map(*codes.shape[-2:], i)
        acc[i]["bits"] += 8 * len(f.segments[0].streams[i])
        acc[i]["idx"] += codes[0, i].numel()
        acc[i]["ce"] += sum(cross_entropy_bits(codes[0, i][sm == t].numpy(),
                                               ex.step_probs(codes, i, t)[0])
                            for t in range(ex.layer_steps(i)))


def bench_images(folder: Path, models: list[str] | None = None, classical_codecs=("jpeg", "webp"),
                 limit: int | None = None, max_bpp: float = 1.5, device: str = "cpu",
                 log: Callable[[str], None] = print,
                 lambdas: tuple[float, ...] | None = None) -> dict:
    files = sorted(p for p in Path(folder).iterdir() if media.modality_of(p) == "image")[:limit]
    if not files:
        raise ValueError(f"no images in {folder}")
    images = {f.name: media.load_image(f) for f in files}
    images = {k: (np.repeat(v, 3, 2) if v.shape[2] == 1 else v) for k, v in images.items()}
    names = models or [m["name"] for m in list_models() if m["modality"] == "image"]
    per_image: list[dict] = []
    layer_stats: dict[str, list[dict]] = {}
    for name in names:
        rows, layer_stats[name] = _bench_model(name, images, device, log, lambdas)
        per_image += rows
    for codec in classical_codecs:
        for q in QUALITIES[codec]:
            for fname, img in images.items():
                nbytes, out, te, td = classical(img, codec, q)
                per_image.append({"codec": f"{codec}@{q}", "image": fname,
                                  "bpp": 8 * nbytes / (img.shape[0] * img.shape[1]),
                                  "psnr": psnr(img, out), "ms_ssim": ms_ssim(img, out),
                                  "enc_s": te, "dec_s": td})
        log(f"{codec}: done")
    return summarize(per_image, layer_stats, names, classical_codecs, max_bpp)


def summarize(per_image: list[dict], layer_stats: dict, names: list[str], classical_codecs,
              max_bpp: float) -> dict:
    points = []
    for codec in dict.fromkeys(r["codec"] for r in per_image):
        rs = [r for r in per_image if r["codec"] == codec]
        mss = [r["ms_ssim"] for r in rs if r["ms_ssim"] is not None]
        points.append({"codec": codec.split("@")[0], "setting": codec.split("@")[1],
                       "bpp": float(np.mean([r["bpp"] for r in rs])),
                       "psnr": float(np.mean([r["psnr"] for r in rs])),
                       "ms_ssim": float(np.mean(mss)) if mss else None,
                       "enc_s": float(np.mean([r["enc_s"] for r in rs])),
                       "dec_s": float(np.mean([r["dec_s"] for r in rs])), "images": len(rs)})
    bd = {}
    for name in names:
        for c in classical_codecs:
            for metric in ("psnr", "ms_ssim"):
                ra, da = _curve([p for p in points if p["bpp"] <= max_bpp], c, metric)
                rb, db = _curve(points, name, metric)
                bd[f"{name} vs {c} ({metric})"] = bd_rate(ra, da, rb, db)
        for other in names:  # model against model: what a new one buys over an old one
            if other != name:
                for metric in ("psnr", "ms_ssim"):
                    ra, da = _curve(points, other, metric)
                    rb, db = _curve(points, name, metric)
                    bd[f"{name} vs {other} ({metric})"] = bd_rate(ra, da, rb, db)
    return {"points": points, "bd_rate_percent": bd, "layers": layer_stats,
            "per_image": per_image}



def plot(result: dict, path: Path) -> None:
    """Bits per pixel against PSNR and against MS-SSIM, one curve (the frontier) per codec."""
    codecs = dict.fromkeys(p["codec"] for p in result["points"])
    plot_rd(path, "bits per pixel",
            [(label, {c: _curve(result["points"], c, metric) for c in codecs})
             for metric, label in (("psnr", "PSNR-RGB (dB)"), ("ms_ssim", "MS-SSIM"))],
            xlim=(0, 1.6))


def main(folder: Path, models: list[str] | None, json_path: Path | None, plot_path: Path | None,
         limit: int | None, classical_codecs: tuple[str, ...], device: str) -> dict:
    res = bench_images(folder, models, classical_codecs, limit, device=device)
    return save_results(res, json_path, plot_path, plot)
