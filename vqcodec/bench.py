"""Rate-distortion benchmark: vqcodec models (every layer count) against Pillow's JPEG/WebP/AVIF.

    vqcodec bench images ../shared/data/kodak --out-json runs/bench.json --plot runs/bench.png

Rates are measured from real file bytes. For vqcodec a file of k layers is the all-layer file
truncated to k layers (what `--layers k` writes: the streams are independent). Also reported per
layer: bits per index actually written vs log2(m) vs the prior's cross-entropy.
"""

from __future__ import annotations

import io
import json
import math
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from . import api, container, media, metrics
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


def _frontier(pts: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The points no other point beats on both rate and quality (sorted by rate): a model with
    two knobs (layers, lam) has dominated settings, which a BD fit must not see."""
    out: list[tuple[float, float]] = []
    for r, d in sorted(pts):
        if not out or d > out[-1][1]:
            out.append((r, d))
    return out


def _curve(rows: list[dict], codec: str, metric: str) -> tuple[list[float], list[float]]:
    pts = _frontier([(r["bpp"], r[metric]) for r in rows
                     if r["codec"] == codec and r[metric] is not None])
    return [p[0] for p in pts], [p[1] for p in pts]


# Encode-time rate weights of an entropy-constrained model (product HR-VQ) swept by the bench,
# each with every layer count; models without the knob are swept over layers only. 0.003 and 2
# reach the ends of photo-v4-c3's training range (about 1.5 and 0.1 bpp on Kodak).
BENCH_LAMBDAS = (0.0, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 2.0)


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
            data = api.compress(img, lm, rdo=lam) if lm.codec.groups else api.compress(img, lm)
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
              "log2_m": math.log2(m)} for i, a in acc.items()]
    return rows, stats


def _layer_stats(acc: dict, img: np.ndarray, lm, f: container.VQCFile) -> None:
    """Add one image's stream bits and the prior's cross-entropy per layer to acc."""
    codes = with_groups(api.encode_codes(img, lm, rdo=0.0))  # the codes of f (lam = 0)
    ex = lm.codec.exact
    sm = ex.step_map(*codes.shape[-2:])
    for i in range(lm.codec.num_layers):
        acc[i]["bits"] += 8 * len(f.segments[0].streams[i])
        acc[i]["idx"] += codes[0, i].numel()
        acc[i]["ce"] += sum(cross_entropy_bits(codes[0, i][sm == t].numpy(),
                                               ex.step_probs(codes, i, t)[0])
                            for t in range(ex.steps))


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
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 5))
    for ax, metric in zip(axes, ("psnr", "ms_ssim"), strict=True):
        for codec in dict.fromkeys(p["codec"] for p in result["points"]):
            r, d = _curve(result["points"], codec, metric)
            if r:
                ax.plot(r, d, "o-", label=codec)
        ax.set_xlabel("bits per pixel")
        ax.set_ylabel("PSNR-RGB (dB)" if metric == "psnr" else "MS-SSIM")
        ax.set_xlim(0, 1.6)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(folder: Path, models: list[str] | None, json_path: Path | None, plot_path: Path | None,
         limit: int | None, classical_codecs: tuple[str, ...], device: str) -> dict:
    res = bench_images(folder, models, classical_codecs, limit, device=device)
    return _save(res, json_path, plot_path, plot)


def _save(res: dict, json_path: Path | None, plot_path: Path | None, plot_fn) -> dict:
    """Write a benchmark's JSON and plot where asked; returns res."""
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(res, indent=1))
    if plot_path:
        plot_fn(res, plot_path)
    return res


