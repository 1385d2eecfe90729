"""The prior over product HR-VQ codes (product_vq.py): one small PixelCNN per (layer, group).

Codes are (B, n, G, h, w). A layer is decoded group by group, each group in its layer's
`phases` checkerboard passes (one count for every layer, or one per layer), so the index at
(layer i, group g, phase p) is predicted from

  * every index decoded before its (layer, group) stream: all groups of the layers above and
    the groups before g of layer i (cross-group context, as ELIC's channel groups): a 1x1 conv
    of their one-hots, and
  * the indices of its own stream decoded in earlier phases (one-hots through a 5x5 conv).

Both stems add into one integer accumulator, so the exact form (prior.ExactPrior's integer
arithmetic, lookup-table probabilities and self-check) carries over unchanged. At coding time
the stems are computed as sums of integer table rows, one per index (m times fewer operations
than convs of one-hots, and exact); training keeps the convs, whose backward is faster. Each layer's
stream holds its G groups one after the other, so a file still truncates by layer.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .prior import (
    ACT_MAX,
    ACT_SCALE,
    EXACT_F32,
    LOGIT_SCALE,
    PHASE_COUNTS,
    SHIFT,
    ExactPrior,
    QConv,
    _round_ste,
    exp_table,
    export_integer_convs,
    import_integer_convs,
    phase_map,
    quant_act,
)


def phases_per_layer(phases: int | list[int], num_layers: int) -> list[int]:
    """The phase count of each layer, from a model config's one count or list of them. Layer 1
    carries most of the rate, so more phases there buy the most per decoding pass."""
    per = [phases] * num_layers if isinstance(phases, int) else [int(p) for p in phases]
    if len(per) != num_layers or any(p not in PHASE_COUNTS for p in per):
        raise ValueError(f"prior phases must be 1, 2 or 4, or a list of one per layer "
                         f"({num_layers}), not {phases!r}")
    return per


def step_map(groups: int, h: int, w: int, phases: int, device=None) -> torch.Tensor:
    """(G, h, w): decoding step g * phases + phase of every index of one layer."""
    pm = phase_map(h, w, phases, device)
    return torch.arange(groups, device=device).view(-1, 1, 1) * phases + pm


def _one_hot(codes: torch.Tensor, m: int) -> torch.Tensor:
    """(B, s, h, w) long -> (B, s * m, h, w) float one-hots."""
    b, s, h, w = codes.shape
    return F.one_hot(codes, m).permute(0, 1, 4, 2, 3).reshape(b, s * m, h, w).float()


def own_input(hot: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """A stream's one-hots (B, m, h, w) at the `known` positions (h, w), plus the known plane."""
    kn = known.expand(hot.shape[0], *known.shape[-2:]).unsqueeze(1).float()
    return torch.cat([hot * kn, kn], 1)


def stream_inputs(codes: torch.Tensor, s: int, known: torch.Tensor, m: int):
    """Training inputs of stream s = i * G + g: one-hots of streams < s (or None), and
    own_input of stream s."""
    hot = _one_hot(codes.flatten(1, 2)[:, :s + 1], m)  # (B, (s + 1) * m, h, w), stream order
    return (hot[:, :s * m] if s else None), own_input(hot[:, s * m:], known)


class QStem(nn.Module):
    """1x1 conv of the context above + 5x5 conv of the stream's own known codes, fake-quantized
    with one weight step per output channel (they add into one integer accumulator)."""

    def __init__(self, above_ch: int, cur_ch: int, width: int):
        super().__init__()
        self.above = nn.Parameter(torch.randn(width, above_ch, 1, 1) * above_ch**-0.5) \
            if above_ch else None
        self.cur = nn.Parameter(torch.randn(width, cur_ch, 5, 5) * (25 * cur_ch) ** -0.5)
        self.bias = nn.Parameter(torch.zeros(width))

    def step(self) -> torch.Tensor:
        w = self.cur.detach().abs().flatten(1).amax(1)
        if self.above is not None:
            w = torch.maximum(w, self.above.detach().abs().flatten(1).amax(1))
        return w.clamp_min(1e-8) / 127

    def context(self, above) -> torch.Tensor | None:
        """The 1x1 conv of the context above: the same in every phase, so computed once."""
        if above is None:
            return None
        s = self.step().view(-1, 1, 1, 1)
        return F.conv2d(above, _round_ste(self.above / s) * s)

    def forward(self, above, cur, context: torch.Tensor | None = None) -> torch.Tensor:
        s = self.step().view(-1, 1, 1, 1)
        y = F.conv2d(cur, _round_ste(self.cur / s) * s, self.bias, padding=2)
        context = self.context(above) if context is None else context
        return y if context is None else y + context


