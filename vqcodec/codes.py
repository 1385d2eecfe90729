"""Codes out: the HR-VQ indices of a file, for training on a compressed dataset.

::

    image/audio file --encoder + HR-VQ search (as compress does)--> codes per segment
    .vqc             --rANS + the integer prior (no decoder network)--> codes per segment
    codes --> OUT.npz: "meta" (JSON: model name and id, modality, geometry, segment size,
              layers) and "segment_00000", ... (uint16, one array per tile / chunk x channel)

Both routes give the same indices (the .vqc stores exactly what the encoder chose). Each
segment's array has whatever shape the codec gives one segment: (layers, h, w) today, with more
axes (e.g. channel groups) for models that have them; nothing here assumes three.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import audio, batch, container, image_codec, media
from .audio_codec import default_model_name, iter_codes, segment_samples
from .devices import resolve_device
from .errors import CodecError, reraise_as
from .files import atomic_path
from .models import LoadedModel, load_model
from .naming import codes_output_name, vqc_modality
from .segments import decode_streams, find_model_for, read_header_file

FORMAT = "vqcodec-codes"
VERSION = 1


@dataclass
class Codes:
    """The indices of one file: segments in the .vqc's order (tiles raster order; audio
    chunk-major, a segment per channel), each an integer array of shape (layers, ...)."""

    modality: str
    model: str
    model_id: str  # hex
    geometry: dict  # width/height/channels, or sample_rate/channels/num_samples
    segment_size: int  # tile side (px) or chunk length (samples at the model's rate); 0 = one
    segments: list[np.ndarray] = field(default_factory=list)

    @property
    def layers(self) -> int:
        return int(self.segments[0].shape[0]) if self.segments else 0

    def meta(self) -> dict:
        return {"format": FORMAT, "version": VERSION, "modality": self.modality,
                "model": self.model, "model_id": self.model_id, "geometry": self.geometry,
                "segment_size": self.segment_size, "layers": self.layers,
                "segments": len(self.segments),
                "segment_shapes": [list(s.shape) for s in self.segments]}


def _geometry(g: container.ImageGeometry | container.AudioGeometry) -> dict:
    return dict(vars(g))


def _new(lm: LoadedModel, modality: str, geometry: dict, seg: int) -> Codes:
    return Codes(modality, lm.name, lm.model_id.hex(), geometry, seg)


def _u16(codes) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(codes), dtype=np.uint16)


def codes_of_image(img: np.ndarray, model: LoadedModel, tile: int = image_codec.TILE) -> Codes:
    """The indices compress() would store for a uint8 image (H, W, C) with every layer, tile by
    tile."""
    img = image_codec.check_image(img)
    h, w = img.shape[:2]
    t = tile if max(h, w) > tile else 0
    out = _new(model, "image", {"width": w, "height": h, "channels": img.shape[2]}, t)
    for y, x, th, tw in image_codec.tile_grid(h, w, t):
        out.segments.append(_u16(image_codec.encode_codes(img[y:y + th, x:x + tw], model)[0]))
    return out


def codes_of_audio_file(src: Path, model: LoadedModel) -> Codes:
    """The indices compress would store for an audio file, chunk by chunk (bounded memory)."""
    with audio.AudioReader(src) as r:
        seg = segment_samples(model)
        geo = {"sample_rate": r.rate, "channels": r.channels, "num_samples": r.frames}
        out = _new(model, "audio", geo, seg)
        for chunk in iter_codes(r.chunks(model.codec.sample_rate, seg), model):
            out.segments += [_u16(c) for c in chunk]
    return out


def codes_of_vqc(data: bytes, model: LoadedModel | None = None, device: str = "cpu") -> Codes:
    """The indices stored in .vqc bytes: entropy decoding only (no decoder network runs).

    model: the model that made the file; found among the shipped ones when None."""
    with reraise_as(CodecError, container.ContainerError):
        f = container.unpack(data)
    lm = model if model is not None else find_model_for(f, resolve_device(device))
    if lm.model_id != f.model_id:
        raise CodecError(f"this file was made by model {f.model_name!r} (id "
                         f"{f.model_id.hex()}), not by {lm.name!r}")
    out = _new(lm, f.modality, _geometry(f.geometry), f.segment_size)
    for seg in f.segments:
        out.segments.append(_u16(decode_streams([seg], lm.codec, f.num_layers)[0]))
    return out


def codes_of_file(src: Path, model: str | Path | LoadedModel | None = None,
                  device: str = "auto") -> Codes:
    """Codes of a media file (by extension) or of a .vqc file (by its first bytes)."""
    src = Path(src)
    media.check_regular_file(src, "a media or .vqc file")
    dev = resolve_device(device)
    if vqc_modality(src) is not None:
        lm = model if isinstance(model, LoadedModel) or model is None else load_model(model, dev)
        return codes_of_vqc(src.read_bytes(), lm, dev)
    modality = media.modality_of(src) or "image"
    if modality == "audio" and model is None:
        model = default_model_name(src)
    lm = model if isinstance(model, LoadedModel) else load_model(model, dev, modality)
    if modality == "audio":
        return codes_of_audio_file(src, lm)
    return codes_of_image(media.load_image(src), lm)


def encode_codes(x, model: str | Path | LoadedModel | None = None, device: str = "auto") -> Codes:
    """Codes of a path (media or .vqc), .vqc bytes, or a uint8 image array."""
    if isinstance(x, (bytes, bytearray, memoryview)):
        lm = None if model is None else _load(model, device, "image")
        return codes_of_vqc(bytes(x), lm, resolve_device(device))
    if isinstance(x, np.ndarray):
        return codes_of_image(x, _load(model, device, "image"))
    return codes_of_file(Path(x), model, device)


def _load(model, device: str, modality: str) -> LoadedModel:
    return model if isinstance(model, LoadedModel) else load_model(
        model, resolve_device(device), modality)


def write_codes(codes: Codes, dst: Path) -> None:
    """Write codes as .npz (zip-deflated) atomically; read back with read_codes()."""
    arrays = {"meta": np.array(json.dumps(codes.meta()))}
    arrays.update({f"segment_{i:05d}": s for i, s in enumerate(codes.segments)})
    with atomic_path(Path(dst)) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, **arrays)


def read_codes(path: Path | str | bytes) -> Codes:
    """The Codes of an .npz written by write_codes (a path or the file's bytes)."""
    src = io.BytesIO(path) if isinstance(path, bytes) else Path(path)
    name = "(bytes)" if isinstance(path, bytes) else str(path)
    try:
        with np.load(src, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            segs = [z[f"segment_{i:05d}"] for i in range(int(meta["segments"]))]
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise CodecError(f"not a vqcodec codes file: {name} ({e})") from None
    if meta.get("format") != FORMAT:
        raise CodecError(f"not a vqcodec codes file: {name}")
    return Codes(meta["modality"], meta["model"], meta["model_id"], meta["geometry"],
                 int(meta["segment_size"]), segs)


def is_complete(dst: Path) -> bool:
    """True if dst is a readable codes file (a folder rerun keeps it)."""
    try:
        read_codes(dst)
    except (CodecError, OSError):
        return False
    return True


output_name = codes_output_name  # the name it had; naming.py holds every naming rule


def folder_codes(src_root: Path, dst_root: Path, model: str | Path | LoadedModel | None = None,
                 force: bool = False, device: str = "auto", progress=None) -> batch.Summary:
    """codes_of_file() of every media and .vqc file under src_root into a mirrored tree of .npz.

    Complete outputs are kept unless force (rerun to resume); failures are recorded, never fatal.
    progress: optional (total) -> callback(FileResult)."""
    t0 = time.time()
    src_root, dst_root = batch.folder_roots(src_root, dst_root)
    media_rels, ignored = batch.discover(src_root, True, exclude=dst_root)
    vqc_rels, _ = batch.discover(src_root, False, exclude=dst_root)
    items, done = [], []
    for rel in sorted(set(media_rels) | set(vqc_rels), key=lambda p: p.as_posix()):
        it = batch.Item(rel, src_root / rel, dst_root / output_name(rel), (src_root / rel).stat().st_size)
        if not force and is_complete(it.dst):
            done.append(batch.FileResult(rel.as_posix(), "skipped", it.size, it.dst.stat().st_size, 0.0))
        else:
            items.append(it)
    models: dict = {}

    def process(group: list[batch.Item]) -> list[tuple[int, str | None]]:
        it = group[0]
        head = read_header_file(it.src) if it.src.name.lower().endswith(".vqc") else None
        key = ("given" if model is not None else head.model_id if head is not None
               else media.modality_of(it.src))
        if key not in models:  # each model loaded once
            models[key] = (find_model_for(head, resolve_device(device))
                           if model is None and head is not None
                           else _load(model, device, "image" if key == "given" else key))
        codes = codes_of_file(it.src, models[key], device)
        write_codes(codes, it.dst)
        return [(it.dst.stat().st_size, None)]

    cb = progress(len(items)) if progress else None
    results = batch.run(items, process, None, 1, cb)
    ignored -= len(vqc_rels)  # discover(compressing=True) counted the .vqc files as ignored
    return batch.summarize(done + results, max(0, ignored), time.time() - t0)
