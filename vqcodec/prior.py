"""The PixelCNN prior over HR-VQ codes, and its exact integer form used for coding.

For layer i the prior predicts k_i at every latent position from
  * the codes of all layers above (one-hot, known in full to the decoder before layer i), and
  * the codes of layer i already decoded, in a fixed phase order over the grid.

::

    phases=2 (checkerboard)      phases=4
      0 1 0 1                     0 2 0 2
      1 0 1 0                     3 1 3 1
      0 1 0 1                     0 2 0 2

Phase p sees the codes of phases < p. This is a masked convolution in which the mask is on the
input (unknown codes are zero and a "known" plane says where they are), so one network serves
every phase and a layer decodes in `phases` parallel network passes instead of one pass per
position as a raster PixelCNN would: 128x192 latent positions would otherwise be 24k passes.

Bit-exact coding (DESIGN.md section 3): the network is trained with its weights and activations
fake-quantized to integers, and at coding time runs on integers only:
  * activations are integers in [0, 127], weights integers in [-127, 127];
  * a convolution of integers is exact in float32 as long as every partial sum stays below 2**24,
    whatever order the kernel sums in; the bound sum|W|*127 is checked per layer at load time,
    and float64 (exact below 2**53) is used where float32 could be inexact;
  * rescaling between layers is an int64 multiply, add and rounding shift;
  * probabilities come from an integer lookup table of exp() stored with the model.
The model checks itself when loaded (fixed input -> stored hash of the logits) and falls back to
float64 convolutions if the fast path disagrees on this machine.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

ACT_MAX = 127  # activations are integers 0..ACT_MAX
W_MAX = 127  # weights are integers -W_MAX..W_MAX
ACT_SCALE = 1 / 16  # real value of one activation step
LOGIT_SCALE = 1 / 8  # real value (nats) of one logit step
SHIFT = 20  # fixed-point bits of the rescaling multipliers
PROB_ONE = 1 << 15  # exp table value at the most likely symbol
EXACT_F32 = 1 << 24
PHASE_COUNTS = (1, 2, 4)  # the decoding orders phase_map knows


def phase_map(h: int, w: int, phases: int, device=None) -> torch.Tensor:
    """Which phase (0..phases-1) each latent position is decoded in."""
    y = torch.arange(h, device=device).view(-1, 1)
    x = torch.arange(w, device=device).view(1, -1)
    if phases == 1:
        return torch.zeros(h, w, dtype=torch.long, device=device)
    if phases == 2:
        return (y + x) % 2
    if phases == 4:
        lut = torch.tensor([[0, 2], [3, 1]], device=device)
        return lut[y % 2, x % 2]
    raise ValueError(f"phases must be 1, 2 or 4, not {phases}")


def context_input(codes: torch.Tensor, layer: int, known: torch.Tensor, m: int) -> torch.Tensor:
    """Integer network input for `layer`: one-hots of the layers above, of the known codes of this
    layer, and the known mask. codes (B, n, H, W) long; known (H, W) or (B, H, W) bool."""
    b, _, h, w = codes.shape
    planes = [F.one_hot(codes[:, j], m).permute(0, 3, 1, 2) for j in range(layer)]
    kn = known.expand(b, h, w).unsqueeze(1)
    planes.append(F.one_hot(codes[:, layer], m).permute(0, 3, 1, 2) * kn)
    planes.append(kn.long())
    return torch.cat(planes, 1).float()


# -- training-time network ----------------------------------------------------------------------
def _round_ste(x: torch.Tensor) -> torch.Tensor:
    return x + (x.round() - x).detach()


def weight_scale(w: torch.Tensor) -> torch.Tensor:
    """Per-output-channel step so that the largest weight maps to W_MAX."""
    return w.detach().abs().flatten(1).amax(1).clamp_min(1e-8) / W_MAX


class QConv(nn.Conv2d):
    """A convolution whose weights are fake-quantized to integers (straight-through)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = weight_scale(self.weight).view(-1, 1, 1, 1)
        return F.conv2d(x, _round_ste(self.weight / s) * s, self.bias, padding=self.padding)


def quant_act(x: torch.Tensor) -> torch.Tensor:
    """ReLU, then the integer grid 0..ACT_MAX of step ACT_SCALE (straight-through rounding)."""
    return _round_ste(x / ACT_SCALE).clamp(0, ACT_MAX) * ACT_SCALE


