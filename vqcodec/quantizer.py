"""HR-VQ: the hierarchical residual vector quantizer of HR-VQVAE.

Adiban, Siniscalchi, Salvi, "Hierarchical Residual Learning Based Vector Quantized
Variational Autoencoder for Image Reconstruction and Generation", BMVC 2022.

::

    xi_0 = E(x)
    layer 1:  k_1 = argmin_k |xi_0 - C_1[k]|          one codebook of m words
    layer 2:  k_2 = argmin_k |xi_1 - C_2[k_1][k]|     m codebooks; k_1 picks one
    layer i:  k_i = argmin_k |xi_{i-1} - C_i[path][k]| m^(i-1) codebooks; the path k_1..k_{i-1} picks one
              xi_i = xi_{i-1} - e_i
    decoder input e_C = e_1 + ... + e_n

The search costs n*m distances per position instead of m^n for a flat codebook of the same
number of leaves. Codebooks are learned by the paper's loss (Eq. 5-6: a VQ term pulling each
codeword to its residual and a commitment term pulling the residual to its codeword), with a
straight-through gradient to the encoder. Dead codewords (no use for a while) are restarted on
residuals that are routed to their codebook, since per-path codebooks deep in the tree see few
vectors and die easily.

`update="ema"` replaces the codebook term of the loss by exponential moving averages of the
residuals assigned to each word (the VQ-VAE-2 / SoundStream recipe); kept as a training option
for the study in training/photo (the shipped models use the loss).
"""

from __future__ import annotations

import math

import torch
from torch import nn

# A codeword whose running usage (EMA of counts per batch) stays below DEAD_USAGE is dead: with
# decay 0.97 that is about 150 batches without a single assignment. Short runs need a shorter
# memory (the tiny preset uses 0.8 / 0.05: about 14 batches).
USAGE_DECAY = 0.97
DEAD_USAGE = 0.01
EMA_DECAY = 0.99  # codeword = EMA(sum of assigned residuals) / EMA(count), for update="ema"


