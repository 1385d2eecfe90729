"""Convolutional encoders and decoders: images (2-D) and audio (1-D).

::

    image (B,3,H,W) in [0,1] --Encoder2d--> z (B,D,H/s,W/s) --HRVQ--> e_C --Decoder2d--> (B,3,H,W)
    audio (B,1,L) in [-1,1]  --Encoder1d--> z (B,D,1,L/s)   --HRVQ--> e_C --Decoder1d--> (B,1,L)

`channels` lists the width after each step and `strides` (default all 2) how much each step
shrinks the grid; the total stride is their product. A stride-1 step is a plain conv (small
images such as CIFAR-10 keep a full-resolution latent grid). Residual blocks sit at every
scale. Plain ReLU convs: GDN-style normalisations did not pay for their run time on two CPU
cores here. Audio uses dilated ELU units (SEANet-like) and keeps a latent height of 1, so the
quantizer, prior and container treat its frames as a 1 x T grid.
"""

from __future__ import annotations

import torch
from torch import nn


class ResBlock(nn.Module):
    def __init__(self, ch: int, conv=nn.Conv2d):
        super().__init__()
        self.body = nn.Sequential(nn.ReLU(), conv(ch, ch, 3, padding=1), nn.ReLU(),
                                  conv(ch, ch, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class Encoder2d(nn.Module):
    def __init__(self, in_ch: int, channels: list[int], latent_dim: int, res_blocks: int,
                 strides: list[int] | None = None):
        super().__init__()
        layers: list[nn.Module] = []
        prev = in_ch
        for ch, s in zip(channels, strides or [2] * len(channels), strict=True):
            layers.append(nn.Conv2d(prev, ch, 5, stride=s, padding=2))
            layers += [ResBlock(ch) for _ in range(res_blocks)]
            prev = ch
        layers += [nn.ReLU(), nn.Conv2d(prev, latent_dim, 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x - 0.5)


class Decoder2d(nn.Module):
    def __init__(self, out_ch: int, channels: list[int], latent_dim: int, res_blocks: int,
                 strides: list[int] | None = None):
        super().__init__()
        chans = channels[::-1]
        ups = (strides or [2] * len(channels))[::-1]
        layers: list[nn.Module] = [nn.Conv2d(latent_dim, chans[0], 3, padding=1)]
        for i, (ch, s) in enumerate(zip(chans, ups, strict=True)):
            layers += [ResBlock(ch) for _ in range(res_blocks)]
            nxt = chans[i + 1] if i + 1 < len(chans) else max(ch // 2, 16)
            up = nn.ConvTranspose2d(ch, nxt, 4, stride=2, padding=1) if s == 2 else \
                nn.Conv2d(ch, nxt, 3, padding=1)
            layers += [nn.ReLU(), up]
        layers += [nn.ReLU(), nn.Conv2d(nxt, out_ch, 3, padding=1)]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z) + 0.5


# -- audio (1-D) ---------------------------------------------------------------------------------
class ResBlock1d(nn.Module):
    """Dilated residual unit (SEANet/EnCodec style): a wide receptive field for few weights."""

    def __init__(self, ch: int, dilation: int):
        super().__init__()
        self.body = nn.Sequential(nn.ELU(), nn.Conv1d(ch, ch, 3, dilation=dilation, padding=dilation),
                                  nn.ELU(), nn.Conv1d(ch, ch, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def _units(ch: int, res_blocks: int) -> list[nn.Module]:
    return [ResBlock1d(ch, 3**j) for j in range(res_blocks)]  # dilations 1, 3, 9, ...


class Encoder1d(nn.Module):
    """Waveform (B, C, L) -> latent (B, D, 1, L / prod(strides)).

    `channels[i]` is the width after down-sampling step i (stride `strides[i]`, kernel 2*stride);
    `res_blocks` dilated units run before each step, at the width of that scale. The first conv
    runs at `base` channels, so the full-rate part stays cheap. The latent gets a dummy height of
    1, so the quantizer, the prior (phases along time) and the container see the same (h, w)
    grid as for images."""

    def __init__(self, in_ch: int, channels: list[int], latent_dim: int, res_blocks: int,
                 strides: list[int], base: int = 16):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv1d(in_ch, base, 7, padding=3)]
        prev = base
        for ch, s in zip(channels, strides, strict=True):
            layers += _units(prev, res_blocks)
            layers += [nn.ELU(), nn.Conv1d(prev, ch, 2 * s, stride=s, padding=(s + 1) // 2)]
            prev = ch
        layers += [nn.ELU(), nn.Conv1d(prev, latent_dim, 3, padding=1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).unsqueeze(2)


class Decoder1d(nn.Module):
    """Latent (B, D, 1, T) -> waveform (B, C, T * prod(strides)); the mirror of Encoder1d."""

    def __init__(self, out_ch: int, channels: list[int], latent_dim: int, res_blocks: int,
                 strides: list[int], base: int = 16):
        super().__init__()
        chans = channels[::-1] + [base]
        layers: list[nn.Module] = [nn.Conv1d(latent_dim, chans[0], 7, padding=3)]
        for i, s in enumerate(strides[::-1]):
            layers += [nn.ELU(), nn.ConvTranspose1d(chans[i], chans[i + 1], 2 * s, stride=s,
                                                    padding=(s + 1) // 2, output_padding=s % 2)]
            layers += _units(chans[i + 1], res_blocks)
        layers += [nn.ELU(), nn.Conv1d(base, out_ch, 7, padding=3)]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.squeeze(2))
