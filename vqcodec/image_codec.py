"""Image compression: uint8 images <-> .vqc bytes (tiles -> segments, and back).

::

    uint8 image --tiles of TILE px (big images)--> pad to stride--> Encoder --> HR-VQ codes
       (n, h, w) --segments: per layer, per phase: integer prior probabilities--> rANS stream
       --> one container segment per tile, raster order --> .vqc (container)
    .vqc --> streams --> rANS + the same probabilities, phase by phase --> codes
       --> sum of codewords --> Decoder --> crop --> tiles --> uint8 image

Images (and tiles) of one padded size share network passes, and the bytes and pixels are the
same as coding each alone. The audio codec beside it is vqcodec.audio_codec; the facade that
picks one by a file's modality, and finds the model a file names, is vqcodec.api.
"""

from __future__ import annotations

import numpy as np
import torch

from . import container, limits, media
from .errors import reraise_as
from .models import LoadedModel, default_layers
from .rdo import search_rd, search_rd_groups
from .segments import CodecError, check_layers_arg, check_model, decode_streams, encode_streams

# Pixels per network pass: bounds activation memory (about 1.5 GB at 4 MP for the small model).
BATCH_PIXELS = 4 << 20
# Images larger than this on either side are coded as independent tiles (segments of the
# file), so no network pass ever holds a whole-image activation map of a huge photo.
TILE = limits.TILE


def check_image(img: np.ndarray) -> np.ndarray:
    """The image as (H, W, 1|3) uint8 (a 2-D one gets a channel axis); CodecError otherwise."""
    if img.ndim == 2:
        img = img[:, :, None]
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] not in (1, 3):
        raise CodecError(f"expected a uint8 image (H, W, 1|3), got {img.dtype} {img.shape}")
    return img


def _images_to_tensor(imgs: list[np.ndarray], stride: int, device) -> torch.Tensor:
    """Stack images of one padded size into (B, 3, H, W) floats in [0, 1]."""
    arrs = []
    for img in imgs:
        if img.shape[2] == 1:
            img = np.repeat(img, 3, axis=2)  # the model is RGB; grey comes back grey on decode
        arrs.append(media.pad_to_multiple(img, stride))
    x = torch.from_numpy(np.stack(arrs)).permute(0, 3, 1, 2).contiguous()  # plain NCHW kernels
    return x.to(device).float() / 255