def bench_batch(folder: Path, model: str | None = None, limit: int | None = None,
                batch_size: int | None = None, cli_files: int = 3, device: str = "cpu",
                log: Callable[[str], None] = print) -> dict:
    """Throughput of folder compression: batched folder job vs one-file loops.

    Three ways over the same files: `vqcodec compress` run once per file (a shell loop, start-up
    and model load each time; timed on `cli_files` files and scaled), `api.compress` called per
    file in one process, and `api.folder_job` (one model load, same-size files batched)."""
    import shutil
    import subprocess
    import sys
    import tempfile

    from . import batch

    rels, _ = batch.discover(Path(folder), True)
    rels = [r for r in rels if media.modality_of(r) == "image"][:limit]
    if not rels:
        raise ValueError(f"no images in {folder}")
    src = [Path(folder) / r for r in rels]
    mb = sum(p.stat().st_size for p in src) / 1e6
    lm = load_model(model, device)
    res: dict = {"files": len(src), "megabytes": mb, "batch_size": batch_size}
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        for p in src:
            api.compress(media.load_image(p), lm)
        res["loop_in_process_s"] = time.perf_counter() - t
        log(f"one-file loop, in process: {res['loop_in_process_s']:.1f} s")
        t = time.perf_counter()
        for p in src[:cli_files]:
            subprocess.run([sys.executable, "-m", "vqcodec", "compress", str(p), "-o",
                            str(Path(tmp) / (p.name + ".vqc")), "--device", device]
                           + (["--model", str(model)] if model else []), check=True,
                           capture_output=True)
        res["loop_cli_s"] = (time.perf_counter() - t) * len(src) / min(cli_files, len(src))
        log(f"one-file loop, a CLI call per file (scaled from {cli_files}): "
            f"{res['loop_cli_s']:.1f} s")
        subset = Path(tmp) / "in"
        for r, p in zip(rels, src, strict=True):
            (subset / r).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(p, subset / r)
        t = time.perf_counter()
        summary = api.folder_job(subset, Path(tmp) / "out", True, lm, batch_size=batch_size,
                                 device=device)
        res["folder_job_s"] = time.perf_counter() - t
        res["folder_failed"] = summary.failed
        log(f"folder job: {res['folder_job_s']:.1f} s")
    for k in ("loop_in_process", "loop_cli", "folder_job"):
        res[f"{k}_files_per_s"] = len(src) / res[f"{k}_s"]
        res[f"{k}_mb_per_s"] = mb / res[f"{k}_s"]
    res["speedup_vs_cli_loop"] = res["loop_cli_s"] / res["folder_job_s"]
    res["speedup_vs_in_process_loop"] = res["loop_in_process_s"] / res["folder_job_s"]
    res["device"] = device
    res["batch_size_used"] = batch_size or (8 if device.startswith("cuda") else 1)
    return res


# -- audio ---------------------------------------------------------------------------------------
# Opus through soundfile: compression_level 1.0 is its lowest bitrate (about 6.5 kbps for 16 kHz
# speech), 0.95 about 19 kbps, 0.9 about 32 kbps.
OPUS_LEVELS = (1.0, 0.99, 0.98, 0.97, 0.96, 0.95, 0.93, 0.9)
METRIC_RATE = 16000  # PESQ wide-band and STOI are computed at 16 kHz


def speech_metrics(ref: np.ndarray, deg: np.ndarray, rate: int) -> tuple[float | None, float | None]:
    """(PESQ-WB, STOI) of mono float signals at `rate` (resampled to 16 kHz); None where the
    `bench` extra is missing or the metric cannot score the clip (e.g. no speech found)."""
    from .audio import resample

    ref, deg = resample(ref, rate, METRIC_RATE), resample(deg, rate, METRIC_RATE)
    n = min(len(ref), len(deg))
    ref, deg = ref[:n].astype(np.float64), deg[:n].astype(np.float64)
    scores: list[float | None] = []
    try:
        from pesq import pesq

        scores.append(float(pesq(METRIC_RATE, ref, deg, "wb")))
    except Exception:  # ImportError, or pesq's errors on clips without speech
        scores.append(None)
    try:
        from pystoi import stoi

        scores.append(float(stoi(ref, deg, METRIC_RATE)))
    except Exception:
        scores.append(None)
    return scores[0], scores[1]


def opus(x: np.ndarray, rate: int, level: float) -> tuple[int, np.ndarray, float, float]:
    """(bytes, decoded mono signal, encode s, decode s) of Ogg Opus through soundfile."""
    import soundfile as sf

    buf = io.BytesIO()
    t = time.perf_counter()
    sf.write(buf, x, rate, format="OGG", subtype="OPUS", compression_level=level)
    te = time.perf_counter() - t
    buf.seek(0)
    t = time.perf_counter()
    y, r = sf.read(buf, dtype="float32")
    td = time.perf_counter() - t
    if r != rate:
        from .audio import resample

        y = resample(y, r, rate)
    return len(buf.getvalue()), y, te, td


