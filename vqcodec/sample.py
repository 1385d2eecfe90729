"""New images from a model: drawn by its sampling prior when it has one, else by the
checkerboard coding prior.

::

    sampling prior (sampler.py, optional beside the model): raster order, layer by layer,
        class-conditional where it was trained with labels
    checkerboard prior (prior.py, in every model):
        for layer 1..n:  for phase 0..P-1:  k ~ Prior(k | layers above, earlier phases)
    image = Decoder(sum of the sampled codewords)

The integer prior gives the same probabilities everywhere and the draws come from NumPy's
PCG64, so `seed` makes a sample repeatable on any machine; the float sampling prior repeats a
seed on the same machine and thread count (sampler.py says why).
"""

from __future__ import annotations

import time

import numpy as np
import torch

from .models import LoadedModel
from .sampler import class_index, load_sampler

PRIORS = ("auto", "sampler", "checkerboard")


def _restrict(pr: np.ndarray, top_k: int | None) -> np.ndarray:
    """Probabilities (..., m) with all but the top_k of each row set to zero."""
    if top_k is None or top_k >= pr.shape[-1]:
        return pr
    kth = np.sort(pr, -1)[..., -top_k][..., None]
    return np.where(pr >= kth, pr, 0.0)


@torch.no_grad()
def sample_codes_checkerboard(model: LoadedModel, count: int, h: int, w: int, seed: int = 0,
                              temperature: float = 1.0, top_k: int | None = None
                              ) -> torch.Tensor:
    """Codes (count, n, [G,] h, w) drawn phase by phase from the integer coding prior."""
    codec, ex = model.codec, model.codec.exact
    rng = np.random.default_rng(seed)
    codes = torch.zeros(count, codec.num_layers, codec.groups or 1, h, w, dtype=torch.long)
    for i in range(codec.num_layers):
        sm = ex.step_map(h, w, i)
        for p in range(ex.layer_steps(i)):
            pr = ex.step_probs(codes, i, p).cpu().numpy().astype(np.float64)
            if temperature != 1.0:
                pr = pr ** (1.0 / temperature)
            pr = _restrict(pr, top_k)
            cdf = np.cumsum(pr / pr.sum(-1, keepdims=True), -1)
            u = rng.random(cdf.shape[:-1] + (1,))
            k = np.minimum((u > cdf).sum(-1), codec.m - 1)
            for b in range(count):
                codes[b, i][sm == p] = torch.from_numpy(k[b])
    return codes if codec.groups else codes[:, :, 0]


@torch.no_grad()
def decode(model: LoadedModel, codes: torch.Tensor, height: int, width: int) -> np.ndarray:
    """Images (N, height, width, 3) uint8 from codes (N, n, [G,] h, w)."""
    codec = model.codec
    dev = next(codec.decoder.parameters()).device
    y = codec.decoder(codec.quantizer.decode_codes(codes.to(dev)))[:, :, :height, :width]
    return (y.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def sample_images(model: LoadedModel, count: int, height: int, width: int, seed: int = 0,
                  temperature: float = 1.0, top_k: int | None = None) -> np.ndarray:
    """Draw `count` images (count, height, width, 3) uint8 from the model's checkerboard prior."""
    h, w = model.codec.latent_shape(height, width)
    codes = sample_codes_checkerboard(model, count, h, w, seed, temperature, top_k)
    return decode(model, codes, height, width)


def sample(model: LoadedModel, count: int, seed: int = 0, temperature: float = 1.0,
           top_k: int | None = None, classes=None, size: int | None = None,
           prior: str = "auto") -> tuple[np.ndarray, dict]:
    """Draw `count` images with the sampling prior when the model has one (prior "auto"), or
    the one asked for ("sampler", "checkerboard"). Returns the images (N, H, W, C) uint8 and
    what drew them: {"prior", "classes" (names or None), "size", "seconds"}.

    classes: a class name or number for every sample, or one per sample (sampling prior
    only); None draws without a class. size: the checkerboard prior's side in pixels (default
    128); the sampling prior draws the size it was trained on."""
    if prior not in PRIORS:
        raise ValueError(f"unknown prior {prior!r} (auto, sampler or checkerboard)")
    if top_k is not None and top_k < 1:
        raise ValueError(f"--top-k must be 1 or more, not {top_k}")
    found = None if prior == "checkerboard" else load_sampler(model)
    t = time.perf_counter()
    if found is None:
        if prior == "sampler":
            raise ValueError(f"model {model.name} has no sampling prior (sampler.json): train "
                             "one with `vqcodec train-sampler`")
        if classes is not None and prior == "checkerboard":
            raise ValueError("--class is for the sampling prior: the checkerboard coding prior "
                             "has no classes")
        if classes is not None:
            raise ValueError(f"--class needs a sampling prior; model {model.name} has none "
                             "(train one with `vqcodec train-sampler`)")
        side = size or 128
        imgs = sample_images(model, count, side, side, seed, temperature, top_k)
        return imgs, {"prior": "checkerboard", "classes": None, "size": [side, side],
                      "seconds": round(time.perf_counter() - t, 3)}
    sampler, meta = found
    img = meta.get("image", {})
    hw = [int(img.get("height", 0)), int(img.get("width", 0))]
    if size is not None and [size, size] != hw:
        raise ValueError(f"the sampling prior of {model.name} draws {hw[1]}x{hw[0]} images; "
                         "drop --size (or use --prior checkerboard)")
    many = isinstance(classes, (list, tuple))
    ids = [class_index(sampler, c) for c in (classes if many else [classes])]
    if many and len(ids) != count:
        raise ValueError(f"{len(ids)} classes for {count} samples")
    codes = sampler.sample_codes(count, seed, temperature, top_k,
                                 None if ids == [None] else [-1 if i is None else i for i in ids])
    imgs = decode(model, codes, *hw)
    if int(img.get("channels", 3)) == 1:
        imgs = imgs.mean(-1, keepdims=True).round().astype(np.uint8)
    names = None if ids == [None] else [None if i is None else sampler.classes[i] for i in ids]
    return imgs, {"prior": "sampler", "classes": names, "size": hw,
                  "seconds": round(time.perf_counter() - t, 3)}


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
