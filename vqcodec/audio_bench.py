"""Rate-distortion benchmark of audio: kbps (real file bytes) and real-time factors of every layer
count of each audio model, against Ogg Opus at several compression levels, scored for speech
(PESQ-WB, STOI at 16 kHz, mono) or for music (ViSQOL audio mode, log-mel distance, energy above
8 kHz; every channel coded). The metrics need the `bench` extra.

    vqcodec bench audio ../shared/data/speech/test --out-json runs/audio.json --plot runs/a.png
    vqcodec bench audio ../ckpt/music-data/test --metrics music --max-seconds 20
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from . import container, media
from .bench_results import plot_rd, save_results
from .models import list_models, load_model

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


OPUS_RATES = (8000, 12000, 16000, 24000, 48000)  # what Opus (and libsndfile's writer) accepts
MUSIC_RATE = 16000  # "auto" scores files above this rate as music
SCORES = {"speech": ("pesq", "stoi"), "music": ("visqol", "mel_db", "hf_share", "hf_share_ref")}


def opus(x: np.ndarray, rate: int, level: float) -> tuple[int, np.ndarray, float, float]:
    """(bytes, decoded signal at `rate`, encode s, decode s) of Ogg Opus through soundfile; x is
    (samples,) or (samples, channels), sent at 48 kHz where Opus does not take `rate`."""
    import soundfile as sf

    from .audio import resample

    op = rate if rate in OPUS_RATES else 48000
    src = resample(x, rate, op)
    buf = io.BytesIO()
    t = time.perf_counter()
    sf.write(buf, src, op, format="OGG", subtype="OPUS", compression_level=level)
    te = time.perf_counter() - t
    buf.seek(0)
    t = time.perf_counter()
    y, r = sf.read(buf, dtype="float32")
    y = resample(y, r, rate)
    td = time.perf_counter() - t
    return len(buf.getvalue()), y[:len(x)], te, td


def _clip(path: Path, max_seconds: float | None) -> tuple[np.ndarray, int]:
    """(samples, channels) float audio of a file: its middle max_seconds when given."""
    from .audio import load_audio

    x, r = load_audio(path)
    if max_seconds and len(x) > max_seconds * r:
        n = int(max_seconds * r)
        x = x[(len(x) - n) // 2:][:n]
    return x, r


def _scorer(kind: str) -> Callable[[np.ndarray, np.ndarray, int], dict]:
    if kind == "music":
        from .music_metrics import music_metrics

        return music_metrics

    def speech(ref, deg, rate):
        p, s = speech_metrics(ref, deg, rate)
        return {"pesq": p, "stoi": s}

    return speech


def bench_audio(folder: Path, models: list[str] | None = None, limit: int | None = None,
                opus_levels=OPUS_LEVELS, device: str = "cpu",
                log: Callable[[str], None] = print, metrics: str = "auto",
                max_seconds: float | None = None) -> dict:
    """kbps (real file bytes), scores and real-time factors of every layer count of each audio
    model and of Opus at each compression level, averaged over the files of `folder`.

    metrics: "speech" (PESQ-WB and STOI of the mono mix: the clips are coded in mono), "music"
    (ViSQOL, log-mel distance in dB and the share of energy above 8 kHz, every channel coded),
    or "auto": music when a file is above 16 kHz. max_seconds: score the middle of each file
    only (ViSQOL takes about half a second per second of audio here)."""
    from .audio_codec import compress_audio, decompress_audio

    if metrics not in ("auto", *SCORES):
        raise ValueError(f"metrics must be auto, speech or music, not {metrics!r}")
    files = sorted(p for p in Path(folder).iterdir() if media.modality_of(p) == "audio")[:limit]
    if not files:
        raise ValueError(f"no audio files in {folder}")
    names = models or [m["name"] for m in list_models() if m["modality"] == "audio"]
    if not names:
        raise ValueError("no audio model installed: pass one with --model")
    clips = {f.name: _clip(f, max_seconds) for f in files}
    kind = metrics if metrics != "auto" else (
        "music" if any(r > MUSIC_RATE for _, r in clips.values()) else "speech")
    if kind == "speech":  # the speech metrics are for one channel
        clips = {k: (x.mean(1), r) for k, (x, r) in clips.items()}
    score = _scorer(kind)
    rows: list[dict] = []

    def add(codec: str, name: str, x, r, nbytes: int, y, te: float, td: float) -> None:
        dur = len(x) / r
        rows.append({"codec": codec, "file": name, "kbps": 8 * nbytes / dur / 1000,
                     **score(x, y, r), "enc_rtf": te / dur, "dec_rtf": td / dur})

    first = SCORES[kind][0]
    for model in names:
        lm = load_model(model, device, "audio")
        for fname, (x, r) in clips.items():
            t = time.perf_counter()
            data = compress_audio(x, r, lm, lm.codec.num_layers)  # every layer, then truncated
            te = time.perf_counter() - t
            f = container.unpack(data)
            for k in range(1, f.num_layers + 1):
                blob = container.pack(container.truncate(f, k))
                t = time.perf_counter()
                y, _ = decompress_audio(blob, lm)
                y = y[:, 0] if x.ndim == 1 else y
                add(f"{model}@{k}", fname, x, r, len(blob), y, te, time.perf_counter() - t)
            log(f"{model} {fname}: " + ", ".join(
                f"{q['kbps']:.2f} kbps {first} {q[first] or 0:.2f}" for q in rows[-f.num_layers:]))
    for level in opus_levels:
        for fname, (x, r) in clips.items():
            nbytes, y, te, td = opus(x, r, level)
            add(f"opus@{level}", fname, x, r, nbytes, y, te, td)
        log(f"opus {level}: done")
    return {"metrics": kind, "points": _audio_points(rows, SCORES[kind]), "per_file": rows}


def _audio_points(rows: list[dict], scores=SCORES["speech"]) -> list[dict]:
    def mean(vals):
        vals = [v for v in vals if v is not None]
        return float(np.mean(vals)) if vals else None

    out = []
    for codec in dict.fromkeys(r["codec"] for r in rows):
        rs = [r for r in rows if r["codec"] == codec]
        name, setting = codec.rsplit("@", 1)
        out.append({"codec": name, "setting": setting, "files": len(rs),
                    **{k: mean([r[k] for r in rs]) for k in ("kbps", *scores, "enc_rtf",
                                                             "dec_rtf")}})
    return out


def _audio_curve(points: list[dict], codec: str, metric: str) -> tuple[list[float], list[float]]:
    pts = sorted((p["kbps"], p[metric]) for p in points
                 if p["codec"] == codec and p[metric] is not None)
    return [a for a, _ in pts], [b for _, b in pts]


PLOTTED = {"speech": (("pesq", "PESQ-WB"), ("stoi", "STOI")),
           "music": (("visqol", "ViSQOL (audio mode)"), ("mel_db", "log-mel distance (dB)"))}


def plot_audio(result: dict, path: Path) -> None:
    """kbps against the bench's two main scores (PESQ-WB and STOI, or ViSQOL and the log-mel
    distance), one curve per codec."""
    codecs = dict.fromkeys(p["codec"] for p in result["points"])
    plot_rd(path, "kbit/s",
            [(label, {c: _audio_curve(result["points"], c, metric) for c in codecs})
             for metric, label in PLOTTED[result.get("metrics", "speech")]])


def main_audio(folder: Path, models: list[str] | None, json_path: Path | None,
               plot_path: Path | None, limit: int | None, device: str = "cpu",
               opus_levels=OPUS_LEVELS, metrics: str = "auto",
               max_seconds: float | None = None) -> dict:
    return save_results(bench_audio(folder, models, limit, opus_levels, device, metrics=metrics,
                                    max_seconds=max_seconds), json_path, plot_path, plot_audio)
