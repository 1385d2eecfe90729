"""The library API: compress and decompress arrays, bytes and files. The CLI is a shell over this.

::

    uint8 image --pad to stride--> Encoder --> HR-VQ codes (n, h, w)
       --> per layer, per phase: integer prior probabilities --> rANS stream --> .vqc (container)
    .vqc --> streams --> rANS + the same probabilities, phase by phase --> codes
       --> sum of codewords --> Decoder --> crop --> uint8 image
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from . import container, media
from .coding import StreamDecoder, StreamEncoder, StreamError
from .files import atomic_write_bytes, check_output
from .models import LoadedModel, ModelError, list_models, load_model, model_id
from .prior import phase_map


class CodecError(ValueError):
    """Compression or decompression failed; the message is one line for the user."""


def _pick_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def _image_to_tensor(img: np.ndarray, stride: int, device) -> torch.Tensor:
    if img.ndim == 2:
        img = img[:, :, None]
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] not in (1, 3):
        raise CodecError(f"expected a uint8 image (H, W, 1|3), got {img.dtype} {img.shape}")
    if img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)  # the model is RGB; grey comes back grey on decode
    img = media.pad_to_multiple(img, stride)
    return torch.from_numpy(np.array(img, copy=True)).permute(2, 0, 1)[None].float().to(device)


def _tensor_to_image(y: torch.Tensor, geo: container.ImageGeometry) -> np.ndarray:
    y = y[0, :, : geo.height, : geo.width].clamp(0, 1)
    if geo.channels == 1:
        y = y.mean(0, keepdim=True)
    return (y * 255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()


@torch.no_grad()
def encode_codes(img: np.ndarray, model: LoadedModel) -> torch.Tensor:
    """HR-VQ indices (1, n, h, w) of an image."""
    codec = model.codec
    dev = next(codec.encoder.parameters()).device
    x = _image_to_tensor(img, codec.stride, dev) / 255
    return codec.quantizer.search(codec.encoder(x)).cpu()


def compress(img: np.ndarray, model: LoadedModel, layers: int | None = None) -> bytes:
    """Compress a uint8 image (H, W, C) with C in {1, 3}; returns the bytes of a .vqc file.

    Args:
        layers: store only the first `layers` HR-VQ layers (smaller file, coarser image).
    """
    codec = model.codec
    n = codec.num_layers if layers is None else layers
    if not 1 <= n <= codec.num_layers:
        raise CodecError(f"--layers must be between 1 and {codec.num_layers}, not {n}")
    chans = 1 if img.ndim == 2 else img.shape[2]
    codes = encode_codes(img, model)
    _, _, h, w = codes.shape
    pm = phase_map(h, w, codec.exact.phases)
    streams, hashes = [], []
    with torch.no_grad():
        for i in range(n):
            enc = StreamEncoder()
            for p in range(codec.exact.phases):
                probs = codec.exact.phase_probs(codes, i, p)[0].cpu().numpy()
                enc.add(codes[0, i][pm == p].numpy(), probs)
            streams.append(enc.finish())
            hashes.append(container.code_hash(codes[0, i].numpy()))
    f = container.VQCFile(
        modality="image", model_name=model.name, model_id=model.model_id,
        num_layers_model=codec.num_layers, codebook_size=codec.m,
        geometry=container.ImageGeometry(width=img.shape[1], height=img.shape[0], channels=chans),
        segment_size=0, segments=[container.Segment((h, w), streams, hashes)])
    return container.pack(f)


def _find_model_for(f: container.VQCFile, device: str) -> LoadedModel:
    """The shipped model whose identity the file records."""
    for info_ in list_models():
        p = Path(info_["path"])
        try:
            if model_id(p) == f.model_id:
                return load_model(p, device)
        except OSError:
            continue
    raise CodecError(f"this file needs model {f.model_name!r} (id {f.model_id.hex()}), which is "
                     "not installed; pass it with --model")


def decompress(data: bytes, model: LoadedModel | None = None, layers: int | None = None,
               device: str = "cpu") -> np.ndarray:
    """Decompress .vqc bytes to a uint8 image (H, W, C).

    Args:
        model: the model that made the file; found among the shipped models when None.
        layers: decode only the first `layers` stored layers.
    """
    try:
        f = container.unpack(data)
    except container.ContainerError as e:
        raise CodecError(str(e)) from None
    if f.modality != "image":
        raise CodecError(f"this is an {f.modality} file; this build decodes images only")
    if model is None:
        model = _find_model_for(f, _pick_device(device))
    elif model.model_id != f.model_id:
        raise CodecError(f"this file was made by model {f.model_name!r} (id {f.model_id.hex()}), "
                         f"not by {model.name!r} (id {model.model_id.hex()})")
    codec = model.codec
    k = f.num_layers if layers is None else min(layers, f.num_layers)
    seg = f.segments[0]
    h, w = seg.latent_shape
    geo = f.geometry
    if (h, w) != (-(-geo.height // codec.stride), -(-geo.width // codec.stride)):
        raise CodecError("latent grid does not match the image size for this model")
    pm = phase_map(h, w, codec.exact.phases)
    codes = torch.zeros(1, k, h, w, dtype=torch.long)
    with torch.no_grad():
        for i in range(k):
            try:
                dec = StreamDecoder(seg.streams[i])
                for p in range(codec.exact.phases):
                    probs = codec.exact.phase_probs(codes, i, p)[0].cpu().numpy()
                    codes[0, i][pm == p] = torch.from_numpy(dec.decode(probs))
            except StreamError as e:
                raise CodecError(f"layer {i + 1}: {e}") from None
            if container.code_hash(codes[0, i].numpy()) != seg.code_hashes[i]:
                raise CodecError(f"layer {i + 1} decoded to different indices than were encoded "
                                 "(corrupt file, or a prior that differs from the encoder's)")
        dev = next(codec.decoder.parameters()).device
        y = codec.decoder(codec.quantizer.decode_codes(codes.to(dev)))
    return _tensor_to_image(y, geo)


def info(data: bytes) -> dict:
    """Header facts of .vqc bytes: model, geometry, layers, bytes per layer, bits per pixel."""
    try:
        f = container.unpack(data)
    except container.ContainerError as e:
        raise CodecError(str(e)) from None
    per_layer = [sum(len(s.streams[i]) for s in f.segments) for i in range(f.num_layers)]
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
        out.update(sample_rate=g.sample_rate, channels=g.channels, num_samples=g.num_samples)
    return out


# -- files ---------------------------------------------------------------------------------------
def compress_file(src: Path, dst: Path, model: str | Path | LoadedModel | None = None,
                  layers: int | None = None, force: bool = False, device: str = "auto") -> dict:
    """Compress an image file to a .vqc file (written atomically). Returns info() of the result."""
    src, dst = Path(src), Path(dst)
    check_output(src, dst, force)
    img = media.load_image(src)
    lm = model if isinstance(model, LoadedModel) else load_model(model, _pick_device(device))
    data = compress(img, lm, layers)
    atomic_write_bytes(dst, data)
    return info(data)


def decompress_file(src: Path, dst: Path, model: str | Path | LoadedModel | None = None,
                    layers: int | None = None, force: bool = False, device: str = "auto") -> dict:
    """Decompress a .vqc file to an image file whose format follows dst's extension."""
    src, dst = Path(src), Path(dst)
    if not src.is_file():
        raise CodecError(f"no such file: {src}")
    check_output(src, dst, force)
    if media.modality_of(dst) != "image":
        raise CodecError(f"unsupported output format {dst.suffix!r} "
                         f"(use one of {', '.join(sorted(media.IMAGE_EXTS))})")
    data = src.read_bytes()
    dev = _pick_device(device)
    lm = None
    if model is not None:
        lm = model if isinstance(model, LoadedModel) else load_model(model, dev)
    img = decompress(data, lm, layers, dev)
    media.save_image(img, dst)
    return info(data)


__all__ = ["CodecError", "ModelError", "compress", "decompress", "compress_file",
           "decompress_file", "info", "encode_codes"]