class StreamPrior(nn.Module):
    """Context network of one (layer, group) stream -> logits (B, m, h, w)."""

    def __init__(self, above_ch: int, m: int, width: int, blocks: int):
        super().__init__()
        self.stem = QStem(above_ch, m + 1, width)
        self.blocks = nn.ModuleList(
            nn.ModuleList([QConv(width, width, 3, padding=1), QConv(width, width, 3, padding=1)])
            for _ in range(blocks))
        self.mix = QConv(width, width, 1)
        self.head = QConv(width, m, 1)

    def forward(self, above, cur, context: torch.Tensor | None = None) -> torch.Tensor:
        a = quant_act(self.stem(above, cur, context))
        for c1, c2 in self.blocks:
            a = quant_act(a + c2(quant_act(c1(a))))
        logits = self.head(quant_act(self.mix(a)))
        return _round_ste(logits / LOGIT_SCALE) * LOGIT_SCALE


class GroupPrior(nn.Module):
    """One StreamPrior per (layer, group), trained on codes (B, n, G, h, w)."""

    def __init__(self, m: int, num_layers: int, groups: int, width: int = 32, blocks: int = 1,
                 phases: int | list[int] = 2):
        super().__init__()
        self.m, self.n, self.g = m, num_layers, groups
        self.phases = phases_per_layer(phases, num_layers)
        self.nets = nn.ModuleList(StreamPrior(s * m, m, width, blocks)
                                  for s in range(num_layers * groups))

    def forward(self, codes: torch.Tensor):
        return self.loss(codes)

    def loss(self, codes: torch.Tensor) -> tuple[torch.Tensor, list[float]]:
        """Mean bits per index, and bits per index of each layer (mean over its groups)."""
        b, n, g, h, w = codes.shape
        maps = {p: phase_map(h, w, p, codes.device) for p in set(self.phases)}
        flat = codes.flatten(1, 2)
        per_layer = [0.0] * n
        total = codes.new_zeros((), dtype=torch.float32)
        hot = _one_hot(flat, self.m)  # every stream's one-hots, once
        for s in range(n * g):
            pm = maps[self.phases[s // g]]
            nll = torch.zeros(b, h, w, device=codes.device)
            context = self.nets[s].stem.context(hot[:, :s * self.m] if s else None)
            for p in range(self.phases[s // g]):
                cur = own_input(hot[:, s * self.m:(s + 1) * self.m], pm < p)
                logits = self.nets[s](None, cur, context)
                ce = F.cross_entropy(logits, flat[:, s], reduction="none")
                nll = torch.where(pm == p, ce, nll)
            bits = nll.mean() / math.log(2)
            per_layer[s // g] += float(bits.detach()) / g
            total = total + bits
        return total / (n * g), per_layer

    def export(self) -> dict[str, torch.Tensor]:
        """Integer tensors for GroupExactPrior, named for safetensors."""
        out: dict[str, torch.Tensor] = {}
        for s, net in enumerate(self.nets):
            st = net.stem
            s_w = st.step()
            out[f"l{s}.stem_c.w"] = (st.cur.detach() / s_w.view(-1, 1, 1, 1)).round().to(torch.int8)
            if st.above is not None:
                out[f"l{s}.stem_a.w"] = (st.above.detach() / s_w.view(-1, 1, 1, 1)).round().to(
                    torch.int8)
            out[f"l{s}.stem.mult"] = (s_w / ACT_SCALE * (1 << SHIFT)).double().round().long()
            out[f"l{s}.stem.bias"] = (st.bias.detach().double() / ACT_SCALE * (1 << SHIFT)).round().long()
            out.update(export_integer_convs(net, f"l{s}."))
        out["exp_table"] = exp_table()
        return out

    @torch.no_grad()
    def load_integer(self, t: dict[str, torch.Tensor]) -> None:
        """Start from a shipped integer prior (export's tensors): float weights that are the
        integers times their steps, so training continues where the shipped prior stopped."""
        for s, net in enumerate(self.nets):
            st = net.stem
            s_w = t[f"l{s}.stem.mult"].double() * ACT_SCALE / (1 << SHIFT)
            st.cur.copy_(t[f"l{s}.stem_c.w"].double() * s_w.view(-1, 1, 1, 1))
            if st.above is not None:
                st.above.copy_(t[f"l{s}.stem_a.w"].double() * s_w.view(-1, 1, 1, 1))
            st.bias.copy_(t[f"l{s}.stem.bias"].double() * ACT_SCALE / (1 << SHIFT))
            import_integer_convs(net, t, f"l{s}.")


class GroupExactPrior(ExactPrior):
    """The integer form of GroupPrior: the same arithmetic as ExactPrior, streams for layers.
    `phases` is the list of each layer's phase count (phases_per_layer)."""

    def __init__(self, tensors: dict[str, torch.Tensor], m: int, num_layers: int, groups: int,
                 blocks: int, phases: int | list[int], device: str | torch.device = "cpu"):
        super().__init__(tensors, m, num_layers, blocks, 1, device)
        self.g, self.phases = groups, phases_per_layer(phases, num_layers)
        self._above_kept: tuple | None = None  # ((stream, f64), its codes above, row sums)

    def layer_steps(self, layer: int) -> int:
        return self.g * self.phases[layer]

    def step_map(self, h: int, w: int, layer: int = 0) -> torch.Tensor:
        return step_map(self.g, h, w, self.phases[layer])

    def _table(self, s: int) -> torch.Tensor:
        """Stream s's stem as one lookup table: a row per (earlier stream, word) -- the 1x1 conv
        of the one-hots above -- then a row per (5x5 offset, word) of its own known codes (the
        word's weight plus the known plane's), then a zero row for unknown or padded neighbours.
        Entries are integers summing below 2**24 (checked): exact in float32 in any order."""
        p = f"l{s}."
        key = (p + "table", self.force_f64)
        if key not in self._consts_cache:
            wc = self.t[p + "stem_c.w"].long()  # (C, m + 1, 5, 5)
            cur = (wc[:, :self.m] + wc[:, self.m:]).permute(2, 3, 1, 0).reshape(25 * self.m, -1)
            parts = [cur, torch.zeros(1, wc.shape[0], dtype=torch.long, device=wc.device)]
            bound = int(wc.abs().flatten(1).sum(1).max()) * 2
            if s:
                wa = self.t[p + "stem_a.w"].long()
                parts.insert(0, wa.flatten(1).t())
                bound += int(wa.abs().flatten(1).sum(1).max())
            exact32 = bound < EXACT_F32 and not self.force_f64
            table = torch.cat(parts).to(torch.float32 if exact32 else torch.float64)
            self._consts_cache[key] = table.contiguous()
        return self._consts_cache[key]

    def _own_rows(self, codes: torch.Tensor, s: int, known: torch.Tensor) -> torch.Tensor:
        """(B*h*w, 25) table rows of each position's known 5x5 neighbours in stream s."""
        b, h, w = codes.shape[0], *codes.shape[-2:]
        zero = s * self.m + 25 * self.m
        own = torch.full((b, h + 4, w + 4), zero, dtype=torch.long, device=codes.device)
        own[:, 2:-2, 2:-2] = torch.where(known, codes.flatten(1, 2)[:, s], zero)
        offs = []
        for dy in range(5):
            for dx in range(5):
                v = own[:, dy:dy + h, dx:dx + w]
                base = s * self.m + (dy * 5 + dx) * self.m
                offs.append(torch.where(v == zero, v, v + base))
        return torch.stack(offs, -1).reshape(b * h * w, 25)

    def _above_acc(self, codes: torch.Tensor, s: int) -> torch.Tensor:
        """(B*h*w, C) sums of the table rows of the streams before s. They do not change while
        stream s is decoded, so the last one is kept and reused while the streams above are
        the same (checked: an equality test costs s compares per position, the sum s * C
        adds); measured, about 10 % off the coder's search of a Kodak image on g48-c5.
        Splitting the sum is exact: every partial sum of a position's rows is an integer
        below the table's bound (see _table)."""
        above = codes.flatten(1, 2)[:, :s]
        kept, key = self._above_kept, (s, self.force_f64)
        if kept is not None and kept[0] == key and torch.equal(kept[1], above):
            return kept[2]
        rows = above + torch.arange(s, device=codes.device).view(1, -1, 1, 1) * self.m
        acc = F.embedding_bag(rows.permute(0, 2, 3, 1).reshape(-1, s), self._table(s), mode="sum")
        self._above_kept = (key, above.clone(), acc)
        return acc

    def stem_acc(self, codes: torch.Tensor, s: int, known: torch.Tensor) -> torch.Tensor:
        """Integer accumulator (B, C, h, w) of stream s's stem, before rescaling."""
        b, h, w = codes.shape[0], *codes.shape[-2:]
        acc = F.embedding_bag(self._own_rows(codes, s, known), self._table(s), mode="sum")
        if s:
            acc = acc + self._above_acc(codes, s)
        return acc.view(b, h, w, -1).permute(0, 3, 1, 2)

    def _stem(self, codes: torch.Tensor, s: int, known: torch.Tensor) -> torch.Tensor:
        p = f"l{s}."
        mult = self.t[p + "stem.mult"].view(1, -1, 1, 1).double()
        bias = (self.t[p + "stem.bias"] + (1 << (SHIFT - 1))).view(1, -1, 1, 1).double()
        v = self.stem_acc(codes, s, known).double().mul_(mult).add_(bias)
        return v.mul_(1.0 / (1 << SHIFT)).floor_().clamp_(0, ACT_MAX).float()

    def step_probs(self, codes: torch.Tensor, layer: int, step: int) -> torch.Tensor:
        """Probabilities (B, N_step, m) of the indices of `step` of `layer` (codes (B, n, G, h, w))."""
        g, p = divmod(step, self.phases[layer])
        s = layer * self.g + g
        h, w = codes.shape[-2:]
        pm = phase_map(h, w, self.phases[layer], self.device)
        a = self._stem(codes.to(self.device), s, pm < p)
        lg = self._trunk(a, f"l{s}.").permute(0, 2, 3, 1)
        return self.probs(lg[:, pm == p])

    def fingerprint(self) -> str:
        """Hash of the integer probabilities of every step on a fixed input."""
        rng = np.random.default_rng(1234)
        codes = torch.from_numpy(rng.integers(0, self.m, size=(2, self.n, self.g, 13, 11)))
        h = hashlib.sha256()
        for i in range(self.n):
            for t in range(self.layer_steps(i)):
                h.update(self.step_probs(codes, i, t).cpu().numpy().astype("<i8").tobytes())
        return h.hexdigest()


def prior_shapes(config: dict) -> dict[str, tuple | None]:
    """Names and shapes of GroupExactPrior's tensors, from a model config."""
    m, n, g, p = config["codebook_size"], config["num_layers"], config["groups"], config["prior"]
    w = p["width"]
    out: dict[str, tuple | None] = {"exp_table": None}
    for s in range(n * g):
        convs = {"stem_c": (w, m + 1, 5, 5), "mix": (w, w, 1, 1), "head": (m, w, 1, 1)}
        if s:
            convs["stem_a"] = (w, s * m, 1, 1)
        for j in range(p["blocks"]):
            convs[f"b{j}a"] = convs[f"b{j}b"] = (w, w, 3, 3)
        for name, shape in convs.items():
            out[f"l{s}.{name}.w"] = shape
            if not name.startswith("stem"):
                out[f"l{s}.{name}.mult"] = out[f"l{s}.{name}.bias"] = (shape[0],)
        out[f"l{s}.stem.mult"] = out[f"l{s}.stem.bias"] = (w,)
    return out