def bench_audio(folder: Path, models: list[str] | None = None, limit: int | None = None,
                opus_levels=OPUS_LEVELS, device: str = "cpu",
                log: Callable[[str], None] = print) -> dict:
    """kbps (real file bytes), PESQ-WB, STOI and real-time factors of every layer count of each
    audio model and of Opus at each compression level, averaged over the files of `folder`."""
    from .audio import load_audio
    from .audio_codec import compress_audio, decompress_audio

    files = sorted(p for p in Path(folder).iterdir() if media.modality_of(p) == "audio")[:limit]
    if not files:
        raise ValueError(f"no audio files in {folder}")
    names = models or [m["name"] for m in list_models() if m["modality"] == "audio"]
    if not names:
        raise ValueError("no audio model installed: pass one with --model")
    clips = {}
    for f in files:
        x, r = load_audio(f)
        clips[f.name] = (x.mean(1), r)  # mono: the metrics are for one channel
    rows: list[dict] = []

    def add(codec: str, name: str, x, r, nbytes: int, y, te: float, td: float) -> None:
        dur = len(x) / r
        p, s = speech_metrics(x, y, r)
        rows.append({"codec": codec, "file": name, "kbps": 8 * nbytes / dur / 1000, "pesq": p,
                     "stoi": s, "enc_rtf": te / dur, "dec_rtf": td / dur})

    for model in names:
        lm = load_model(model, device, "audio")
        for fname, (x, r) in clips.items():
            t = time.perf_counter()
            data = compress_audio(x, r, lm)
            te = time.perf_counter() - t
            f = container.unpack(data)
            for k in range(1, f.num_layers + 1):
                blob = container.pack(container.truncate(f, k))
                t = time.perf_counter()
                y, _ = decompress_audio(blob, lm)
                add(f"{model}@{k}", fname, x, r, len(blob), y[:, 0], te, time.perf_counter() - t)
            log(f"{model} {fname}: " + ", ".join(
                f"{q['kbps']:.2f} kbps PESQ {q['pesq'] or 0:.2f}" for q in rows[-f.num_layers:]))
    for level in opus_levels:
        for fname, (x, r) in clips.items():
            nbytes, y, te, td = opus(x, r, level)
            add(f"opus@{level}", fname, x, r, nbytes, y, te, td)
        log(f"opus {level}: done")
    return {"points": _audio_points(rows), "per_file": rows}


def _audio_points(rows: list[dict]) -> list[dict]:
    def mean(vals):
        vals = [v for v in vals if v is not None]
        return float(np.mean(vals)) if vals else None

    out = []
    for codec in dict.fromkeys(r["codec"] for r in rows):
        rs = [r for r in rows if r["codec"] == codec]
        name, setting = codec.rsplit("@", 1)
        out.append({"codec": name, "setting": setting, "files": len(rs),
                    **{k: mean([r[k] for r in rs]) for k in ("kbps", "pesq", "stoi", "enc_rtf",
                                                             "dec_rtf")}})
    return out


def plot_audio(result: dict, path: Path) -> None:
    """kbps against PESQ-WB and against STOI, one curve per codec."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 5))
    for ax, metric, label in zip(axes, ("pesq", "stoi"), ("PESQ-WB", "STOI"), strict=True):
        for codec in dict.fromkeys(p["codec"] for p in result["points"]):
            pts = sorted((p["kbps"], p[metric]) for p in result["points"]
                         if p["codec"] == codec and p[metric] is not None)
            if pts:
                ax.plot([a for a, _ in pts], [b for _, b in pts], "o-", label=codec)
        ax.set_xlabel("kbit/s")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main_audio(folder: Path, models: list[str] | None, json_path: Path | None,
               plot_path: Path | None, limit: int | None, device: str = "cpu",
               opus_levels=OPUS_LEVELS) -> dict:
    return _save(bench_audio(folder, models, limit, opus_levels, device), json_path, plot_path,
                 plot_audio)
