"""The sampling prior: a float, fully autoregressive gated PixelCNN over HR-VQ codes.

It draws new images (`vqcodec sample`); it never codes a file, so it is free to be float (the
bit-exact checkerboard prior in prior.py codes files and stays as it is). The model is the
conditional gated PixelCNN of van den Oord et al. (2016), as the VQ-VAE papers use it: raster
order over the latent grid, the top HR-VQ layer first, each deeper layer conditioned on the
codes of the layers above (known in full before it, so below and right of an index too: the
conditioning stack sees cond_blocks * 2 positions around it, the causal stacks carry more from
above and left), class-conditional where the data has labels::

    layer i:  path (k_1..k_i) at each position --embed--> e           (the layer's own codes)
              codes above (k_1..k_i-1) everywhere + class + position
                  --embed, 3x3 res blocks (not causal)--> f           (known in full before i)
              vertical stack    v = shift_down(e); 2x3 convs:  sees the rows above
              horizontal stack  h = shift_right(e); 1x2 convs + v: sees the row to the left
              each gated layer: tanh(a) * sigmoid(b) of (conv + f), residual; dilations cycle
              h --1x1 head--> logits over the m words of k_i

Dilations (1, 2, 4, 8 by default) give a receptive field of the whole grid in 8 layers. Bits
per index are the mean negative log2-likelihood of the codes (the PixelCNN metric).

Sampling caches every gated layer's activations (LayerNet.raster): per row, one row of the
vertical stack from the cached rows y - d and y; per position, one position of the
horizontal stack from columns x - d and x. That is one full-grid pass of work per layer
instead of h*w passes, with the same logits up to float rounding (tests/test_sampler.py
checks it against the full network); 16 CIFAR samples take about 5 s on one core. It runs
where the sampler is, best on the CPU (small sequential steps). The draws come from PCG64:
a seed gives the same samples on the same machine and thread count (the network is float,
so another CPU may differ in the last bits of a logit and, rarely, in a draw).

Files: `sampler.safetensors` (weights) and `sampler.json` (architecture, classes, the model's
identity) beside a model; not part of the identity, so adding one leaves every .vqc decoding.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from .files import atomic_path
from .models import LoadedModel, ModelError

FORMAT = "vqcodec-sampler"
VERSION = 1
JSON, WEIGHTS = "sampler.json", "sampler.safetensors"
ARCH_KEYS = ("m", "num_layers", "grid", "classes", "width", "depth", "dilations", "cond_width",
             "cond_blocks")


def _per_layer(v, n: int) -> list[int]:
    """An int for every layer, or a list of n of them."""
    out = [int(v)] * n if isinstance(v, int) else [int(x) for x in v]
    if len(out) != n:
        raise ValueError(f"need {n} values (one per layer), got {v!r}")
    return out


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


def _paths(codes: torch.Tensor, m: int) -> list[torch.Tensor]:
    """Path indices (B, H, W) of each layer: k_1 * m^i + ... + k_(i+1) for layer i."""
    out, p = [], torch.zeros_like(codes[:, 0])
    for i in range(codes.shape[1]):
        p = p * m + codes[:, i]
        out.append(p)
    return out


class Sampler(nn.Module):
    """The sampling prior of one model: a LayerNet per HR-VQ layer.

    Args (the `arch` dict, stored in sampler.json):
        m, num_layers, grid: the model's codebook size, layers and latent grid (h, w).
        classes: class names ([] when the data had no labels).
        width, depth: channels and gated layers, an int or one per HR-VQ layer.
        dilations: cycled over each layer's gated layers.
        cond_width, cond_blocks: the conditioning stack (codes above, class, position).
    """

    def __init__(self, arch: dict):
        super().__init__()
        self.arch = {k: arch[k] for k in ARCH_KEYS}
        n, m = int(arch["num_layers"]), int(arch["m"])
        self.m, self.n, self.grid = m, n, tuple(int(v) for v in arch["grid"])
        self.classes = [str(c) for c in arch["classes"]]
        widths, depths = _per_layer(arch["width"], n), _per_layer(arch["depth"], n)
        self.nets = nn.ModuleList(
            LayerNet(i, m, self.grid, len(self.classes), widths[i], depths[i],
                     [int(d) for d in arch["dilations"]], int(arch["cond_width"]),
                     int(arch["cond_blocks"]))
            for i in range(n))

    def class_ids(self, classes, b: int) -> torch.Tensor:
        """(B,) class indices; None (or -1 entries) means no class: the unconditional row."""
        null = len(self.classes)
        if classes is None:
            return torch.full((b,), null, dtype=torch.long)
        c = torch.as_tensor(classes, dtype=torch.long).reshape(-1).expand(b).clone()
        c[c < 0] = null
        if bool((c > null).any()):
            raise ValueError(f"class index out of range (the sampler has {null} classes)")
        return c

    def logits(self, codes: torch.Tensor, layer: int, cls: torch.Tensor) -> torch.Tensor:
        """Logits (B, m, H, W) of layer `layer` given codes (B, n, H, W) long (teacher forcing)."""
        p = _paths(codes[:, : layer + 1], self.m)
        return self.nets[layer](p[layer], p[layer - 1] if layer else None, cls)

    def loss(self, codes: torch.Tensor, cls: torch.Tensor) -> tuple[torch.Tensor, list[float]]:
        """Mean bits per index over all layers, and the bits per index of each layer."""
        total, per = codes.new_zeros((), dtype=torch.float32), []
        for i in range(self.n):
            ce = F.cross_entropy(self.logits(codes, i, cls), codes[:, i]) / math.log(2)
            per.append(float(ce.detach()))
            total = total + ce
        return total / self.n, per

    @torch.no_grad()
    def bits(self, codes: torch.Tensor, cls: torch.Tensor) -> torch.Tensor:
        """Negative log2-likelihood (B, n, H, W) of each index."""
        return torch.stack([F.cross_entropy(self.logits(codes, i, cls), codes[:, i],
                                            reduction="none") for i in range(self.n)], 1
                           ) / math.log(2)

    @torch.no_grad()
    def sample_codes(self, count: int, seed: int = 0, temperature: float = 1.0,
                     top_k: int | None = None, classes=None) -> torch.Tensor:
        """Draw codes (count, n, h, w) in raster order, layer by layer."""
        if not temperature > 0:
            raise ValueError(f"temperature must be above 0, not {temperature}")
        if top_k is not None and not 1 <= top_k:
            raise ValueError(f"top-k must be 1 or more, not {top_k}")
        rng = np.random.default_rng(seed)
        dev = next(self.parameters()).device
        cls = self.class_ids(classes, count).to(dev)
        codes = torch.zeros(count, self.n, *self.grid, dtype=torch.long, device=dev)
        for i, net in enumerate(self.nets):
            above = _paths(codes[:, :i], self.m)[-1] if i else None
            base = above * self.m if i else torch.zeros_like(codes[:, 0])
            codes[:, i] = net.raster(base, net.features(above, cls),
                                     lambda y, x, lg: draw(lg, rng, temperature, top_k))
        return codes.cpu()

    @torch.no_grad()
    def raster_logits(self, codes: torch.Tensor, layer: int, cls: torch.Tensor) -> torch.Tensor:
        """The logits (B, m, H, W) the sampler's step-by-step path computes for given codes
        (teacher forcing): the same as logits(), up to float rounding."""
        above = _paths(codes[:, :layer], self.m)[-1] if layer else None
        net = self.nets[layer]
        out = torch.zeros(codes.shape[0], self.m, *self.grid, device=codes.device)

        def pick(y: int, x: int, lg: torch.Tensor) -> torch.Tensor:
            out[:, :, y, x] = lg
            return codes[:, layer, y, x]

        net.raster(above * self.m if layer else torch.zeros_like(codes[:, 0]),
                   net.features(above, cls), pick)
        return out


def draw(logits: torch.Tensor, rng: np.random.Generator, temperature: float = 1.0,
         top_k: int | None = None) -> torch.Tensor:
    """One draw per row of logits (B, m): softmax(logits / temperature) over the top_k."""
    lg = logits.double().cpu().numpy() / temperature
    if top_k is not None and top_k < lg.shape[1]:
        kth = np.sort(lg, 1)[:, -top_k][:, None]
        lg = np.where(lg >= kth, lg, -np.inf)
    p = np.exp(lg - lg.max(1, keepdims=True))
    cdf = np.cumsum(p / p.sum(1, keepdims=True), 1)
    u = rng.random((len(lg), 1))
    return torch.from_numpy(np.minimum((u > cdf).sum(1), lg.shape[1] - 1))


# -- files ----------------------------------------------------------------------------------------
def save_sampler(sampler: Sampler, folder: Path, model_id: bytes, extra: dict | None = None) -> None:
    """Write sampler.safetensors and sampler.json into `folder` (each atomically)."""
    folder.mkdir(parents=True, exist_ok=True)
    meta = {"format": FORMAT, "version": VERSION, "model_id": model_id.hex(),
            "sampler": sampler.arch, **(extra or {})}
    state = {k: v.detach().cpu().contiguous() for k, v in sampler.state_dict().items()}
    with atomic_path(folder / WEIGHTS) as tmp:
        save_file(state, str(tmp))
    with atomic_path(folder / JSON) as tmp:
        Path(tmp).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")


def read_meta(folder: Path) -> dict | None:
    """sampler.json of a folder, None when it has none."""
    p = Path(folder) / JSON
    if not p.is_file():
        return None
    try:
        meta = json.loads(p.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ModelError(f"bad {p}: {e}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelError(f"{p} is not a vqcodec sampler")
    if int(meta.get("version", 0)) > VERSION:
        raise ModelError(f"{p} is version {meta['version']}; this vqcodec reads up to {VERSION}")
    return meta


def load_sampler(model: LoadedModel, folder: Path | None = None) -> tuple[Sampler, dict] | None:
    """The sampling prior beside a model (or in `folder`), with its sampler.json; None if the
    folder has none. A sampler made for another model is refused by name."""
    folder = Path(folder or model.path)
    meta = read_meta(folder)
    if meta is None:
        return None
    if meta.get("model_id") != model.model_id.hex():
        raise ModelError(f"{folder / JSON} was trained on the codes of another model "
                         f"({meta.get('model_id')}), not {model.name} ({model.model_id.hex()})")
    arch = meta.get("sampler", {})
    c = model.codec.config
    if arch.get("m") != c["codebook_size"] or arch.get("num_layers") != c["num_layers"]:
        raise ModelError(f"{folder / JSON}: its layers do not match model {model.name}")
    try:
        sampler = Sampler(arch)
        state = load_file(str(folder / WEIGHTS))
        sampler.load_state_dict(state)
    except (KeyError, TypeError, ValueError) as e:
        raise ModelError(f"{folder / JSON}: bad sampler ({e})") from None
    except Exception as e:  # safetensors' own errors, a state dict that does not fit
        raise ModelError(f"{folder / WEIGHTS}: cannot load the sampler ({e})") from None
    return sampler.eval(), meta


def class_index(sampler: Sampler, name_or_number: str | int | None) -> int | None:
    """A class given by name or number -> its index; None stays None. One-line errors."""
    if name_or_number is None:
        return None
    if not sampler.classes:
        raise ValueError("this sampling prior has no classes (it was trained without labels)")
    s = str(name_or_number).strip()
    if s in sampler.classes:
        return sampler.classes.index(s)
    if s.lstrip("-").isdigit() and 0 <= int(s) < len(sampler.classes):
        return int(s)
    raise ValueError(f"unknown class {s!r} (classes: " +
                     ", ".join(f"{i} {c}" for i, c in enumerate(sampler.classes)) + ")")


def macs_per_index(sampler: Sampler) -> list[int]:
    """Multiply-adds of one full-grid pass per index, per HR-VQ layer (convs and the head)."""
    return [sum(mod.weight.numel() for mod in net.modules() if isinstance(mod, nn.Conv2d))
            for net in sampler.nets]
