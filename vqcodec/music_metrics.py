"""How close decoded music is to its original: ViSQOL v3 in audio mode (the `bench` extra's
`visqol-python`, MOS-LQO from 1 to about 4.75), a log-mel spectral distance in dB, and the share
of the energy above 8 kHz (what a 16 kHz speech model drops).

    music_metrics(ref, deg, rate)  ->  {"visqol": 4.1, "mel_db": 3.2, "hf_share": 0.004,
                                        "hf_share_ref": 0.005}

Signals are float (samples,) or (samples, channels) at the same rate and length. ViSQOL scores
the mono mix (it is a mono metric) at 48 kHz, the rate its audio mode is built for.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

VISQOL_RATE = 48000
HF_CUTOFF = 8000.0  # Hz: the top of a 16 kHz speech model's band


def _mono(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x.mean(1) if x.ndim == 2 else x


@lru_cache(maxsize=1)
def _visqol():
    from visqol.api import VisqolApi

    api = VisqolApi()
    api.create(mode="audio")
    return api


def visqol_audio(ref: np.ndarray, deg: np.ndarray, rate: int) -> float | None:
    """ViSQOL's audio-mode MOS-LQO of the mono mixes; None without `visqol-python`."""
    from .audio import resample

    try:
        api = _visqol()
    except ImportError:
        return None
    r, d = (resample(_mono(v).astype(np.float32), rate, VISQOL_RATE).astype(np.float64)
            for v in (ref, deg))
    n = min(len(r), len(d))
    return float(api.measure_from_arrays(r[:n], d[:n], VISQOL_RATE).moslqo)


def mel_distance_db(ref: np.ndarray, deg: np.ndarray, rate: int, n_fft: int = 2048,
                    n_mels: int = 80) -> float:
    """Log-mel spectral distance: per frame the RMS over mel bands of the difference in dB,
    averaged over frames and channels; bands more than 80 dB under the clip's peak count as
    -80 dB, so silence does not dominate."""
    import torch

    from .train_audio import _mag, mel_filterbank

    fb = mel_filterbank(rate, n_fft, n_mels).numpy().astype(np.float64)

    def power(v: np.ndarray) -> np.ndarray:  # (frames, bins), Hann window, hop n_fft / 4
        return _mag(torch.from_numpy(v), n_fft, n_fft // 4).double().numpy().T ** 2

    ref, deg = np.asarray(ref, np.float64), np.asarray(deg, np.float64)
    if ref.ndim == 1:
        ref, deg = ref[:, None], deg[:, None]
    n = min(len(ref), len(deg))
    out = []
    for c in range(ref.shape[1]):
        mr, md = (power(np.ascontiguousarray(v[:n, c])) @ fb.T for v in (ref, deg))
        floor = max(mr.max(), 1e-20) * 1e-8
        dr, dd = (10 * np.log10(np.maximum(m, floor)) for m in (mr, md))
        out.append(float(np.sqrt(((dr - dd) ** 2).mean(1)).mean()))
    return float(np.mean(out))


def hf_share(x: np.ndarray, rate: int, cutoff: float = HF_CUTOFF) -> float:
    """The fraction of the mono mix's energy above `cutoff` Hz."""
    m = _mono(x)
    s = np.abs(np.fft.rfft(m)) ** 2
    total = s.sum()
    return float(s[np.fft.rfftfreq(len(m), 1 / rate) > cutoff].sum() / total) if total else 0.0


def music_metrics(ref: np.ndarray, deg: np.ndarray, rate: int) -> dict:
    """ViSQOL (audio mode; None without the extra), log-mel distance (dB) and the decoded
    signal's share of energy above 8 kHz, with the original's beside it (hf_share_ref)."""
    return {"visqol": visqol_audio(ref, deg, rate), "mel_db": mel_distance_db(ref, deg, rate),
            "hf_share": hf_share(deg, rate), "hf_share_ref": hf_share(ref, rate)}
