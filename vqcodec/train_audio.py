"""The audio side of training (train.py runs the loop): data, reconstruction loss, metrics.

::

    folder of speech --resampled to the model's rate, held in memory--> random 1-s crops with a
        random gain --stage 1--> L1(waveform) + multi-resolution STFT loss (spectral convergence
        + log magnitude) + log-mel L1 (+ a phase-aware complex-spectrum term where the preset
        asks: complex_weight), plus the HR-VQ loss (train.py)
    random prior_crop-second crops --codes (B, n, 1, T)--> stage 2: the same Prior as images,
        its phases along time

The multi-resolution STFT loss is auraloss's. The mel filterbank is built here by hand (HTK
mel scale, triangular filters): auraloss's mel loss needs librosa and has another filterbank.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from auraloss.freq import MultiResolutionSTFTLoss

from . import audio, media
from .models import Codec

# Loss weights (per preset overridable): L1 on the waveform, STFT and mel terms, and the
# phase-aware complex term (off unless a preset asks: the recipes before it did not have it).
LOSS_WEIGHTS = dict(l1_weight=1.0, stft_weight=1.0, mel_weight=1.0, complex_weight=0.0)
COMPLEX_POWER = 0.3  # magnitude compression of the complex term (as speech enhancement uses)
STFT_SIZES = ((2048, 512), (1024, 256), (512, 128), (256, 64))  # (n_fft, hop) at 16 kHz


def find_audio(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and media.modality_of(p) == "audio")


class AudioData:
    """Whole files at the model's rate in memory (speech corpora of an hour fit: 230 MB at
    16 kHz), from which random crops are drawn afresh every step."""

    def __init__(self, files: list[Path], rate: int, log: Callable[[str], None] = print,
                 mid_side: bool = False):
        self.clips: list[np.ndarray] = []
        for f in files:
            try:
                x, r = audio.load_audio(f)
            except media.MediaError as e:
                log(f"skipping {f}: {e}")
                continue
            if mid_side and x.shape[1] == 2:  # what a mid-side model codes (audio_codec)
                x = audio.to_mid_side(x.T).T
            for c in range(x.shape[1]):  # every channel is a mono clip: the model is mono
                self.clips.append(np.ascontiguousarray(audio.resample(x[:, c], r, rate)))
        if not self.clips:
            raise ValueError("no readable audio files found for training")
        lengths = np.array([len(c) for c in self.clips], dtype=np.float64)
        self.weights = lengths / lengths.sum()  # long files give proportionally more crops
        self.seconds = float(lengths.sum()) / rate

    def crops(self, n: int, length: int, rng: np.random.Generator,
              augment: bool = True) -> torch.Tensor:
        """(n, 1, length) float32: random crops (zero-padded when a clip is shorter), with a
        random gain of -12..+3 dB (peak kept below 1) when augment."""
        out = np.zeros((n, 1, length), np.float32)
        for i, k in enumerate(rng.choice(len(self.clips), size=n, p=self.weights)):
            c = self.clips[k]
            start = int(rng.integers(0, max(1, len(c) - length + 1)))
            piece = c[start:start + length]
            if augment:
                peak = float(np.abs(piece).max()) + 1e-6
                piece = piece * min(10 ** (rng.uniform(-12, 3) / 20), 0.99 / peak)
            out[i, 0, :len(piece)] = piece
        return torch.from_numpy(out)

    def tiling(self, length: int) -> torch.Tensor:
        """(N, 1, length): every clip cut into consecutive crops (at least one per clip)."""
        out = []
        for c in self.clips:
            for s in range(0, max(1, len(c) - length + 1), length):
                piece = c[s:s + length]
                out.append(np.pad(piece, (0, length - len(piece)))[None])
        return torch.from_numpy(np.stack(out))


# -- losses ------------------------------------------------------------------------------------
@lru_cache(maxsize=8)
def mel_filterbank(rate: int, n_fft: int, n_mels: int) -> torch.Tensor:
    """(n_mels, n_fft // 2 + 1) triangular filters, evenly spaced on the HTK mel scale."""
    def mel(f):
        return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)

    def hz(m):
        return 700.0 * (10 ** (np.asarray(m) / 2595.0) - 1.0)

    freqs = np.linspace(0, rate / 2, n_fft // 2 + 1)
    edges = hz(np.linspace(0, mel(rate / 2), n_mels + 2))
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    fb = np.maximum(0, np.minimum((freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid)))
    return torch.from_numpy(fb.astype(np.float32))


def _spec(x: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:
    """The complex STFT (Hann window) the losses compare."""
    win = torch.hann_window(n_fft, device=x.device)
    return torch.stft(x, n_fft, hop, window=win, return_complex=True)


def _mag(x: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:
    return _spec(x, n_fft, hop).abs().clamp_min(1e-5)


@lru_cache(maxsize=8)
def _multi_res_stft(sizes: tuple[tuple[int, int], ...]) -> MultiResolutionSTFTLoss:
    n_ffts, hops = [n for n, _ in sizes], [h for _, h in sizes]
    # eps is on the power: a magnitude floor of 1e-5, the floor every recipe trained with.
    return MultiResolutionSTFTLoss(n_ffts, hops, n_ffts, eps=1e-10)


def stft_loss(y: torch.Tensor, x: torch.Tensor, sizes) -> torch.Tensor:
    """Multi-resolution STFT loss of y (B, L) against x: spectral convergence + L1 of log
    magnitudes (Hann windows of n_fft), averaged over resolutions — auraloss's."""
    return _multi_res_stft(tuple(map(tuple, sizes)))(y[:, None], x[:, None])


def complex_loss(y: torch.Tensor, x: torch.Tensor, sizes, power: float = COMPLEX_POWER
                 ) -> torch.Tensor:
    """Mean squared distance of the complex spectra with magnitudes compressed to `power`
    (|X|^p e^(i phase)), averaged over resolutions. The magnitude and mel terms leave the phase
    free, and a decoder that predicts each frame's phase finds it late or never (speech-stft-2's
    waveform SNR stayed at 1.5 dB): this term asks for it, weighted by the compressed loudness."""
    total = y.new_zeros(())
    for n_fft, hop in sizes:
        sy, sx = _spec(y, n_fft, hop), _spec(x, n_fft, hop)
        cy, cx = (s * s.abs().clamp_min(1e-5) ** (power - 1) for s in (sy, sx))
        total = total + (cy - cx).abs().pow(2).mean()
    return total / len(sizes)


def mel_loss(y: torch.Tensor, x: torch.Tensor, rate: int, n_fft: int = 1024,
             n_mels: int = 64) -> torch.Tensor:
    """L1 between log-mel spectrograms (hop n_fft / 4)."""
    fb = mel_filterbank(rate, n_fft, n_mels).to(y.device)
    my = (fb @ _mag(y, n_fft, n_fft // 4)).clamp_min(1e-5).log()
    mx = (fb @ _mag(x, n_fft, n_fft // 4)).clamp_min(1e-5).log()
    return (my - mx).abs().mean()


def _sizes(rate: int) -> list[tuple[int, int]]:
    """STFT_SIZES scaled to the rate (same durations), at least 64 points."""
    f = rate / 16000
    return [(max(64, 2 ** round(math.log2(n * f))), max(16, 2 ** round(math.log2(h * f))))
            for n, h in STFT_SIZES]


def recon_loss(y: torch.Tensor, x: torch.Tensor, hp: dict) -> tuple[torch.Tensor, dict]:
    """The stage-1 reconstruction loss of a batch (B, 1, L), and its parts for the log."""
    rate = hp["sample_rate"]
    w = {k: hp.get(k, v) for k, v in LOSS_WEIGHTS.items()}
    y2, x2 = y[:, 0], x[:, 0]
    l1 = (y2 - x2).abs().mean()
    st = stft_loss(y2, x2, _sizes(rate))
    ml = mel_loss(y2, x2, rate, n_fft=_sizes(rate)[1][0])
    loss = w["l1_weight"] * l1 + w["stft_weight"] * st + w["mel_weight"] * ml
    parts = {"l1": round(l1.item(), 5), "stft": round(st.item(), 4), "mel": round(ml.item(), 4)}
    if w["complex_weight"]:
        cl = complex_loss(y2, x2, _sizes(rate))
        loss = loss + w["complex_weight"] * cl
        parts["complex"] = round(cl.item(), 4)
    return loss, parts


def snr(y: torch.Tensor, x: torch.Tensor) -> float:
    return 10 * math.log10(float(x.pow(2).sum()) / max(float((y - x).pow(2).sum()), 1e-12))


@torch.no_grad()
def evaluate(codec: Codec, val: torch.Tensor, device: torch.device) -> dict:
    """Mel distance and SNR of the validation crops decoded from the first k layers, each k."""
    codec.eval()
    res = {}
    rate = codec.sample_rate
    for k in range(1, codec.num_layers + 1):
        ys = []
        for i in range(0, len(val), 16):
            x = val[i:i + 16].to(device)
            codes = codec.quantizer.search(codec.encoder(x), k)
            ys.append(codec.decoder(codec.quantizer.decode_codes(codes)).clamp(-1, 1).cpu())
        y = torch.cat(ys)
        res[f"mel_{k}"] = round(float(mel_loss(y[:, 0], val[:, 0], rate,
                                               n_fft=_sizes(rate)[1][0])), 4)
        res[f"snr_{k}"] = round(snr(y, val), 2)
    codec.train()
    return res


class AudioTask:
    """The audio side of the loop (the task protocol, train_run.Task; ImageTask is its twin)."""

    modality = "audio"

    def __init__(self, hp: dict, log: Callable[[str], None]):
        self.hp, self.log = hp, log
        stride = math.prod(hp["strides"])
        rate = hp["sample_rate"]
        # Crops in whole latent frames, so the decoder gives back exactly the crop's length.
        hp["crop"] = max(1, round(hp["crop_seconds"] * rate / stride)) * stride
        hp["prior_crop"] = max(1, round(hp["prior_crop_seconds"] * rate / stride)) * stride
        self.rng = np.random.default_rng(0)
        self.mid_side = hp.get("stereo") == "mid-side"

    def find(self, folder: Path) -> list[Path]:
        return find_audio(folder)

    def config(self) -> dict:
        return {"in_channels": 1}

    def load(self, files: list[Path], seed: int) -> str:
        self.data = AudioData(files, self.hp["sample_rate"], self.log, self.mid_side)
        self.rng = np.random.default_rng(seed)
        return (f"{self.data.seconds / 60:.1f} min of audio, random {self.hp['crop_seconds']} s "
                "crops")

    def batch(self, n: int, device: torch.device) -> torch.Tensor:
        return self.data.crops(n, self.hp["crop"], self.rng).to(device)

    def release(self) -> None:
        self.data = None

    def val_set(self, files: list[Path], seed: int) -> torch.Tensor:
        data = AudioData(files, self.hp["sample_rate"], self.log, self.mid_side)
        return data.crops(max(16, 4 * len(files)), self.hp["crop"], np.random.default_rng(seed),
                          augment=False)

    def recon(self, y: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, dict]:
        return recon_loss(y, x, self.hp)

    def evaluate(self, codec: Codec, val: torch.Tensor, device: torch.device) -> dict:
        return evaluate(codec, val, device)

    def prior_inputs(self, files: list[Path], seed: int, val: bool) -> torch.Tensor:
        """All of the audio cut into prior_crop pieces: the prior sees every frame once."""
        data = AudioData(files, self.hp["sample_rate"], self.log, self.mid_side)
        return data.tiling(self.hp["prior_crop"])

    def to_input(self, x: torch.Tensor, device: torch.device) -> torch.Tensor:
        return x.to(device)