def _tensor_to_image(y: torch.Tensor, geo: container.ImageGeometry) -> np.ndarray:
    y = y[:, : geo.height, : geo.width].clamp(0, 1)
    if geo.channels == 1:
        y = y.mean(0, keepdim=True)
    return (y * 255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()


def _groups(keys: list, budget: int, sizes: list[int]) -> list[list[int]]:
    """Indices grouped by key, each group at most `budget` pixels (but at least one item)."""
    by_key: dict = {}
    for i, k in enumerate(keys):
        by_key.setdefault(k, []).append(i)
    out = []
    for idx in by_key.values():
        cur, tot = [], 0
        for i in idx:
            if cur and tot + sizes[i] > budget:
                out.append(cur)
                cur, tot = [], 0
            cur.append(i)
            tot += sizes[i]
        out.append(cur)
    return out


def tile_grid(height: int, width: int, tile: int) -> list[tuple[int, int, int, int]]:
    """(y, x, h, w) of each tile in raster order; one tile when tile == 0."""
    if tile == 0:
        return [(0, 0, height, width)]
    return [(y, x, min(tile, height - y), min(tile, width - x))
            for y in range(0, height, tile) for x in range(0, width, tile)]


def _run(net: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """net(x), one item at a time on the CPU: its convolution kernels block by batch size, so a
    batch can round differently from one item alone, and a folder job must write the same bytes
    and pixels as single calls. GPUs keep the batch (that is where batching pays)."""
    if x.device.type != "cpu" or len(x) == 1:
        return net(x)
    return torch.cat([net(x[b:b + 1]) for b in range(len(x))])


# -- encoding ------------------------------------------------------------------------------------
def _rdo(model: LoadedModel, rdo: float | None) -> float:
    """The encoder's rate-distortion weight: given, else the model's tuned one (config "rdo")."""
    lam = float(model.codec.config.get("rdo", 0.0)) if rdo is None else float(rdo)
    if not lam >= 0:
        raise CodecError(f"rdo must be 0 or more, not {rdo}")
    return lam


def _choose(codec, z: torch.Tensor, lam: float, n: int, probs: dict | None = None) -> torch.Tensor:
    """Indices of the first n layers: the nearest words, or the rate-distortion choice under
    the bits of the coding prior (vqcodec.rdo). A product HR-VQ's own search with its light
    tables, which training uses, spends 15-25 % more bits at the same PSNR (measured on
    held-out photos, training/photo-v4/README.md)."""
    if lam == 0:
        return codec.quantizer.search(z, n)
    if codec.groups:
        return search_rd_groups(codec, z, lam, n, probs)
    return search_rd(codec, z, lam, n)


@torch.no_grad()
def encode_codes(img: np.ndarray, model: LoadedModel, rdo: float | None = None) -> torch.Tensor:
    """HR-VQ indices (1, n, h, w) of an image, chosen as compress() chooses them."""
    codec = model.codec
    dev = next(codec.encoder.parameters()).device
    x = _images_to_tensor([check_image(img)], codec.stride, dev)
    return _choose(codec, codec.encoder(x), _rdo(model, rdo), codec.num_layers).cpu()


@torch.no_grad()
def _encode_arrays(arrs: list[np.ndarray], model: LoadedModel, n: int,
                   batch_pixels: int, rdo: float) -> list[container.Segment]:
    """One segment (latent grid, a stream per layer, index hashes) per array; arrays of one
    padded size share network passes."""
    codec = model.codec
    keys = [codec.latent_shape(*a.shape[:2]) for a in arrs]
    dev = next(codec.encoder.parameters()).device
    out: list = [None] * len(arrs)
    for grp in _groups(keys, batch_pixels, [a.shape[0] * a.shape[1] for a in arrs]):
        x = _images_to_tensor([arrs[i] for i in grp], codec.stride, dev)
        probs: dict = {}  # the search's prior probabilities, reused by the coder
        codes = _choose(codec, _run(codec.encoder, x), rdo, n, probs).cpu()
        for j, seg in zip(grp, encode_streams(codes, codec, n, probs), strict=True):
            out[j] = seg
    return out


def compress(img: np.ndarray, model: LoadedModel, layers: int | None = None,
             rdo: float | None = None) -> bytes:
    """Compress a uint8 image (H, W, C) with C in {1, 3}; returns the bytes of a .vqc file.

    Args:
        layers: store only the first `layers` HR-VQ layers (smaller file, coarser image);
            default: the model's config "default_layers", else all.
        rdo: lam of the rate-distortion optimised codeword choice (vqcodec.rdo): 0 picks the
            nearest words; default: the model's tuned value (its config's "rdo", else 0).
    """
    return compress_many([img], model, layers, rdo=rdo)[0]


def compress_many(imgs: list[np.ndarray], model: LoadedModel, layers: int | None = None,
                  batch_pixels: int | None = None, tile: int = TILE,
                  rdo: float | None = None) -> list[bytes]:
    """Compress several images; those (and tiles) of one padded size share network passes.

    The bytes of each file are identical to compressing it alone (the prior is exact and
    batch-invariant; the encoder is a per-image computation). Images larger than `tile` on a
    side are split into tiles coded independently."""
    codec = model.codec
    if codec.modality != "image":
        raise CodecError(f"model {model.name!r} is an {codec.modality} model; this input is an "
                         "image (pass an image model with --model)")
    n = default_layers(model) if layers is None else layers
    if not 1 <= n <= codec.num_layers:
        raise CodecError(f"--layers must be between 1 and {codec.num_layers}, not {n}")
    if tile % codec.stride:
        raise ValueError(f"tile size {tile} is not a multiple of the stride {codec.stride}")
    if not limits.MIN_TILE <= tile <= limits.TILE:  # what every decoder accepts (limits.py)
        raise ValueError(f"tile size {tile} outside {limits.MIN_TILE}..{limits.TILE}")
    imgs = [check_image(im) for im in imgs]
    sizes = [tile if max(im.shape[:2]) > tile else 0 for im in imgs]
    parts, owner = [], []
    for k, (im, t) in enumerate(zip(imgs, sizes, strict=True)):
        for y, x, h, w in tile_grid(im.shape[0], im.shape[1], t):
            parts.append(im[y:y + h, x:x + w])
            owner.append(k)
    if batch_pixels is None:  # the CPU gains nothing from batching; memory grows with the batch
        on_cpu = next(codec.encoder.parameters()).device.type == "cpu"
        batch_pixels = limits.CPU_BATCH_PIXELS if on_cpu else BATCH_PIXELS
    segs = _encode_arrays(parts, model, n, batch_pixels, _rdo(model, rdo))
    out = []
    for k, im in enumerate(imgs):
        f = container.VQCFile(
            modality="image", model_name=model.name, model_id=model.model_id,
            num_layers_model=codec.num_layers, codebook_size=codec.m,
            geometry=container.ImageGeometry(width=im.shape[1], height=im.shape[0],
                                             channels=im.shape[2]),
            segment_size=sizes[k],
            segments=[sg for sg, o in zip(segs, owner, strict=True) if o == k])
        out.append(container.pack(f))
    return out


# -- decoding ------------------------------------------------------------------------------------
def parse(data: bytes, model: LoadedModel | None) -> container.VQCFile:
    """Unpack an image file and check it against the model (modality, identity, latent geometry;
    only that it is an image when model is None) and the resource budget (vqcodec.limits)
    before anything is allocated for decoding."""
    with reraise_as(CodecError, container.ContainerError):
        f = container.unpack(data)
    if f.modality != "image":
        raise CodecError(f"this is an {f.modality} file, not an image (use decompress_audio)")
    if model is not None:
        check_model(f, model)
        codec, geo = model.codec, f.geometry
        with reraise_as(CodecError, limits.LimitError):
            limits.check_pixels(geo.width, geo.height, "the image")
            limits.check_tiling(geo.width, geo.height, f.segment_size, codec.stride)
        grid = tile_grid(geo.height, geo.width, f.segment_size)
        if len(grid) != len(f.segments):
            raise CodecError(f"the file has {len(f.segments)} tiles, its image size needs "
                             f"{len(grid)}")
        for seg, (_, _, h, w) in zip(f.segments, grid, strict=True):
            if seg.latent_shape != codec.latent_shape(h, w):
                raise CodecError("latent grid does not match the image size for this model")
    return f


def decompress(data: bytes, model: LoadedModel, layers: int | None = None) -> np.ndarray:
    """Decompress .vqc bytes made by `model` to a uint8 image (H, W, C).

    Args:
        layers: decode only the first `layers` stored layers.
    """
    check_layers_arg(layers)
    # One tile per network pass on the CPU (as compress_many): less memory, and a file whose
    # streams cannot back its tiles fails at its first tile instead of its first four.
    on_cpu = next(model.codec.decoder.parameters()).device.type == "cpu"
    return decompress_many([data], model, layers,
                           limits.CPU_BATCH_PIXELS if on_cpu else BATCH_PIXELS)[0]


@torch.no_grad()
def decompress_many(datas: list[bytes], model: LoadedModel, layers: int | None = None,
                    batch_pixels: int = BATCH_PIXELS) -> list[np.ndarray]:
    """Decompress several files made by `model`; tiles of one latent size and layer count share
    network passes. Raises CodecError for the first bad file (callers wanting per-file errors
    call it per file)."""
    codec = model.codec
    files = [parse(d, model) for d in datas]
    jobs = []  # (file index, segment, tile box, layers to decode)
    for j, f in enumerate(files):
        k = f.num_layers if layers is None else min(layers, f.num_layers)
        grid = tile_grid(f.geometry.height, f.geometry.width, f.segment_size)
        jobs += [(j, seg, box, k) for seg, box in zip(f.segments, grid, strict=True)]
    outs = [np.zeros((f.geometry.height, f.geometry.width, f.geometry.channels), np.uint8)
            for f in files]
    keys = [(seg.latent_shape, k) for _, seg, _, k in jobs]
    dev = next(codec.decoder.parameters()).device
    for grp in _groups(keys, batch_pixels, [box[2] * box[3] for _, _, box, _ in jobs]):
        codes = decode_streams([jobs[g][1] for g in grp], codec, keys[grp[0]][1])
        y = _run(codec.decoder, codec.quantizer.decode_codes(codes.to(dev)))
        for b, g in enumerate(grp):
            j, _, (ty, tx, th, tw), _ = jobs[g]
            geo = container.ImageGeometry(width=tw, height=th, channels=files[j].geometry.channels)
            outs[j][ty:ty + th, tx:tx + tw] = _tensor_to_image(y[b], geo)
    return outs
