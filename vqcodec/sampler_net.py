"""The networks of the sampling prior (sampler.py tells the model and draws the picture): the
gated layer of both causal stacks, the conditioning blocks, and LayerNet, the autoregressive
network of one HR-VQ layer with its cached raster pass for sampling."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _gate(x: torch.Tensor) -> torch.Tensor:
    a, b = x.chunk(2, 1)
    return torch.tanh(a) * torch.sigmoid(b)


class GatedLayer(nn.Module):
    """One gated layer of both stacks; dilation d on the vertical (rows, columns) and the
    horizontal (columns) kernels. The vertical pre-activation reaches the horizontal stack
    through a 1x1 conv (v2h), and the conditioning features through the vertical one."""

    def __init__(self, c: int, f: int, d: int):
        super().__init__()
        self.d = d
        self.v = nn.Conv2d(c, 2 * c, (2, 3), dilation=d)
        self.h = nn.Conv2d(c, 2 * c, (1, 2), dilation=d)
        self.cond = nn.Conv2d(f, 2 * c, 1)
        self.v2h = nn.Conv2d(2 * c, 2 * c, 1)
        self.h_out = nn.Conv2d(c, c, 1)

    def vertical(self, v: torch.Tensor, f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(next v, v2h input for the horizontal stack); f: this layer's conditioning."""
        d = self.d
        pre = self.v(F.pad(v, (d, d, d, 0))) + f
        return v + _gate(pre), self.v2h(pre)

    def horizontal(self, h: torch.Tensor, vh: torch.Tensor) -> torch.Tensor:
        pre = self.h(F.pad(h, (self.d, 0, 0, 0))) + vh
        return h + self.h_out(_gate(pre))


class _ResBlock(nn.Module):
    def __init__(self, ch: int):
        super().__init__()
        self.a, self.b = nn.Conv2d(ch, ch, 3, padding=1), nn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.b(F.relu(self.a(F.relu(x))))


