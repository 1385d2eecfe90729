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

The networks (GatedLayer, LayerNet and its cached raster pass) are in sampler_net.py; here are
the Sampler (one LayerNet per HR-VQ layer), the draw and the files.
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
from .sampler_net import GatedLayer, LayerNet, layer_paths  # noqa: F401 (re-exported)

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
        p = layer_paths(codes[:, : layer + 1], self.m)
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
            above = layer_paths(codes[:, :i], self.m)[-1] if i else None
            base = above * self.m if i else torch.zeros_like(codes[:, 0])
            codes[:, i] = net.raster(base, net.features(above, cls),
                                     lambda y, x, lg: draw(lg, rng, temperature, top_k))
        return codes.cpu()

    @torch.no_grad()
    def raster_logits(self, codes: torch.Tensor, layer: int, cls: torch.Tensor) -> torch.Tensor:
        """The logits (B, m, H, W) the sampler's step-by-step path computes for given codes
        (teacher forcing): the same as logits(), up to float rounding."""
        above = layer_paths(codes[:, :layer], self.m)[-1] if layer else None
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
