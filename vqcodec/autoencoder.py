"""Convolutional encoders and decoders: images (2-D) and audio (1-D).

::

    image (B,3,H,W) in [0,1] --Encoder2d--> z (B,D,H/s,W/s) --HRVQ--> e_C --Decoder2d--> (B,3,H,W)

`channels` lists the width after each step and `strides` (default all 2) how much each step
shrinks the grid; the total stride is their product. A stride-1 step is a plain conv (small
images such as CIFAR-10 keep a full-resolution latent grid). Residual blocks sit at every scale. Plain ReLU convs: GDN-style
normalisations did not pay for their run time on two CPU cores here.
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