@torch.no_grad()
def restart_words(cb: torch.Tensor, dead: torch.Tensor, book: torch.Tensor,
                  residual: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Restart dead words in place on residuals routed to their codebook.

    cb (books, m, D) the codebooks, dead (books, m) which words are dead, book (N,) the codebook
    each residual (N, D) was routed to. Every dead word of a codebook that received vectors
    becomes one of them (drawn at random) plus 5 % noise; an unused codebook is left alone (its
    parent is unused too). Returns the (book, word) indices restarted."""
    # One random routed residual per codebook: scatter over a shuffled order.
    perm = torch.randperm(len(book), device=book.device)
    pick = torch.full((cb.shape[0],), -1, dtype=torch.long, device=book.device)
    pick.scatter_(0, book[perm], perm)
    books, words = (dead & (pick >= 0).unsqueeze(1)).nonzero(as_tuple=True)
    if len(books):
        src = residual[pick[books]]
        cb[books, words] = src + torch.randn_like(src) * (src.norm(dim=-1, keepdim=True) * 0.05 + 1e-4)
    return books, words


class HRVQ(nn.Module):
    """Hierarchical residual VQ over the channel dimension of a (B, D, *spatial) tensor.

    Args:
        dim: codeword dimension D (the encoder's latent channels).
        codebook_size: m, words per codebook.
        num_layers: n, depth of the hierarchy.
        beta: commitment weight of the paper's loss.
        update: "loss" (the paper's codebook term) or "ema" (moving averages, no codebook term).
        nearest: "gather" (each vector's own codebook, difference by difference: the shipped
            models' codes are this arithmetic's) or "matmul": a layer with one codebook (the
            top one; a flat VQ is HR-VQ with one layer) searched as |c|^2 - 2 r.c, one matrix
            product, for large m (512 words gathered per vector do not fit in memory).
    """

    def __init__(self, dim: int, codebook_size: int, num_layers: int, beta: float = 0.25,
                 usage_decay: float = USAGE_DECAY, dead_usage: float = DEAD_USAGE,
                 update: str = "loss", nearest: str = "gather"):
        super().__init__()
        if update not in ("loss", "ema"):
            raise ValueError(f"codebook update must be 'loss' or 'ema', not {update!r}")
        if nearest not in ("gather", "matmul"):
            raise ValueError(f"nearest must be 'gather' or 'matmul', not {nearest!r}")
        self.nearest = nearest
        self.dim, self.m, self.n, self.beta = dim, codebook_size, num_layers, beta
        self.usage_decay, self.dead_usage, self.update = usage_decay, dead_usage, update
        self._last: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}  # layer -> residuals, paths
        # Layer i (0-based) holds m^i codebooks of m words: shape (m^i, m, D). Deeper layers quantize
        # smaller residuals, so they start smaller.
        self._init_codebooks([(codebook_size**i, codebook_size) for i in range(num_layers)])

    def _init_codebooks(self, shapes: list[tuple[int, int]]) -> None:
        """Layer i gets `books` codebooks of `words` words each, for (books, words) in shapes."""
        self.codebooks = nn.ParameterList(
            nn.Parameter(torch.randn(books, words, self.dim) * (0.5 / (2**i)))
            for i, (books, words) in enumerate(shapes)
        )
        # Running usage per codeword (EMA of assignment counts), for perplexity and dead-code restarts.
        for i, (books, words) in enumerate(shapes):
            # Zero at start: the first revive_dead() then seeds every unused word from real residuals.
            self.register_buffer(f"usage_{i}", torch.zeros(books * words), persistent=False)
            # EMA statistics (update="ema"); a word with zero count keeps its current value.
            self.register_buffer(f"ema_count_{i}", torch.zeros(books * words), persistent=False)
            self.register_buffer(f"ema_sum_{i}", torch.zeros(books * words, self.dim),
                                 persistent=False)

    def _nearest(self, r: torch.Tensor, path: torch.Tensor, i: int) -> torch.Tensor:
        """Index of the nearest word of each vector's own codebook at layer i."""
        if self.nearest == "matmul" and self.codebooks[i].shape[0] == 1:
            cb = self.codebooks[i][0]
            return (cb.pow(2).sum(1) - 2 * r @ cb.t()).argmin(-1)
        words = self.codebooks[i][path]  # (N, m, D): the codebook the path above selects
        return (r.unsqueeze(1) - words).pow(2).sum(-1).argmin(-1)

    def _route(self, path: torch.Tensor, k: torch.Tensor, i: int) -> torch.Tensor:
        """The codebook of layer i+1 for each vector: the path so far, extended by k (the leaf id)."""
        return path * self.m + k

    def usage(self, i: int) -> torch.Tensor:
        return getattr(self, f"usage_{i}")

    # -- search and lookup -------------------------------------------------------------------------
    @staticmethod
    def _flatten(z: torch.Tensor) -> tuple[torch.Tensor, tuple[int, ...]]:
        """(B, D, *S) -> (B*prod(S), D) and the shape to undo it."""
        b, d, *s = z.shape
        return z.movedim(1, -1).reshape(-1, d), (b, *s)

    @staticmethod
    def _unflatten(v: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
        return v.reshape(*shape, v.shape[-1]).movedim(-1, 1)

    def search(self, z: torch.Tensor, num_layers: int | None = None) -> torch.Tensor:
        """Indices (B, n, *S) of the nearest codeword at each layer, residual by residual."""
        n = self.n if num_layers is None else num_layers
        r, shape = self._flatten(z)
        path = torch.zeros(r.shape[0], dtype=torch.long, device=z.device)
        codes = []
        for i in range(n):
            k = self._nearest(r, path, i)
            r = r - self.codebooks[i][path, k]
            path = self._route(path, k, i)
            codes.append(k)
        return torch.stack(codes, 1).reshape(shape[0], *shape[1:], n).movedim(-1, 1)

    def lookup(self, codes: torch.Tensor) -> torch.Tensor:
        """Per-layer codewords (B, k, D, *S) for indices (B, k, *S), k <= n layers."""
        b, k, *s = codes.shape
        flat = codes.movedim(1, -1).reshape(-1, k)
        path = torch.zeros(flat.shape[0], dtype=torch.long, device=codes.device)
        out = []
        for i in range(k):
            out.append(self.codebooks[i][path, flat[:, i].long()])
            path = self._route(path, flat[:, i].long(), i)
        e = torch.stack(out, 1)  # (N, k, D)
        return e.reshape(b, *s, k, self.dim).movedim(-2, 1).movedim(-1, 2)

    def decode_codes(self, codes: torch.Tensor) -> torch.Tensor:
        """e_C: the sum of the codewords of the stored layers, shape (B, D, *S)."""
        return self.lookup(codes).sum(1)

    # -- training forward --------------------------------------------------------------------------
    def forward(self, z: torch.Tensor, keep: torch.Tensor | None = None):
        """Quantize z for training.

        Args:
            z: encoder output (B, D, *S).
            keep: optional (B,) number of layers each sample's decoder sees (random truncation, so
                the first k layers alone decode well); default all n.

        Returns:
            (z_q, loss, codes): z_q with straight-through gradient to z, the quantizer loss of
            Eq. 5-6, and the indices (B, n, *S).
        """
        r, shape = self._flatten(z)
        nvec = r.shape[0]
        path = torch.zeros(nvec, dtype=torch.long, device=z.device)
        per_pos_keep = None
        if keep is not None:
            per_pos = nvec // shape[0]
            per_pos_keep = keep.to(z.device).repeat_interleave(per_pos)
        e_sum = torch.zeros_like(r)
        vq_loss = z.new_zeros(())
        codes = []
        for i in range(self.n):
            cb = self.codebooks[i]
            with torch.no_grad():
                k = self._nearest(r.detach(), path, i)
            if self.training and self.update == "ema":
                self._ema_update(i, path * cb.shape[1] + k, r.detach())
            e = cb[path, k]  # differentiable w.r.t. the codebook
            # Eq. 6: codeword -> residual (codebook update) and residual -> codeword (commitment).
            commit = self.beta * (r - e.detach()).pow(2).mean()
            vq_loss = vq_loss + commit + (0.0 if self.update == "ema" else
                                          (e - r.detach()).pow(2).mean())
            if self.training:
                self._track(i, path * cb.shape[1] + k, r.detach(), path)
            mask = 1.0 if per_pos_keep is None else (per_pos_keep > i).float().unsqueeze(1)
            e_sum = e_sum + e * mask
            r = r - e.detach()
            path = self._route(path, k, i)
            codes.append(k)
        z_flat = self._flatten(z)[0]
        # Eq. 5's commitment of the whole code e_C, then the straight-through estimator.
        vq_loss = vq_loss + self.beta * (z_flat - e_sum.detach()).pow(2).mean()
        z_q = z_flat + (e_sum - z_flat).detach()
        codes_t = torch.stack(codes, 1).reshape(shape[0], *shape[1:], self.n).movedim(-1, 1)
        return self._unflatten(z_q, shape), vq_loss, codes_t

    @torch.no_grad()
    def _track(self, i: int, leaf: torch.Tensor, residual: torch.Tensor, path: torch.Tensor) -> None:
        counts = torch.bincount(leaf, minlength=self.usage(i).numel()).float()
        self.usage(i).mul_(self.usage_decay).add_(counts, alpha=1 - self.usage_decay)
        self._last[i] = (residual, path)

    @torch.no_grad()
    def _ema_update(self, i: int, leaf: torch.Tensor, residual: torch.Tensor) -> None:
        count, total = getattr(self, f"ema_count_{i}"), getattr(self, f"ema_sum_{i}")
        d = EMA_DECAY
        count.mul_(d).add_(torch.bincount(leaf, minlength=count.numel()).float(), alpha=1 - d)
        total.mul_(d).index_add_(0, leaf, residual, alpha=1 - d)
        seen = count > 1e-6
        cb = self.codebooks[i].data.view(-1, self.dim)
        cb[seen] = total[seen] / count[seen].unsqueeze(1)

    @torch.no_grad()
    def mark_used(self) -> None:
        """Count every word as just used. Usage is not stored with the weights, so after loading
        codebooks (fine-tuning, resuming) the counters would read zero and the next revival pass
        would restart every word the first batch happened not to visit: most deep ones."""
        for i in range(self.n):
            self.usage(i).fill_(1.0)

    @torch.no_grad()
    def revive_dead(self, threshold: float | None = None) -> list[int]:
        """Restart dead codewords on residuals routed to their codebook in the last batch.

        A codeword is dead when its running usage falls below `threshold` (an EMA of per-batch
        counts). Only codebooks that received vectors are touched: an unused codebook is unused
        because its parent is, and reviving its words would not help. Returns the count per layer.
        """
        threshold = self.dead_usage if threshold is None else threshold
        revived = []
        for i in range(self.n):
            last = self._last.get(i)
            if last is None:
                revived.append(0)
                continue
            residual, path = last
            cb = self.codebooks[i].data
            dead = self.usage(i).view(cb.shape[0], cb.shape[1]) < threshold  # (books, words)
            books, words = restart_words(cb, dead, path, residual)
            n_dead = len(books)
            if n_dead:
                self.usage(i).view(cb.shape[0], cb.shape[1])[books, words] = 1.0
                leaves = books * cb.shape[1] + words  # the EMA of a restarted word starts afresh
                getattr(self, f"ema_count_{i}")[leaves] = 0.0
                getattr(self, f"ema_sum_{i}")[leaves] = 0.0
            revived.append(n_dead)
        return revived

    @torch.no_grad()
    def stats(self) -> list[dict]:
        """Per-layer perplexity of the leaves (out of m^i codewords) and dead-codeword count."""
        out = []
        for i in range(self.n):
            u = self.usage(i)
            p = u / u.sum().clamp_min(1e-9)
            ent = -(p * p.clamp_min(1e-12).log()).sum()
            out.append({"perplexity": float(ent.exp()), "dead": int((u < self.dead_usage).sum()),
                        "codewords": u.numel()})
        return out

    def search_cost(self) -> tuple[int, int]:
        """Distances per position: hierarchical (n*m) vs a flat codebook of m^n leaves."""
        return self.n * self.m, self.m**self.n

    def bits_per_index(self) -> float:
        return math.log2(self.m)


class ResidualVQ(HRVQ):
    """Plain residual VQ (VQ-VAE-2-like baseline): one shared codebook per layer.

    Layer i quantizes the residual of the layers above with its own single codebook of sizes[i]
    words, whatever was chosen above. With one layer it is the flat VQ of VQ-VAE. Used by
    training/paper/ to test HR-VQVAE's claims against the quantizers it was compared with.
    """

    def __init__(self, dim: int, sizes: list[int], beta: float = 0.25,
                 usage_decay: float = USAGE_DECAY, dead_usage: float = DEAD_USAGE):
        nn.Module.__init__(self)
        self.dim, self.n, self.beta, self.sizes = dim, len(sizes), beta, list(sizes)
        self.m = max(sizes)
        self.usage_decay, self.dead_usage, self.update = usage_decay, dead_usage, "loss"
        self._last = {}
        self._init_codebooks([(1, k) for k in sizes])

    def _nearest(self, r: torch.Tensor, path: torch.Tensor, i: int) -> torch.Tensor:
        # One codebook for all vectors: |r|^2 - 2 r.c + |c|^2 as a matrix product, since gathering
        # a copy of a 512-word codebook per vector (as per-path codebooks need) would not fit.
        cb = self.codebooks[i][0]
        return (cb.pow(2).sum(1) - 2 * r @ cb.t()).argmin(-1)

    def _route(self, path: torch.Tensor, k: torch.Tensor, i: int) -> torch.Tensor:
        return torch.zeros_like(path)  # every vector uses the layer's one codebook

    def search_cost(self) -> tuple[int, int]:
        return sum(self.sizes), sum(self.sizes)

    def bits_per_index(self) -> float:
        return sum(math.log2(k) for k in self.sizes) / self.n
