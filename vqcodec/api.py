"""The library API, a facade over the two codecs: compress and decompress arrays, bytes and files,
info() of .vqc bytes and folder jobs; a file's modality (extension or header) picks the codec.

The codecs are vqcodec.image_codec and vqcodec.audio_codec (both over vqcodec.segments); the
image verbs here are the image codec's, and decompress() finds the model when none is given.
The CLI is a shell over this module.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np

from . import batch, container, image_codec, media, segments
from .audio_codec import compress_audio_file, decompress_audio_file, default_model_name
from .devices import resolve_device
from .errors import reraise_as
from .files import atomic_write_bytes, check_output
from .image_codec import compress, compress_many, decompress_many, encode_codes
from .models import LoadedModel, ModelError, load_model
from .segments import CodecError, check_layers_arg, find_model_for, read_header, read_header_file

# Names the tests call on api (test_golden, test_rdo, test_audio), the codecs' own now.
_find_model_for, _header = find_model_for, read_header
_images_to_tensor, decode_streams = image_codec._images_to_tensor, segments.decode_streams


def decompress(data: bytes, model: LoadedModel | None = None, layers: int | None = None,
               device: str = "cpu") -> np.ndarray:
    """Decompress .vqc bytes to a uint8 image (H, W, C).

    Args:
        model: the model that made the file; found among the shipped models when None.
        layers: decode only the first `layers` stored layers.
    """
    check_layers_arg(layers)
    if model is None:
        model = find_model_for(image_codec.parse(data, None), resolve_device(device))
    return image_codec.decompress(data, model, layers)


def check_vqc_input(src: Path) -> None:
    """CodecError unless src is an existing regular file (not a device such as /dev/zero, a
    FIFO, a folder, a broken link or a symlink loop), with the reason in one line."""
    try:
        media.check_regular_file(Path(src), "a .vqc file")
    except media.MediaError as e:
        raise CodecError(str(e)) from None


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


def audio_model(src: Path, model: str | Path | LoadedModel | None, device: str) -> LoadedModel:
    """The model for an audio file: the one given, else the default for its sample rate
    (models.audio_default: speech up to 16 kHz, general audio above)."""
    return _model(default_model_name(src) if model is None else model, device, "audio")


def compress_file(src: Path, dst: Path, model: str | Path | LoadedModel | None = None,
                  layers: int | None = None, force: bool = False, device: str = "auto",
                  progress=None) -> dict:
    """Compress an image or audio file (by extension) to a .vqc file, written atomically.
    Returns info() of the result. progress(seconds done, seconds total): audio only."""
    src, dst = Path(src), Path(dst)
    check_output(src, dst, force)
    if media.modality_of(src) == "audio":
        return info(compress_audio_file(src, dst, audio_model(src, model, device), layers,
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
    head = read_header_file(src)
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
          else find_model_for(read_header(data), resolve_device(device)))
    decompress_audio_file(data, dst, lm, layers, progress)
    return info(data)


# -- folders -------------------------------------------------------------------------------------
class _FolderJob:
    """A folder job's models (each loaded once) and how it codes a group of files."""

    def __init__(self, model: str | Path | LoadedModel | None, layers: int | None, dev: str):
        self.model, self.layers, self.dev = model, layers, dev
        self.models: dict[bytes, LoadedModel] = {}

    def get_model(self, head: container.VQCFile | None = None,
                  modality: str = "image") -> LoadedModel:
        """The given model, else the shipped one a file's header names, else the default of
        the modality (each loaded once)."""
        model = self.model
        if isinstance(model, LoadedModel):
            return model
        key = (b"given" if model is not None else head.model_id if head is not None
               else modality.encode())
        if key not in self.models:
            self.models[key] = (find_model_for(head, self.dev) if model is None and head is not None
                                else load_model(model, self.dev, modality))
        return self.models[key]

    def audio_default(self, src: Path) -> LoadedModel:
        """The default model for an audio file's sample rate (each loaded once)."""
        name = default_model_name(src)
        key = b"audio:" + name.encode()
        if key not in self.models:
            self.models[key] = load_model(name, self.dev, "audio")
        return self.models[key]

    def compress_key(self, it) -> tuple:
        if media.modality_of(it.src) == "audio":
            return ("audio", it.rel)  # audio files are coded one by one
        codec = self.get_model().codec
        from PIL import Image

        with Image.open(it.src) as im:  # header only: cheap
            w, h = im.size
        return codec.latent_shape(h, w)

    @staticmethod
    def decompress_key(it) -> tuple:
        head = read_header_file(it.src)
        if head.modality == "audio":
            return ("audio", it.rel)
        return (head.model_id, head.segments[0].latent_shape, head.num_layers)

    def compress_chunk(self, chunk):
        res: list = [None] * len(chunk)
        imgs = []
        for i, it in enumerate(chunk):
            if media.modality_of(it.src) == "audio":  # one file at a time, chunk by chunk
                lm = (self.get_model(None, "audio") if self.model is not None else
                      self.audio_default(it.src))
                res[i] = (len(compress_audio_file(it.src, it.dst, lm, self.layers)), None)
                continue
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", media.MediaWarning)
                    imgs.append((i, media.load_image(it.src)))
            except media.MediaError as e:
                res[i] = (0, str(e))
        datas = compress_many([im for _, im in imgs], self.get_model(), self.layers) if imgs else []
        for (i, _), data in zip(imgs, datas, strict=True):
            atomic_write_bytes(chunk[i].dst, data)
            res[i] = (len(data), None)
        return res

    def decompress_chunk(self, chunk):
        datas = [it.src.read_bytes() for it in chunk]
        head = read_header(datas[0])
        if head.modality == "audio":  # alone in its group (see decompress_key)
            decompress_audio_file(datas[0], chunk[0].dst, self.get_model(head, "audio"),
                                  self.layers)
            return [(chunk[0].dst.stat().st_size, None)]
        outs = decompress_many(datas, self.get_model(head), self.layers)
        res = []
        for it, img in zip(chunk, outs, strict=True):
            media.save_image(img, it.dst)
            res.append((it.dst.stat().st_size, None))
        return res


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
    job = _FolderJob(model, layers, dev)
    if compressing and model is not None and items:
        job.get_model()  # a bad --model fails the job at once, not file by file
    cb = progress(len(items)) if progress else None
    results = batch.run(items, job.compress_chunk if compressing else job.decompress_chunk,
                        job.compress_key if compressing else job.decompress_key, batch_size, cb)
    index, count = batch.parse_shard(shard)
    return batch.summarize(done_already + results, ignored, time.time() - t0, (index, count))


__all__ = ["CodecError", "ModelError", "resolve_device", "compress", "compress_many", "decompress",
           "decompress_many", "compress_file", "decompress_file", "info", "encode_codes",
           "folder_job"]
