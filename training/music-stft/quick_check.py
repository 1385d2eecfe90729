"""Quick check of audio models on 20 s of one music file (from 0:30): kbps per layer count,
energy above 8 kHz, SNR and real-time factors on one core. Not the bench (no ViSQOL, no Opus).

    python training/music-stft/quick_check.py ../ckpt/music-data/test/northern_mountains.ogg \
        ../ckpt/music-stft speech-stft
"""

import sys
import time

import numpy as np
import soundfile as sf
import torch

from vqcodec import audio_codec
from vqcodec.models import load_model


def share_above_8k(x: np.ndarray, rate: int) -> float:
    s = np.abs(np.fft.rfft(x.mean(1))) ** 2
    return float(s[np.fft.rfftfreq(len(x), 1 / rate) > 8000].sum() / s.sum())


def snr(x: np.ndarray, y: np.ndarray) -> float:
    return float(10 * np.log10((x**2).sum() / ((x - y) ** 2).sum()))


def main() -> None:
    torch.set_num_threads(1)
    x, r = sf.read(sys.argv[1], frames=44100 * 20, start=44100 * 30, dtype="float32")
    sec = len(x) / r
    for name in sys.argv[2:]:
        m = load_model(name, modality="audio")
        for k in range(1, m.codec.num_layers + 1):
            t = time.perf_counter()
            d = audio_codec.compress_audio(x, r, m, k)
            te = time.perf_counter() - t
            t = time.perf_counter()
            y, _ = audio_codec.decompress_audio(d, m)
            td = time.perf_counter() - t
            print(f"{m.name} L{k}: {8 * len(d) / sec / 1000:.1f} kbps, >8 kHz energy "
                  f"{share_above_8k(y, r):.4f} (original {share_above_8k(x, r):.4f}), SNR "
                  f"{snr(x, y):.2f} dB, enc RTF {te / sec:.3f} dec RTF {td / sec:.3f}", flush=True)


if __name__ == "__main__":
    main()
