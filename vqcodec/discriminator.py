"""A multi-scale STFT discriminator for the audio codecs' perceptual training (issue 20), after
EnCodec's MS-STFT-D (Défossez et al., 2022): one small 2-D conv net per STFT resolution reads
the complex spectrogram (real and imaginary parts as two planes, time x frequency) and gives a
map of real/fake logits and its feature maps.

    disc = MultiScaleSTFTDiscriminator(rate=24000)
    adv, fm = generator_terms(disc, y, x)     # hinge adversarial + feature matching, for stage 1
    d = discriminator_loss(disc, y.detach(), x)

Training-only: it is kept in the run's checkpoint, never in a model folder, so no file depends on
it. Convs stride over frequency only (the time axis keeps its frames). On this CPU it is the
dearest part of a step, so training shows it a window of a few clips of the batch
(train.py: disc_clips, disc_seconds).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

SIZES_24K = (1024, 512, 256)  # n_fft at 24 kHz (hop n_fft / 4); scaled with the rate


class STFTDiscriminator(nn.Module):
    """One resolution: (B, 1, L) waveform -> (logits (B, 1, T, F'), [feature maps]).

    Every conv but the last two halves the frequency axis, the first included (EnCodec's keeps
    the full resolution there): on this CPU the full-resolution 32-channel conv alone cost more
    than the codec's whole step (training/music-stft/speed_gan.json)."""

    def __init__(self, n_fft: int, width: int = 32, dilations=(1, 2, 4)):
        super().__init__()
        self.n_fft = n_fft
        convs = [nn.Conv2d(2, width // 2, (3, 9), stride=(1, 2), padding=(1, 4))]
        ch = width // 2
        for d in dilations:  # dilated in time, strided in frequency
            convs.append(nn.Conv2d(ch, width, (3, 9), stride=(1, 2), dilation=(d, 1),
                                   padding=(d, 4)))
            ch = width
        convs.append(nn.Conv2d(width, width, (3, 3), padding=1))
        self.convs = nn.ModuleList(weight_norm(c) for c in convs)
        self.out = weight_norm(nn.Conv2d(width, 1, (3, 3), padding=1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        win = torch.hann_window(self.n_fft, device=x.device)
        s = torch.stft(x[:, 0].float(), self.n_fft, self.n_fft // 4, window=win,
                       return_complex=True)
        h = torch.stack([s.real, s.imag], 1).transpose(2, 3)  # (B, 2, T, F)
        feats = []
        for c in self.convs:
            h = F.leaky_relu(c(h), 0.2)
            feats.append(h)
        return self.out(h), feats


class MultiScaleSTFTDiscriminator(nn.Module):
    """STFTDiscriminator at each of SIZES_24K scaled to `rate` (the same durations)."""

    def __init__(self, rate: int, width: int = 32):
        super().__init__()
        sizes = [max(64, round(n * rate / 24000 / 2) * 2) for n in SIZES_24K]
        self.discs = nn.ModuleList(STFTDiscriminator(n, width) for n in sizes)

    def forward(self, x: torch.Tensor) -> list[tuple[torch.Tensor, list[torch.Tensor]]]:
        return [d(x) for d in self.discs]


def generator_terms(disc: nn.Module, y: torch.Tensor, x: torch.Tensor
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """(hinge adversarial loss of y, feature matching of y to x): each averaged over the
    scales; feature matching is the L1 of every feature map relative to the real one's mean
    magnitude, as in EnCodec."""
    with torch.no_grad():
        real = [[f.detach() for f in feats] for _, feats in disc(x)]
    adv, fm = y.new_zeros(()), y.new_zeros(())
    fakes = disc(y)
    for (logits, feats), ref in zip(fakes, real, strict=True):
        adv = adv + F.relu(1 - logits).mean()
        fm = fm + sum((f - r).abs().mean() / r.abs().mean().clamp_min(1e-5)
                      for f, r in zip(feats, ref, strict=True)) / len(feats)
    return adv / len(fakes), fm / len(fakes)


def discriminator_loss(disc: nn.Module, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Hinge loss: real logits pushed above 1, fake below -1, averaged over the scales."""
    out = [F.relu(1 - lr).mean() + F.relu(1 + lf).mean()
           for (lr, _), (lf, _) in zip(disc(real), disc(fake), strict=True)]
    return sum(out) / len(out)
