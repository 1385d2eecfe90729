"""Ancestral sampling from the prior: new images drawn layer by layer, phase by phase.

::

    for layer 1..n:  for phase 0..P-1:  k ~ Prior(k | layers above, earlier phases)
    image = Decoder(sum of the sampled codewords)

The integer prior gives the same probabilities everywhere and the draws come from NumPy's
PCG64, so `seed` makes a sample repeatable on any machine.
"""

from __future__ import annotations

import numpy as np
import torch

from .models import LoadedModel


@torch.no_grad()
def sample_images(model: LoadedModel, count: int, height: int, width: int, seed: int = 0,
                  temperature: float = 1.0) -> np.ndarray:
    """Draw `count` images (count, height, width, 3) uint8 from the model's prior."""
    codec, ex = model.codec, model.codec.exact
    h, w = codec.latent_shape(height, width)
    rng = np.random.default_rng(seed)
    sm = ex.step_map(h, w)
    codes = torch.zeros(count, codec.num_layers, sm.shape[0], h, w, dtype=torch.long)
    for i in range(codec.num_layers):
        for p in range(ex.steps):
            pr = ex.step_probs(codes, i, p).cpu().numpy().astype(np.float64)
            if temperature != 1.0:
                pr = pr ** (1.0 / temperature)
            cdf = np.cumsum(pr / pr.sum(-1, keepdims=True), -1)
            u = rng.random(cdf.shape[:-1] + (1,))
            k = np.minimum((u > cdf).sum(-1), codec.m - 1)
            for b in range(count):
                codes[b, i][sm == p] = torch.from_numpy(k[b])
    dev = next(codec.decoder.parameters()).device
    codes = codes if codec.groups else codes[:, :, 0]
    y = codec.decoder(codec.quantizer.decode_codes(codes.to(dev)))[:, :, :height, :width]
    return (y.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def grid(images: np.ndarray, cols: int | None = None, pad: int = 2) -> np.ndarray:
    """Tile (N, H, W, C) images into one (rows*H, cols*W, C) picture with white gutters."""
    n, h, w, c = images.shape
    cols = cols or int(np.ceil(np.sqrt(n)))
    rows = -(-n // cols)
    out = np.full((rows * (h + pad) - pad, cols * (w + pad) - pad, c), 255, np.uint8)
    for k in range(n):
        r, q = divmod(k, cols)
        out[r * (h + pad):r * (h + pad) + h, q * (w + pad):q * (w + pad) + w] = images[k]
    return out
