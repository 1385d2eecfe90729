"""The library API: compress and decompress arrays, bytes and files. The CLI is a shell over this.

::

    uint8 image --pad to stride--> Encoder --> HR-VQ codes (n, h, w)
       --> per layer, per phase: integer prior probabilities --> rANS stream --> .vqc (container)
    .vqc --> streams --> rANS + the same probabilities, phase by phase --> codes
       --> sum of codewords --> Decoder --> crop --> uint8 image
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
import torch

from . import batch, container, limits, media
from .audio_codec import compress_audio_file, decompress_audio_file
from .devices import resolve_device  # noqa: F401 (re-exported: api.resolve_device)
from .errors import reraise_as
from .files import atomic_write_bytes, check_output
from .models import LoadedModel, ModelError, list_models, load_model, model_id
from .rdo import search_rd
from .segments import (  # re-exported: the codecs' shared names live in segments
    CodecError,
    check_layers_arg,
    check_model,
    decode_streams,
    encode_streams,
)


def _check_image(img: np.ndarray) -> np.ndarray:
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


# Pixels per network pass: bounds activation memory (about 1.5 GB at 4 MP for the small model).
BATCH_PIXELS = 4 << 20


@torch.no_grad()
def encode_codes(img: np.ndarray, model: LoadedModel, rdo: float | None = None) -> torch.Tensor:
    """HR-VQ indices (1, n, h, w) of an image, chosen as compress() chooses them."""
    codec = model.codec
    dev = next(codec.encoder.parameters()).device
    x = _images_to_tensor([_check_image(img)], codec.stride, dev)
    return _choose(codec, codec.encoder(x), _rdo(model, rdo), codec.num_layers).cpu()


def _rdo(model: LoadedModel, rdo: float | None) -> float:
    """The encoder's rate-distortion weight: given, else the model's tuned one (config "rdo")."""
    lam = float(model.codec.config.get("rdo", 0.0)) if rdo is None else float(rdo)
    if not lam >= 0:
        raise CodecError(f"rdo must be 0 or more, not {rdo}")
    return lam


def _choose(codec, z: torch.Tensor, lam: float, n: int) -> torch.Tensor:
    """Indices of the first n layers: the nearest words, or the rate-distortion choice (a
    product HR-VQ's own entropy-constrained search, else vqcodec.rdo under the coding prior)."""
    if codec.groups:
        return codec.quantizer.search(z, n, lam)
    return search_rd(codec, z, lam, n) if lam > 0 else codec.quantizer.search(z, n)


def compress(img: np.ndarray, model: LoadedModel, layers: int | None = None,
             rdo: float | None = None) -> bytes:
    """Compress a uint8 image (H, W, C) with C in {1, 3}; returns the bytes of a .vqc file.

    Args:
        layers: store only the first `layers` HR-VQ layers (smaller file, coarser image).
        rdo: lam of the rate-distortion optimised codeword choice (vqcodec.rdo): 0 picks the
            nearest words; default: the model's tuned value (its config's "rdo", else 0).
    """
    return compress_many([img], model, layers, rdo=rdo)[0]


# Images larger than this on either side are coded as independent tiles (segments of the
# file), so no network pass ever holds a whole-image activation map of a huge photo.
TILE = limits.TILE


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
        codes = _choose(codec, _run(codec.encoder, x), rdo, n).cpu()
        for j, seg in zip(grp, encode_streams(codes, codec, n), strict=True):
            out[j] = seg
    return out


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
    n = codec.num_layers if layers is None else layers
    if not 1 <= n <= codec.num_layers:
        raise CodecError(f"--layers must be between 1 and {codec.num_layers}, not {n}")
    if tile % codec.stride:
        raise ValueError(f"tile size {tile} is not a multiple of the stride {codec.stride}")
    if not limits.MIN_TILE <= tile <= limits.TILE:  # what every decoder accepts (limits.py)
        raise ValueError(f"tile size {tile} outside {limits.MIN_TILE}..{limits.TILE}")
    imgs = [_check_image(im) for im in imgs]
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


def _find_model_for(f: container.VQCFile, device: str) -> LoadedModel:
    """The shipped model whose identity the file (or its header) records."""
    # The model the file names first: identifying a model hashes its weights (megabytes).
    for info_ in sorted(list_models(), key=lambda m: m["name"] != f.model_name):
        p = Path(info_["path"])
        try:
            if model_id(p) == f.model_id:
                return load_model(p, device)
        except OSError:
            continue
    raise CodecError(f"this file needs model {f.model_name!r} (id {f.model_id.hex()}), which is "
                     "not installed; pass it with --model")


def _header(data: bytes) -> container.VQCFile:
    """The header of .vqc bytes (or of a prefix of them), without reading the payload."""
    with reraise_as(CodecError, container.ContainerError):
        return container.read_header(data)


def _read_header(path: Path) -> container.VQCFile:
    """The header of a .vqc file, however large the format lets it be (many chunks or tiles)."""
    with open(path, "rb") as fh, reraise_as(CodecError, container.ContainerError):
        return container.read_header_file(fh)


def _parse(data: bytes, model: LoadedModel | None) -> container.VQCFile:
    """Unpack and check a file against the model (modality, identity, latent geometry) and the
    resource budget (vqcodec.limits) before anything is allocated for decoding."""
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


def decompress(data: bytes, model: LoadedModel | None = None, layers: int | None = None,
               device: str = "cpu") -> np.ndarray:
    """Decompress .vqc bytes to a uint8 image (H, W, C).

    Args:
        model: the model that made the file; found among the shipped models when None.
        layers: decode only the first `layers` stored layers.
    """
    check_layers_arg(layers)
    if model is None:
        model = _find_model_for(_parse(data, None), resolve_device(device))
    # One tile per network pass on the CPU (as compress_many): less memory, and a file whose
    # streams cannot back its tiles fails at its first tile instead of its first four.
    on_cpu = next(model.codec.decoder.parameters()).device.type == "cpu"
    return decompress_many([data], model, layers,
                           limits.CPU_BATCH_PIXELS if on_cpu else BATCH_PIXELS)[0]


def check_vqc_input(src: Path) -> None:
    """CodecError unless src is an existing regular file (not a device such as /dev/zero, a
    FIFO, a folder, a broken link or a symlink loop), with the reason in one line."""
    try:
        media.check_regular_file(Path(src), "a .vqc file")
    except media.MediaError as e:
        raise CodecError(str(e)) from None


@torch.no_grad()
def decompress_many(datas: list[bytes], model: LoadedModel, layers: int | None = None,
                    batch_pixels: int = BATCH_PIXELS) -> list[np.ndarray]:
    """Decompress several files made by `model`; tiles of one latent size and layer count share
    network passes. Raises CodecError for the first bad file (callers wanting per-file errors
    call it per file)."""
    codec = model.codec
    files = [_parse(d, model) for d in datas]
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


def info(data: bytes) -> dict:
    """Header facts of .vqc bytes: model, geometry, layers, bytes per layer, bits per pixel."""
    with reraise_as(CodecError, container.ContainerError):
        f, per_layer = container.inspect(data)  # fully verified; no object per segment
    out = {"modality": f.modality, "model": f.model_name, "model_id": f.model_id.hex(),
           "format_version": container.FORMAT_VERSION, "layers_stored": f.num_layers,
           "layers_model": f.num_layers_model, "codebook_size": f.codebook_size,
           "bytes": len(data), "payload_bytes_per_layer": per_layer,
           "latent_shape": list(f.segments[0].latent_shape)}
    g = f.geometry
    if isinstance(g, container.ImageGeometry):
        out.update(width=g.width, height=g.height, channels=g.channels,
                   bpp=round(8 * len(data) / (g.width * g.height), 4))
    else:
        dur = g.num_samples / g.sample_rate
        out.update(sample_rate=g.sample_rate, channels=g.channels, num_samples=g.num_samples,
                   seconds=round(dur, 3), kbps=round(8 * len(data) / max(dur, 1e-9) / 1000, 3))
    return out


# -- files ---------------------------------------------------------------------------------------
def _model(model: str | Path | LoadedModel | None, device: str, modality: str) -> LoadedModel:
    if isinstance(model, LoadedModel):
        return model
    return load_model(model, resolve_device(device), modality)


def compress_file(src: Path, dst: Path, model: str | Path | LoadedModel | None = None,
                  layers: int | None = None, force: bool = False, device: str = "auto",
                  progress=None) -> dict:
    """Compress an image or audio file (by extension) to a .vqc file, written atomically.
    Returns info() of the result. progress(seconds done, seconds total): audio only."""
    src, dst = Path(src), Path(dst)
    check_output(src, dst, force)
    if media.modality_of(src) == "audio":
        return info(compress_audio_file(src, dst, _model(model, device, "audio"), layers,
                                        progress))
    img = media.load_image(src)
    data = compress(img, _model(model, device, "image"), layers)
    atomic_write_bytes(dst, data)
    return info(data)


def decompress_file(src: Path, dst: Path, model: str | Path | LoadedModel | None = None,
                    layers: int | None = None, force: bool = False, device: str = "auto",
                    progress=None) -> dict:
    """Decompress a .vqc file to an image or audio file whose format follows dst's extension."""
    src, dst = Path(src), Path(dst)
    check_vqc_input(src)
    check_layers_arg(layers)
    check_output(src, dst, force)
    head = _read_header(src)
    if head.modality == "audio":
        return _decompress_audio_file(src, dst, model, layers, device, progress)
    if media.modality_of(dst) != "image":
        raise CodecError(f"unsupported output format {dst.suffix!r} "
                         f"(use one of {', '.join(sorted(media.IMAGE_EXTS))})")
    media.check_image_target(dst, head.geometry.width, head.geometry.height)  # before decoding
    data = src.read_bytes()
    dev = resolve_device(device)
    lm = None
    if model is not None:
        lm = model if isinstance(model, LoadedModel) else load_model(model, dev)
    img = decompress(data, lm, layers, dev)
    media.save_image(img, dst)
    return info(data)


def _decompress_audio_file(src: Path, dst: Path, model, layers: int | None, device: str,
                           progress) -> dict:
    if media.modality_of(dst) != "audio":
        raise CodecError(f"this is an audio file: the output must end in one of "
                         f"{', '.join(sorted(media.AUDIO_EXTS))}, not {dst.suffix or '(none)'!r}")
    data = src.read_bytes()
    lm = (_model(model, device, "audio") if model is not None
          else _find_model_for(_header(data), resolve_device(device)))
    decompress_audio_file(data, dst, lm, layers, progress)
    return info(data)


# -- folders -------------------------------------------------------------------------------------
def _image_group_key(codec):
    def key(it) -> tuple:
        from PIL import Image

        with Image.open(it.src) as im:  # header only: cheap
            w, h = im.size
        return codec.latent_shape(h, w)
    return key


def folder_job(src_root: Path, dst_root: Path, compressing: bool,
               model: str | Path | LoadedModel | None = None, layers: int | None = None,
               force: bool = False, shard: str | None = None, batch_size: int | None = None,
               device: str = "auto", progress=None):
    """Compress (or decompress) every file of a folder tree into a mirrored tree.

    Outputs that are already complete are skipped (resume), each failure is recorded with its
    reason and never stops the run, files of one size share network passes, and `shard`
    ("i/N", or RANK/WORLD_SIZE from the environment) picks a deterministic subset.

    Args:
        batch_size: files per network pass; default 8 on a GPU and 1 on the CPU, where
            batching was measured to be slower (the prior's passes become memory-bound).
        progress: optional (total) -> callback(FileResult), for a progress display.

    Returns:
        batch.Summary (its exit_code is 1 if any file failed).
    """
    t0 = time.time()
    check_layers_arg(layers)
    if batch_size is not None and batch_size < 1:
        raise CodecError(f"--batch-size must be 1 or more, not {batch_size}")
    items, done_already, ignored = batch.plan(src_root, dst_root, compressing, force, shard)
    dev = resolve_device(device)
    if batch_size is None:
        batch_size = 8 if dev.startswith("cuda") else 1
    models: dict[bytes, LoadedModel] = {}

    def get_model(head: container.VQCFile | None = None, modality: str = "image") -> LoadedModel:
        """The given model, else the shipped one a file's header names, else the default of
        the modality (each loaded once)."""
        if isinstance(model, LoadedModel):
            return model
        key = (b"given" if model is not None else head.model_id if head is not None
               else modality.encode())
        if key not in models:
            models[key] = (_find_model_for(head, dev) if model is None and head is not None
                           else load_model(model, dev, modality))
        return models[key]

    def compress_chunk(chunk):
        res: list = [None] * len(chunk)
        imgs = []
        for i, it in enumerate(chunk):
            if media.modality_of(it.src) == "audio":  # one file at a time, chunk by chunk
                res[i] = (len(compress_audio_file(it.src, it.dst, get_model(None, "audio"),
                                                  layers)), None)
                continue
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", media.MediaWarning)
                    imgs.append((i, media.load_image(it.src)))
            except media.MediaError as e:
                res[i] = (0, str(e))
        datas = compress_many([im for _, im in imgs], get_model(), layers) if imgs else []
        for (i, _), data in zip(imgs, datas, strict=True):
            atomic_write_bytes(chunk[i].dst, data)
            res[i] = (len(data), None)
        return res

    def decompress_chunk(chunk):
        datas = [it.src.read_bytes() for it in chunk]
        head = _header(datas[0])
        if head.modality == "audio":  # alone in its group (see key)
            decompress_audio_file(datas[0], chunk[0].dst, get_model(head, "audio"), layers)
            return [(chunk[0].dst.stat().st_size, None)]
        outs = decompress_many(datas, get_model(head), layers)
        res = []
        for it, img in zip(chunk, outs, strict=True):
            media.save_image(img, it.dst)
            res.append((it.dst.stat().st_size, None))
        return res

    if compressing:
        if model is not None and items:
            get_model()  # a bad --model fails the job at once, not file by file

        def key(it):
            if media.modality_of(it.src) == "audio":
                return ("audio", it.rel)  # audio files are coded one by one
            return _image_group_key(get_model().codec)(it)
    else:
        def key(it):
            head = _read_header(it.src)
            if head.modality == "audio":
                return ("audio", it.rel)
            return (head.model_id, head.segments[0].latent_shape, head.num_layers)
    cb = progress(len(items)) if progress else None
    results = batch.run(items, compress_chunk if compressing else decompress_chunk, key,
                        batch_size, cb)
    index, count = batch.parse_shard(shard)
    return batch.summarize(done_already + results, ignored, time.time() - t0, (index, count))


__all__ = ["CodecError", "ModelError", "resolve_device", "compress", "compress_many", "decompress",
           "decompress_many", "compress_file", "decompress_file", "info", "encode_codes",
           "folder_job"]
