"""Rate-distortion optimised codeword choice: the encoder picks, at each position and layer, the
word that minimises  |residual - word|^2 + lam * bits(word),  with bits from the very integer
prior that will code it, instead of the nearest word.

The decoder is unchanged (it reads indices, whatever chose them), so the file format is too.
The choice runs in the prior's decoding order: layer by layer and, within a layer, phase by
phase, since a phase's probabilities depend on the words chosen in the phases before it.
lam = 0 gives the nearest-word search of HRVQ.search exactly.
"""

from __future__ import annotations

import torch

from .prior import phase_map


@torch.no_grad()
def search_rd(codec, z: torch.Tensor, lam: float, num_layers: int | None = None) -> torch.Tensor:
    """Indices (B, n, h, w) for latents z (B, D, h, w) under distortion + lam * rate (bits)."""
    q, prior = codec.quantizer, codec.exact
    n = q.n if num_layers is None else num_layers
    b, d, h, w = z.shape
    r = z.movedim(1, -1).reshape(-1, d)  # (B*h*w, D), row = (b, y, x)
    path = torch.zeros(r.shape[0], dtype=torch.long, device=z.device)
    codes = torch.zeros(b, q.n, h, w, dtype=torch.long)
    pm = phase_map(h, w, prior.phases, z.device).reshape(-1).repeat(b)  # phase of each row
    for i in range(n):
        words = q.codebooks[i][path]  # (N, m, D)
        dist = (r.unsqueeze(1) - words).pow(2).sum(-1)  # (N, m)
        k = dist.argmin(-1)
        for p in range(prior.phases):
            rows = pm == p
            if lam > 0:
                pr = prior.phase_probs(codes, i, p).double()  # (B, N_p, m), rows in raster order
                bits = -(pr / pr.sum(-1, keepdim=True)).log2().reshape(-1, q.m)
                cost = dist[rows].double() + lam * bits.to(dist.device)
                k[rows] = cost.argmin(-1).to(k.dtype)
            codes[:, i] = k.view(b, h, w).cpu()
        r = r - words[torch.arange(len(k), device=k.device), k]
        path = q._route(path, k, i)
    return codes[:, :n]


def _phase_rows(h: int, w: int, b: int, phases: int, lam: float | torch.Tensor, device):
    """Each phase's rows of a flattened (b, h, w) grid, and the rate weight of those rows:
    lam, or a tensor (B,) of one lam per sample spread over its rows (lam 0 rows pay 0 *
    (finite) bits)."""
    pm = phase_map(h, w, phases, device).reshape(-1).repeat(b)
    rows = [pm == p for p in range(phases)]
    if not torch.is_tensor(lam):
        return rows, [lam] * phases
    per_row = lam.double().to(device).repeat_interleave(h * w)[:, None]
    return rows, [per_row[r] for r in rows]


@torch.no_grad()
def search_rd_groups(codec, z: torch.Tensor, lam: float | torch.Tensor,
                     num_layers: int | None = None, probs: dict | None = None) -> torch.Tensor:
    """Indices (B, n, G, h, w) of a product HR-VQ for latents z (B, D, h, w) under the cost of
    its own search (ProductHRVQ.distortion + lam * bits, as ProductHRVQ._choose) with the bits of the
    coding prior (vqcodec.group_prior) in its decoding order -- layer, group, phase -- instead of
    the light tables'. lam = 0 is the nearest-word search.

    probs, when given, receives the prior's integer probabilities of every (layer, step) as
    computed here: they are the coder's own (a step sees only the steps before it, chosen by
    then), so encode_streams can code with them instead of running the prior again.

    lam may be a tensor (B,), one per sample: the codes are then those of a search of each sample
    alone at its own lam (the exact prior is batch invariant), in one batched pass."""
    q, prior = codec.quantizer, codec.exact
    n = q.n if num_layers is None else num_layers
    r, (b, h, w) = q._flatten(z)  # (N, G, d), row = (b, y, x)
    path = torch.zeros(r.shape[:2], dtype=torch.long, device=z.device)
    codes = torch.zeros(b, q.n, q.g, h, w, dtype=torch.long)
    rated = bool((lam > 0).any()) if torch.is_tensor(lam) else lam > 0
    for i in range(n):
        phases = prior.phases[i]
        phase_rows, weights = _phase_rows(h, w, b, phases, lam, z.device)
        dist, words = q.distortion(r, path, i)  # (N, G, m), as the light search's
        k = dist.argmin(-1)
        for g in range(q.g):
            for p, rows in enumerate(phase_rows):
                if rated:
                    pr = prior.step_probs(codes, i, g * phases + p)
                    if probs is not None:
                        probs[i, g * phases + p] = pr.cpu().numpy()
                    pr = pr.double()
                    bits = -(pr / pr.sum(-1, keepdim=True)).log2().reshape(-1, q.m)
                    cost = dist[rows, g].double() + weights[p] * bits.to(dist.device)
                    k[rows, g] = cost.argmin(-1).to(k.dtype)
                codes[:, i, g] = k[:, g].view(b, h, w).cpu()
        r, path = q.descend(r, path, k, words)
    return codes[:, :n]
