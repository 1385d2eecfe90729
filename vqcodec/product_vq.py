"""Product HR-VQ: G HR-VQ trees over channel groups, with an entropy-constrained codeword choice.

One HR-VQ tree (quantizer.py) gives log2(m) bits per layer per position, and its per-path
codebooks grow as m^(i-1), so depth is capped at a few layers. Splitting the latent's D channels
into G groups of d = D / G and giving each group its own tree (product quantization) multiplies
the bits per position by G while every tree keeps the paper's structure::

    z (B, G*d, h, w) -> per group g:  k_1 = argmin_k cost(xi_0, C_1[g][k])
                                      k_i = argmin_k cost(xi_{i-1}, C_i[g][path][k])
    codes (B, n, G, h, w); decoder input: the sum over layers of the words, groups side by side

Entropy-constrained VQ (Chou, Lookabaugh & Gray 1989; NVTC's ECVQ): the choice is

    cost(r, c_k) = |r - c_k|^2 / s_g + lam * bits(k | path)

with bits from a light entropy model learned jointly (one table of logits per codebook: the
distribution of the word given the path above, i.e. given the codebook) and s_g a running mean
of the group's latent energy, so lam means the same at training and encode time.

With `weighted` (config "search_weight": "decoder"), 1 / s_g becomes w_g / mean_g(w_g s_g),
where w_g is the decoder's sensitivity to group g (image squared error per unit of latent
squared error, probed by `probe_sensitivity`): the rate goes where the picture needs it, not
in equal shares of each group's own energy. Measured on photo-v4-c2 (encode-time only, 4 Kodak
images): +1.5 dB at 0.56 bpp, +4 dB at 0.1 bpp against the per-group normalisation. lam = 0 is the
nearest-word search. Training draws lam per sample, so one model serves a range of rates and lam
is an encode-time rate knob beside the layer count; the decoder never needs lam or the tables.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .quantizer import DEAD_USAGE, USAGE_DECAY, restart_words

SCALE_DECAY = 0.99


class ProductHRVQ(nn.Module):
    """G HR-VQ trees (m words per codebook, n layers) over channel groups of a (B, D, h, w) latent."""

    def __init__(self, dim: int, groups: int, codebook_size: int, num_layers: int,
                 beta: float = 0.25, usage_decay: float = USAGE_DECAY,
                 dead_usage: float = DEAD_USAGE, weighted: bool = False,
                 lowfreq_weight: float = 0.0):
        super().__init__()
        if dim % groups:
            raise ValueError(f"latent_dim {dim} is not a multiple of groups {groups}")
        self.dim, self.g, self.d = dim, groups, dim // groups
        self.m, self.n, self.beta = codebook_size, num_layers, beta
        self.usage_decay, self.dead_usage = usage_decay, dead_usage
        m, g = codebook_size, groups
        # Layer i: (G, m^i codebooks, m words, d); deeper layers quantize smaller residuals.
        self.codebooks = nn.ParameterList(
            nn.Parameter(torch.randn(g, m**i, m, self.d) * (0.5 / 2**i)) for i in range(num_layers))
        self.rate_logits = nn.ParameterList(
            nn.Parameter(torch.zeros(g, m**i, m)) for i in range(num_layers))
        self.register_buffer("scale", torch.ones(g))  # running mean |xi_0|^2 per group vector
        self.weighted = weighted
        if weighted:  # decoder sensitivity per group; 0 = not probed yet (the first probe sets it)
            self.register_buffer("sens", torch.zeros(g))
        # Low-frequency emphasis (config "lowfreq_weight", kappa): a group's weight in the search
        # is sens * (1 + kappa * lowfreq), lowfreq being the share of its response in the image's
        # block means (probed with sens). Why: block-mean errors are alike over whole regions
        # (smooth areas pick the same words), which per-position MSE weights do not see and
        # MS-SSIM's coarse scales do: photo-v5-g48-c11's error in 32x32 means was 5-20x WebP's at
        # the same bytes on Kodak. Only models with kappa > 0 have the buffer.
        self.lowfreq_weight = float(lowfreq_weight) if weighted else 0.0
        if self.lowfreq_weight > 0:
            self.register_buffer("lowfreq", torch.zeros(g))
        for i in range(num_layers):
            self.register_buffer(f"usage_{i}", torch.zeros(g, m**i * m), persistent=False)
        self._last: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        self.last_bits: list[float] = []
        self.zero_masks: list[torch.Tensor] = []  # set by hold_zero_words (training only)

    def usage(self, i: int) -> torch.Tensor:
        return getattr(self, f"usage_{i}")

    # -- shapes ---------------------------------------------------------------------------------
    def _flatten(self, z: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int, int]]:
        """(B, G*d, h, w) -> (B*h*w, G, d)."""
        b, _, h, w = z.shape
        return z.permute(0, 2, 3, 1).reshape(-1, self.g, self.d), (b, h, w)

    def _unflatten(self, v: torch.Tensor, shape: tuple[int, int, int]) -> torch.Tensor:
        b, h, w = shape
        return v.reshape(b, h, w, self.dim).permute(0, 3, 1, 2)

    @staticmethod
    def _codes(ks: list[torch.Tensor], shape: tuple[int, int, int]) -> torch.Tensor:
        b, h, w = shape  # list of (N, G) -> (B, n, G, h, w)
        return torch.stack(ks, 1).reshape(b, h, w, len(ks), -1).permute(0, 3, 4, 1, 2)

    # -- choice -----------------------------------------------------------------------------------
    def distortion(self, r: torch.Tensor, path: torch.Tensor,
                   i: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The search's weighted squared error (N, G, m) of every word of layer i's codebook on
        each vector's path (up to |r|^2, the same for all its words), and those (N, G, m, d)
        words. Also the distortion term of vqcodec.rdo's search under the coding prior."""
        gi = torch.arange(self.g, device=r.device)
        words = self.codebooks[i][gi, path]  # (N, G, m, d): each vector's own codebook
        # |r - c|^2 as |c|^2 - 2 r.c (+ |r|^2, the same for every word): a batched matrix
        # product instead of an (N, G, m, d) difference tensor.
        dot = torch.matmul(words, r.unsqueeze(-1)).squeeze(-1)  # (N, G, m)
        return (words.pow(2).sum(-1) - 2 * dot) / self.search_scale().view(1, -1, 1), words

    def descend(self, r: torch.Tensor, path: torch.Tensor, k: torch.Tensor,
                words: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The residual (N, G, d) and codebook path (N, G) after choosing words k (N, G)."""
        r = r - words.gather(2, k[..., None, None].expand(-1, -1, 1, self.d)).squeeze(2)
        return r, path * self.m + k

    def _choose(self, r: torch.Tensor, path: torch.Tensor, i: int, lam) -> tuple[torch.Tensor, ...]:
        """Word index (N, G) by distortion (+ lam * bits), and the (N, G, m, d) words looked at."""
        cost, words = self.distortion(r, path, i)
        if lam is not None and (not isinstance(lam, float) or lam > 0):
            gi = torch.arange(self.g, device=r.device)
            bits = -F.log_softmax(self.rate_logits[i][gi, path], -1) / math.log(2)
            lam_t = lam.view(-1, 1, 1) if torch.is_tensor(lam) else lam
            cost = cost + lam_t * bits
        return cost.argmin(-1), words

    @torch.no_grad()
    def search_scale(self) -> torch.Tensor:
        """The divisor of each group's squared error in the search (see the module's doc)."""
        if not self.weighted or not bool((self.sens > 0).all()):
            return self.scale
        w = self.sens if self.lowfreq_weight == 0 else self.sens * (1 + self.lowfreq_weight * self.lowfreq)
        return (self.sens * self.scale).mean() / w  # lam keeps its meaning: plain sens here

    @torch.no_grad()
    def probe_sensitivity(self, decode, z: torch.Tensor, decay: float = 0.8,
                          rel: float = 0.1, block: int = 0) -> torch.Tensor:
        """Update `sens` from the response of `decode` (latent -> image, best in float32) to a
        small noise in each group of z (B, D, h, w), one pass over B * G copies; returns this
        probe's estimate. With `block` (the latent's stride in pixels) and a `lowfreq` buffer,
        also the share of each group's response in the means of block x block cells."""
        b, g, d = z.shape[0], self.g, self.d
        noise = torch.randn(g, *z.shape, device=z.device)
        mask = torch.zeros(g, 1, self.dim, 1, 1, device=z.device)
        for j in range(g):
            mask[j, :, j * d:(j + 1) * d] = 1.0
        std = (self.scale / d).sqrt().repeat_interleave(d).view(1, 1, -1, 1, 1)
        noise = noise * mask * std * rel
        y0 = decode(z.float())
        y = decode((z.float()[None] + noise).reshape(g * b, *z.shape[1:]))
        diff = y - y0.repeat(g, *[1] * (y0.dim() - 1))
        err = diff.reshape(g, -1).pow(2).sum(1)
        est = err / noise.pow(2).flatten(1).sum(1).clamp_min(1e-20)
        keep = decay if bool((self.sens > 0).all()) else 0.0  # the first probe sets them
        if self.lowfreq_weight > 0 and block > 1 and diff.dim() == 4:
            means = F.avg_pool2d(diff, block).reshape(g, -1).pow(2).sum(1) * block**2
            self.lowfreq.mul_(keep).add_(means / err.clamp_min(1e-20), alpha=1 - keep)
        self.sens.mul_(keep).add_(est, alpha=1 - keep)
        return est

    def search(self, z: torch.Tensor, num_layers: int | None = None,
               lam: float | torch.Tensor = 0.0) -> torch.Tensor:
        """Indices (B, n, G, h, w), layer by layer, under distortion + lam * bits."""
        n = self.n if num_layers is None else num_layers
        r, shape = self._flatten(z)
        lam = self._per_vector(lam, shape)
        path = torch.zeros(r.shape[:2], dtype=torch.long, device=z.device)
        ks = []
        for i in range(n):
            k, words = self._choose(r, path, i, lam)
            r, path = self.descend(r, path, k, words)
            ks.append(k)
        return self._codes(ks, shape)

    @staticmethod
    def _per_vector(lam, shape: tuple[int, int, int]):
        """A per-sample lam (B,) becomes one per latent vector (B*h*w,)."""
        if torch.is_tensor(lam) and lam.ndim == 1:
            b, h, w = shape
            return lam.repeat_interleave(h * w)
        return float(lam) if not torch.is_tensor(lam) else lam

    def lookup(self, codes: torch.Tensor) -> torch.Tensor:
        """Per-layer words (B, k, D, h, w) for indices (B, k, G, h, w), k <= n."""
        b, k, g, h, w = codes.shape
        flat = codes.permute(0, 3, 4, 1, 2).reshape(-1, k, g).long()  # (N, k, G)
        gi = torch.arange(g, device=codes.device)
        path = torch.zeros(flat.shape[0], g, dtype=torch.long, device=codes.device)
        out = []
        for i in range(k):
            out.append(self.codebooks[i][gi, path, flat[:, i]])  # (N, G, d)
            path = path * self.m + flat[:, i]
        e = torch.stack(out, 1).reshape(b, h, w, k, self.dim)
        return e.permute(0, 3, 4, 1, 2)

    def decode_codes(self, codes: torch.Tensor) -> torch.Tensor:
        """The decoder's input: the sum of the stored layers' words, (B, D, h, w)."""
        b, _, _, h, w = codes.shape
        if codes.shape[1] == 0:
            return self.codebooks[0].new_zeros(b, self.dim, h, w)
        return self.lookup(codes).sum(1)

    @torch.no_grad()
    def light_bits(self, codes: torch.Tensor) -> torch.Tensor:
        """Bits (B,) of codes (B, k, G, h, w) under the light entropy model (tables per codebook)."""
        b, k, g, h, w = codes.shape
        flat = codes.permute(0, 3, 4, 1, 2).reshape(b, -1, k, g).long()  # (B, h*w, k, G)
        gi = torch.arange(g, device=codes.device)
        path = torch.zeros(b, h * w, g, dtype=torch.long, device=codes.device)
        total = torch.zeros(b, device=codes.device)
        for i in range(k):
            logp = F.log_softmax(self.rate_logits[i][gi, path], -1)  # (B, hw, G, m)
            total -= logp.gather(-1, flat[:, :, i, :, None]).sum((1, 2, 3)) / math.log(2)
            path = path * self.m + flat[:, :, i]
        return total

    # -- training -------------------------------------------------------------------------------
    def forward(self, z: torch.Tensor, keep: torch.Tensor | None = None,
                lam: torch.Tensor | None = None, codes: torch.Tensor | None = None):
        """Quantize for training: (z_q with a straight-through gradient, loss, codes).

        The loss holds the paper's VQ and commitment terms per layer, the commitment of the sum
        and the light entropy model's cross-entropy (bits) on the words chosen; `lam` (B,) is each
        sample's rate weight, `keep` (B,) how many layers its decoder sees. `codes` (B, n, G, h,
        w), when given, are the words instead of the light search's choice (code_search
        "prior": the coder's own choice, vqcodec.rdo)."""
        r, shape = self._flatten(z)
        if self.training:
            with torch.no_grad():
                e0 = r.detach().pow(2).sum(-1).mean(0)  # (G,)
                self.scale.mul_(SCALE_DECAY).add_(e0, alpha=1 - SCALE_DECAY)
        lam_v = None if lam is None else self._per_vector(lam.to(z.device), shape)
        mask_keep = None if keep is None else self._per_vector(keep.to(z.device).float(), shape)
        gi = torch.arange(self.g, device=z.device)
        path = torch.zeros(r.shape[:2], dtype=torch.long, device=z.device)
        e_sum, loss, ks, bits_log = torch.zeros_like(r), z.new_zeros(()), [], []
        for i in range(self.n):
            if codes is None:
                with torch.no_grad():
                    k, _ = self._choose(r.detach(), path, i, lam_v)
            else:
                k = codes[:, i].permute(0, 2, 3, 1).reshape(-1, self.g).to(z.device)
            e = self.codebooks[i][gi, path, k]  # (N, G, d), differentiable w.r.t. the codebook
            loss = loss + self.beta * (r - e.detach()).pow(2).mean() + (e - r.detach()).pow(2).mean()
            logits = self.rate_logits[i][gi, path]  # (N, G, m)
            ce = F.cross_entropy(logits.reshape(-1, self.m), k.reshape(-1)) / math.log(2)
            loss = loss + ce
            bits_log.append(float(ce.detach()))
            if self.training:
                self._track(i, path * self.m + k, r.detach(), path)
            mask = 1.0 if mask_keep is None else (mask_keep > i).float().view(-1, 1, 1)
            e_sum = e_sum + e * mask
            r = r - e.detach()
            path = path * self.m + k
            ks.append(k)
        self.last_bits = bits_log
        z_flat = self._flatten(z)[0]
        loss = loss + self.beta * (z_flat - e_sum.detach()).pow(2).mean()
        z_q = z_flat + (e_sum - z_flat).detach()
        return self._unflatten(z_q, shape), loss, self._codes(ks, shape)

    @torch.no_grad()
    def _track(self, i: int, leaf: torch.Tensor, residual: torch.Tensor, path: torch.Tensor) -> None:
        u = self.usage(i)
        counts = torch.zeros_like(u).scatter_add_(1, leaf.t(), torch.ones_like(leaf.t(), dtype=u.dtype))
        u.mul_(self.usage_decay).add_(counts, alpha=1 - self.usage_decay)
        self._last[i] = (residual, path)

    @torch.no_grad()
    def hold_zero_words(self) -> None:
        """Give every codebook a word held at exactly zero ("code nothing more here"), for
        training (train config "zero_words"). A codebook with no zero word yet gets its
        smallest one zeroed; the masks are found from the data, so a resumed run finds the same
        words. The decoder needs nothing: a zero word is an ordinary word of the codebook.

        Why: with only learned words (the smallest ~0.3-0.5 of the median norm in
        photo-v5-c1), a deep layer at a high lam must still add a word, and the cheapest one
        can add error (Kodak: layer 3 below layer 2 in PSNR at lam 0.3); with a zero word the
        rate search can skip a residual, as a block codec zeroes a coefficient."""
        self.zero_masks = []
        for cb in self.codebooks:
            zero = cb.data.abs().amax(-1) == 0  # (G, books, m)
            smallest = cb.data.norm(dim=-1).argmin(-1, keepdim=True)
            none = ~zero.any(-1, keepdim=True)
            zero |= torch.zeros_like(zero).scatter_(-1, smallest, True) & none
            self.zero_masks.append(zero)
        self.enforce_zero_words()

    @torch.no_grad()
    def enforce_zero_words(self) -> None:
        """Put the held words back at zero (after an optimizer step has moved them)."""
        for cb, zero in zip(self.codebooks, self.zero_masks, strict=True):
            cb.data[zero] = 0.0

    @torch.no_grad()
    def mark_used(self) -> None:
        """Count every word as used (usage is not stored with the weights; see HRVQ.mark_used)."""
        for i in range(self.n):
            self.usage(i).fill_(1.0)

    @torch.no_grad()
    def revive_dead(self, threshold: float | None = None) -> list[int]:
        """Restart dead words on residuals routed to their codebook in the last batch."""
        threshold = self.dead_usage if threshold is None else threshold
        revived = []
        for i in range(self.n):
            if i not in self._last:
                revived.append(0)
                continue
            residual, path = self._last[i]  # (N, G, d), (N, G)
            cb = self.codebooks[i].data.view(-1, self.m, self.d)  # (G * books, m, d)
            books = self.m**i
            book = (torch.arange(self.g, device=path.device) * books + path).reshape(-1)
            res = residual.reshape(-1, self.d)
            dead = self.usage(i).view(-1, self.m) < threshold
            if self.zero_masks:  # a word held at zero is never restarted
                dead &= ~self.zero_masks[i].view(-1, self.m)
            bi, wi = restart_words(cb, dead, book, res)
            if len(bi):
                self.usage(i).view(-1, self.m)[bi, wi] = 1.0
                self.rate_logits[i].data.view(-1, self.m)[bi, wi] = 0.0
            revived.append(len(bi))
        return revived

    @torch.no_grad()
    def stats(self) -> list[dict]:
        """Per layer: mean over groups of the leaves' perplexity, and dead words in all groups."""
        out = []
        for i in range(self.n):
            u = self.usage(i)
            p = u / u.sum(1, keepdim=True).clamp_min(1e-9)
            ppl = (-(p * p.clamp_min(1e-12).log()).sum(1)).exp().mean()
            out.append({"perplexity": float(ppl), "dead": int((u < self.dead_usage).sum()),
                        "codewords": u.numel()})
        return out

    def search_cost(self) -> tuple[int, int]:
        return self.n * self.m, self.m**self.n

    def bits_per_index(self) -> float:
        return math.log2(self.m)


