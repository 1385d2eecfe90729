"""Convolutional encoders and decoders: images (2-D) and audio (1-D).

::

    image (B,3,H,W) in [0,1] --Encoder2d--> z (B,D,H/s,W/s) --HRVQ--> e_C --Decoder2d--> (B,3,H,W)

Each down/up step halves/doubles the grid; `channels` lists the width after each step, so the
stride is 2**len(channels). Residual blocks sit at every scale. Plain ReLU convs: GDN-style
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
    def __init__(self, in_ch: int, channels: list[int], latent_dim: int, res_blocks: int):
        super().__init__()
        layers: list[nn.Module] = []
        prev = in_ch
        for ch in channels:
            layers.append(nn.Conv2d(prev, ch, 5, stride=2, padding=2))
            layers += [ResBlock(ch) for _ in range(res_blocks)]
            prev = ch
        layers += [nn.ReLU(), nn.Conv2d(prev, latent_dim, 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x - 0.5)


class Decoder2d(nn.Module):
    def __init__(self, out_ch: int, channels: list[int], latent_dim: int, res_blocks: int):
        super().__init__()
        chans = channels[::-1]
        layers: list[nn.Module] = [nn.Conv2d(latent_dim, chans[0], 3, padding=1)]
        for i, ch in enumerate(chans):
            layers += [ResBlock(ch) for _ in range(res_blocks)]
            nxt = chans[i + 1] if i + 1 < len(chans) else max(ch // 2, 16)
            layers += [nn.ReLU(), nn.ConvTranspose2d(ch, nxt, 4, stride=2, padding=1)]
        layers += [nn.ReLU(), nn.Conv2d(nxt, out_ch, 3, padding=1)]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z) + 0.5