class LayerNet(nn.Module):
    """The autoregressive network of HR-VQ layer `layer` (0 = top): logits (B, m, H, W)."""

    def __init__(self, layer: int, m: int, grid: tuple[int, int], classes: int, width: int,
                 depth: int, dilations: list[int], cond_width: int, cond_blocks: int):
        super().__init__()
        c, f = width, cond_width
        self.layer, self.m = layer, m
        self.embed = nn.Embedding(m ** (layer + 1), c)  # the path down to this layer
        self.above = nn.Embedding(m ** layer, f) if layer else None
        self.cls = nn.Embedding(classes + 1, f)  # the last row: no class (unconditional)
        self.pos = nn.Parameter(torch.zeros(f, *grid))
        self.cond = nn.Sequential(*[_ResBlock(f) for _ in range(cond_blocks)])
        self.layers = nn.ModuleList(GatedLayer(c, f, dilations[j % len(dilations)])
                                    for j in range(depth))
        self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(c, c, 1), nn.ReLU(), nn.Conv2d(c, m, 1))

    def features(self, above: torch.Tensor | None, cls: torch.Tensor) -> list[torch.Tensor]:
        """Each gated layer's conditioning (B, 2C, H, W): class, position, the codes above."""
        f = self.cls(cls)[:, :, None, None] + self.pos
        if self.above is not None:
            f = f + self.above(above).permute(0, 3, 1, 2)
        f = self.cond(f)
        return [g.cond(f) for g in self.layers]

    def _embed(self, path: torch.Tensor) -> torch.Tensor:
        return self.embed(path).permute(0, 3, 1, 2)

    def vertical(self, path: torch.Tensor, fs: list[torch.Tensor]) -> list[torch.Tensor]:
        """The v2h inputs of every gated layer; path (B, R, W) holds rows 0..R-1 (row R-1's
        codes are never read: row r sees rows < r)."""
        v = F.pad(self._embed(path), (0, 0, 1, 0))[:, :, :-1]
        out = []
        for g, f in zip(self.layers, fs, strict=True):
            v, vh = g.vertical(v, f)
            out.append(vh)
        return out

    def horizontal(self, path: torch.Tensor, vhs: list[torch.Tensor]) -> torch.Tensor:
        """Logits from the horizontal stack over rows of `path` (B, R, X) (position x sees
        columns < x of its row) and the vertical stack's v2h inputs at the same places."""
        h = F.pad(self._embed(path), (1, 0, 0, 0))[:, :, :, :-1]
        for g, vh in zip(self.layers, vhs, strict=True):
            h = g.horizontal(h, vh)
        return self.head(h)

    def forward(self, path: torch.Tensor, above: torch.Tensor | None,
                cls: torch.Tensor) -> torch.Tensor:
        return self.horizontal(path, self.vertical(path, self.features(above, cls)))

    def raster(self, base: torch.Tensor, fs: list[torch.Tensor], pick) -> torch.Tensor:
        """Run the network one position at a time in raster order, each layer's activations
        cached: a row of the vertical stack per row (from the cached rows y - d and y), one
        position of the horizontal stack per step (columns x - d and x). pick(y, x, logits
        (B, m)) -> the codes (B,) at (y, x). base: the path above, times m (B, H, W).
        Returns this layer's codes (B, H, W)."""
        b, h, w = base.shape
        c, dev = self.embed.embedding_dim, base.device
        path, codes = base.clone(), torch.zeros_like(base)
        n = len(self.layers)
        wh = [torch.cat([g.h.weight[:, :, 0, 0], g.h.weight[:, :, 0, 1]], 1) for g in self.layers]
        wo = [g.h_out.weight[:, :, 0, 0] for g in self.layers]
        h1, h2 = self.head[1], self.head[3]
        vs = [torch.zeros(b, c, h, w, device=dev) for _ in range(n + 1)]
        zero_row, zero = torch.zeros(b, c, w, device=dev), torch.zeros(b, c, device=dev)
        for y in range(h):
            if y:
                vs[0][:, :, y] = self.embed(path[:, y - 1]).transpose(1, 2)
            vhs = []
            for j, (g, f) in enumerate(zip(self.layers, fs, strict=True)):
                d = g.d
                two = torch.stack([vs[j][:, :, y - d] if y >= d else zero_row, vs[j][:, :, y]], 2)
                pre = F.conv2d(F.pad(two, (d, d)), g.v.weight, g.v.bias, dilation=(1, d))
                pre = pre[:, :, 0] + f[:, :, y]  # (B, 2C, W)
                vs[j + 1][:, :, y] = vs[j][:, :, y] + _gate(pre)
                vhs.append(g.v2h(pre.unsqueeze(2))[:, :, 0].transpose(1, 2))  # (B, W, 2C)
            hs = [torch.zeros(b, w, c, device=dev) for _ in range(n + 1)]
            for x in range(w):
                if x:
                    hs[0][:, x] = self.embed(path[:, y, x - 1])
                for j, g in enumerate(self.layers):
                    d, cur = g.d, hs[j][:, x]
                    pre = F.linear(torch.cat([hs[j][:, x - d] if x >= d else zero, cur], 1),
                                   wh[j], g.h.bias) + vhs[j][:, x]
                    hs[j + 1][:, x] = cur + F.linear(_gate(pre), wo[j], g.h_out.bias)
                a = F.relu(F.linear(F.relu(hs[n][:, x]), h1.weight[:, :, 0, 0], h1.bias))
                k = pick(y, x, F.linear(a, h2.weight[:, :, 0, 0], h2.bias)).to(dev)
                codes[:, y, x] = k
                path[:, y, x] = base[:, y, x] + k
        return codes


def layer_paths(codes: torch.Tensor, m: int) -> list[torch.Tensor]:
    """Path indices (B, H, W) of each layer: k_1 * m^i + ... + k_(i+1) for layer i."""
    out, p = [], torch.zeros_like(codes[:, 0])
    for i in range(codes.shape[1]):
        p = p * m + codes[:, i]
        out.append(p)
    return out