@torch.no_grad()
def split_groups(state: dict[str, torch.Tensor], factor: int,
                 prefix: str = "quantizer.") -> dict[str, torch.Tensor]:
    """A product HR-VQ state with each group of d dims split into `factor` groups of d/factor.

    New group g*f + j takes the j-th slice of group g's words, in the codebook of the same path
    index, and group g's entropy tables: where the f sub-groups pick the same index the split
    quantizer reproduces the old one exactly, and each layer's nearest slice is at least as near,
    so the split model starts where its parent stopped, with f times the bits per position."""
    out = dict(state)
    for key, t in state.items():
        if not key.startswith(prefix):
            continue
        name = key[len(prefix):]
        if name.startswith("codebooks."):  # (G, books, m, d) -> (G*f, books, m, d/f)
            g, books, m, d = t.shape
            if d % factor:
                raise ValueError(f"groups of {d} dims do not split by {factor}")
            t = t.reshape(g, books, m, factor, d // factor).permute(0, 3, 1, 2, 4)
            out[key] = t.reshape(g * factor, books, m, d // factor).contiguous()
        elif name.startswith("rate_logits."):  # (G, books, m) -> (G*f, books, m)
            out[key] = t.repeat_interleave(factor, 0).contiguous()
        elif name == "scale":  # the running energy per group vector, shared by its slices
            out[key] = (t / factor).repeat_interleave(factor, 0)
    return out