class LayerPrior(nn.Module):
    """Context network for one HR-VQ layer: (B, in_ch, H, W) -> logits (B, m, H, W)."""

    def __init__(self, in_ch: int, m: int, width: int, blocks: int):
        super().__init__()
        self.stem = QConv(in_ch, width, 5, padding=2)
        self.blocks = nn.ModuleList(
            nn.ModuleList([QConv(width, width, 3, padding=1), QConv(width, width, 3, padding=1)])
            for _ in range(blocks)
        )
        self.mix = QConv(width, width, 1)
        self.head = QConv(width, m, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = quant_act(self.stem(x))
        for c1, c2 in self.blocks:
            a = quant_act(a + c2(quant_act(c1(a))))
        a = quant_act(self.mix(a))
        logits = self.head(a)
        # The integer head emits logits in steps of LOGIT_SCALE: train on the same grid.
        return _round_ste(logits / LOGIT_SCALE) * LOGIT_SCALE


class Prior(nn.Module):
    """One LayerPrior per HR-VQ layer (layer i sees i layers of one-hots above it)."""

    def __init__(self, m: int, num_layers: int, width: int = 64, blocks: int = 2, phases: int = 2):
        super().__init__()
        if phases not in PHASE_COUNTS:  # a config's value: refused here, where loading reports it
            raise ValueError(f"prior phases must be 1, 2 or 4 for a plain HR-VQ, not {phases!r}")
        self.m, self.n, self.phases = m, num_layers, phases
        self.nets = nn.ModuleList(LayerPrior((i + 1) * m + 1, m, width, blocks)
                                  for i in range(num_layers))

    def forward(self, codes: torch.Tensor) -> tuple[torch.Tensor, list[float]]:
        return self.loss(codes)

    def loss(self, codes: torch.Tensor) -> tuple[torch.Tensor, list[float]]:
        """Mean bits per index over all layers, and bits per index of each layer.

        Each layer is trained on every phase at once: one pass per phase with that phase's mask,
        the loss taken on the positions of that phase."""
        b, n, h, w = codes.shape
        pm = phase_map(h, w, self.phases, codes.device)
        total = codes.new_zeros((), dtype=torch.float32)
        per_layer = []
        for i in range(n):
            nll = torch.zeros(b, h, w, device=codes.device)
            for p in range(self.phases):
                logits = self.nets[i](context_input(codes, i, pm < p, self.m))
                ce = F.cross_entropy(logits, codes[:, i], reduction="none")
                nll = torch.where(pm == p, ce, nll)
            bits = nll.mean() / math.log(2)
            per_layer.append(float(bits.detach()))
            total = total + bits
        return total / n, per_layer

    @torch.no_grad()
    def load_integer(self, t: dict[str, torch.Tensor]) -> None:
        """Start from a shipped integer prior (export_integer's tensors): float weights that
        are the integers times their steps, so training continues where it stopped."""
        for i, net in enumerate(self.nets):
            _import_conv(net.stem, t, f"l{i}.stem", 1.0, ACT_SCALE)
            import_integer_convs(net, t, f"l{i}.")


# -- exact integer network ----------------------------------------------------------------------
def _export_conv(out: dict, key: str, conv: nn.Conv2d, s_in: float, s_out: float) -> None:
    """Integer weights, rescaling multipliers and bias of one fake-quantized conv."""
    s_w = weight_scale(conv.weight)
    out[key + ".w"] = (conv.weight.detach() / s_w.view(-1, 1, 1, 1)).round().to(torch.int8).contiguous()
    out[key + ".mult"] = (s_w * s_in / s_out * (1 << SHIFT)).double().round().long()
    out[key + ".bias"] = (conv.bias.detach().double() / s_out * (1 << SHIFT)).round().long()


def export_integer_convs(net: nn.Module, prefix: str) -> dict[str, torch.Tensor]:
    """The integer blocks, mix and head of one context network (everything after its stem)."""
    out: dict[str, torch.Tensor] = {}
    for j, (c1, c2) in enumerate(net.blocks):
        _export_conv(out, f"{prefix}b{j}a", c1, ACT_SCALE, ACT_SCALE)
        _export_conv(out, f"{prefix}b{j}b", c2, ACT_SCALE, ACT_SCALE)
    _export_conv(out, prefix + "mix", net.mix, ACT_SCALE, ACT_SCALE)
    _export_conv(out, prefix + "head", net.head, ACT_SCALE, LOGIT_SCALE)
    return out


@torch.no_grad()
def _import_conv(conv: nn.Conv2d, t: dict, key: str, s_in: float, s_out: float) -> None:
    """The inverse of _export_conv: float weights whose fake quantization is the integers."""
    s_w = t[key + ".mult"].double() * s_out / (s_in * (1 << SHIFT))
    conv.weight.copy_(t[key + ".w"].double() * s_w.view(-1, 1, 1, 1))
    conv.bias.copy_(t[key + ".bias"].double() * s_out / (1 << SHIFT))


def import_integer_convs(net: nn.Module, t: dict, prefix: str) -> None:
    """Load export_integer_convs's tensors back into a context network's float convs."""
    for j, (c1, c2) in enumerate(net.blocks):
        _import_conv(c1, t, f"{prefix}b{j}a", ACT_SCALE, ACT_SCALE)
        _import_conv(c2, t, f"{prefix}b{j}b", ACT_SCALE, ACT_SCALE)
    _import_conv(net.mix, t, prefix + "mix", ACT_SCALE, ACT_SCALE)
    _import_conv(net.head, t, prefix + "head", ACT_SCALE, LOGIT_SCALE)


def exp_table() -> torch.Tensor:
    """The integer exp(-d * LOGIT_SCALE) table that turns logit gaps into probabilities."""
    d = torch.arange(0, 4096, dtype=torch.float64)
    table = (PROB_ONE * torch.exp(-d * LOGIT_SCALE)).round().clamp_min(1).long()
    return table[: int((table > 1).sum()) + 1].contiguous()


def export_integer(prior: Prior) -> dict[str, torch.Tensor]:
    """Integer tensors of the trained prior, named for safetensors."""
    out: dict[str, torch.Tensor] = {}
    for i, net in enumerate(prior.nets):
        _export_conv(out, f"l{i}.stem", net.stem, 1.0, ACT_SCALE)
        out.update(export_integer_convs(net, f"l{i}."))
    out["exp_table"] = exp_table()
    return out


class ExactPrior:
    """The integer prior: identical probabilities on every machine, thread count and batch shape."""

    def __init__(self, tensors: dict[str, torch.Tensor], m: int, num_layers: int, blocks: int,
                 phases: int, device: str | torch.device = "cpu"):
        self.m, self.n, self.blocks, self.phases = m, num_layers, blocks, phases
        self.device = torch.device(device)
        self.t = {k: v.to(self.device) for k, v in tensors.items()}
        self.exp_table = self.t["exp_table"]
        self.force_f64 = False
        self._plans: dict = {}
        self._consts_cache: dict = {}

    def _plan(self, name: str, a_max: int) -> tuple[torch.dtype, bool]:
        """How to run one conv exactly: the conv dtype, and whether the rescaling may run in
        float64 (exact while every intermediate integer is below 2**53) instead of int64."""
        key = (name, self.force_f64)
        if key not in self._plans:
            w = self.t[name + ".w"].long()
            bound = int(w.abs().flatten(1).sum(1).max()) * a_max
            conv_dtype = torch.float32 if bound < EXACT_F32 and not self.force_f64 else torch.float64
            worst = (bound * int(self.t[name + ".mult"].abs().max())
                     + int(self.t[name + ".bias"].abs().max()) + (1 << SHIFT))
            self._plans[key] = (conv_dtype, worst < (1 << 53))
        return self._plans[key]

    def _consts(self, name: str, dtype: torch.dtype, f64_ok: bool) -> tuple[torch.Tensor, ...]:
        """The conv's weights in its conv dtype, and its multiplier and bias + rounding half as
        (1, C, 1, 1) tensors of the rescaling dtype: built once, not on every pass."""
        key = (name, dtype, f64_ok)
        if key not in self._consts_cache:
            rescale = torch.float64 if f64_ok else torch.int64
            mult = self.t[name + ".mult"].view(1, -1, 1, 1).to(rescale)
            bias = (self.t[name + ".bias"] + (1 << (SHIFT - 1))).view(1, -1, 1, 1).to(rescale)
            self._consts_cache[key] = (self.t[name + ".w"].to(dtype), mult, bias)
        return self._consts_cache[key]

    def _conv(self, a: torch.Tensor, name: str, pad: int, a_max: int) -> torch.Tensor:
        """Integer conv + rescale. `a` holds integers (any dtype); returns float64 integers in
        units of the next layer's step. In-place steps: the rescale of a full-size map is memory
        bound, and this runs 7 times per layer and phase."""
        conv_dtype, f64_ok = self._plan(name, a_max)
        w, mult, bias = self._consts(name, conv_dtype, f64_ok)
        acc = F.conv2d(a.to(conv_dtype), w, padding=pad)
        if f64_ok:
            # floor((acc * mult + bias + half) / 2**SHIFT), every intermediate exact in float64.
            v = acc.to(torch.float64).mul_(mult).add_(bias)
            return v.mul_(1.0 / (1 << SHIFT)).floor_()
        return ((acc.long() * mult + bias) >> SHIFT).double()

    def logits(self, x: torch.Tensor, layer: int) -> torch.Tensor:
        """Integer logits (B, m, H, W) int64 from an integer context input (B, C, H, W)."""
        p = f"l{layer}."
        return self._trunk(self._conv(x, p + "stem", 2, 1).clamp_(0, ACT_MAX).float(), p)

    def _trunk(self, a: torch.Tensor, p: str) -> torch.Tensor:
        """Residual blocks, mix and head of the net named `p` on the stem's activations."""
        for j in range(self.blocks):
            h = self._conv(a, p + f"b{j}a", 1, ACT_MAX).clamp_(0, ACT_MAX).float()
            a = self._conv(h, p + f"b{j}b", 1, ACT_MAX).add_(a).clamp_(0, ACT_MAX).float()
        a = self._conv(a, p + "mix", 0, ACT_MAX).clamp_(0, ACT_MAX).float()
        return self._conv(a, p + "head", 0, ACT_MAX).long()

    def probs(self, logits: torch.Tensor) -> torch.Tensor:
        """Unnormalised integer probabilities (..., m) from integer logits (..., m)."""
        d = logits.amax(-1, keepdim=True) - logits
        return self.exp_table[d.clamp(max=len(self.exp_table) - 1)]

    def phase_probs(self, codes: torch.Tensor, layer: int, phase: int) -> torch.Tensor:
        """Integer probabilities (B, N_phase, m) of layer `layer` at the positions of `phase`,
        given the codes of the layers above and of the earlier phases (the rest is ignored)."""
        b, _, h, w = codes.shape
        pm = phase_map(h, w, self.phases, self.device)
        x = context_input(codes.to(self.device), layer, pm < phase, self.m)
        lg = self.logits(x, layer).permute(0, 2, 3, 1)  # (B, H, W, m)
        return self.probs(lg[:, pm == phase])

    # -- the decoding order, in the shape every codec's stream coder uses ----------------------
    def layer_steps(self, layer: int) -> int:
        """Decoding steps of a layer (here: the phases, the same in every layer)."""
        return self.phases

    def step_map(self, h: int, w: int, layer: int = 0) -> torch.Tensor:
        """(G, h, w) step of each index of a layer; G = 1 group here."""
        return phase_map(h, w, self.phases).unsqueeze(0)

    def step_probs(self, codes: torch.Tensor, layer: int, step: int) -> torch.Tensor:
        """Probabilities (B, N_step, m) for codes (B, n, G, h, w), in step_map's boolean order."""
        return self.phase_probs(codes[:, :, 0], layer, step)

    # -- self-check ---------------------------------------------------------------------------
    def fingerprint(self) -> str:
        """Hash of the integer logits on a fixed input covering every layer."""
        g = np.random.default_rng(1234)  # PCG64: the same stream on every platform
        codes = torch.from_numpy(g.integers(0, self.m, size=(2, self.n, 13, 11)))
        h = hashlib.sha256()
        for i in range(self.n):
            for p in range(self.phases):
                pr = self.phase_probs(codes, i, p).cpu().numpy().astype("<i8")
                h.update(pr.tobytes())
        return h.hexdigest()

    def verify(self, expected: str) -> None:
        """Check this machine reproduces the stored fingerprint; fall back to float64 if not."""
        if self.fingerprint() == expected:
            return
        self.force_f64 = True
        if self.fingerprint() != expected:
            raise RuntimeError("the prior does not reproduce its stored fingerprint on this "
                               "machine: files it writes would not decode elsewhere")
