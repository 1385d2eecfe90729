"""The ``.vqc`` file container, format version 1 (byte layout and rules: FORMAT.md).

A file holds, for one image or audio clip, the model identity, the original geometry and one
rANS stream per stored quantizer layer per segment. Streams are stored layer-major so that
dropping the last layers keeps a prefix of the payload.

Reading is defensive: every count and length is checked against the file size and ``Limits``
before anything is allocated, and every failure is a one-line ``ContainerError``.
Pure stdlib + numpy on purpose: ``vqcodec info`` and validation must not need torch.

The file as Python objects (VQCFile, Segment, the geometries, Limits) and the rules both
directions check are in vqc_file.py; this module is the byte layout. Its names are all here.
"""

from __future__ import annotations

import struct
import zlib
from typing import BinaryIO

import numpy as np

from .vqc_file import (  # noqa: F401 (the objects of the format, re-exported: their old home)
    DEFAULT_LIMITS,
    U32_MAX,
    AudioGeometry,
    ContainerError,
    ImageGeometry,
    Limits,
    Segment,
    VQCFile,
    check_codebook,
    check_geometry,
    check_latent,
    check_layers,
    check_segments,
    code_hash,
    truncate,
)

MAGIC = b"VQC\x1a"
FORMAT_VERSION = 1

_MODALITY_CODES = {"image": 1, "audio": 2}
_MODALITY_NAMES = {v: k for k, v in _MODALITY_CODES.items()}
_FIXED = struct.Struct("<4sHBB16sB")  # magic, version, modality, flags, model_id, name_len
_LAYERS = struct.Struct("<BBH")  # num_layers_model, num_layers, codebook_size
_IMAGE_GEOM = struct.Struct("<IIB")  # width, height, channels
_AUDIO_GEOM = struct.Struct("<IHQ")  # sample_rate, channels, num_samples
_SEGS = struct.Struct("<II")  # segment_size, num_segments
_U32 = struct.Struct("<I")


def pack(f: VQCFile, limits: Limits = DEFAULT_LIMITS) -> bytes:
    """Validate ``f`` with the same rules as ``unpack`` and serialise it."""
    if f.modality not in _MODALITY_CODES:
        raise ContainerError(f"modality must be 'image' or 'audio', got {f.modality!r}")
    want = ImageGeometry if f.modality == "image" else AudioGeometry
    if not isinstance(f.geometry, want):
        raise ContainerError(f"{f.modality} file needs {want.__name__}")
    if not isinstance(f.model_id, bytes) or len(f.model_id) != 16:
        raise ContainerError(f"model_id must be 16 bytes, got {f.model_id!r}")
    name = f.model_name.encode("utf-8")
    if len(name) > 255:
        raise ContainerError(f"model name is {len(name)} bytes in utf-8 (at most 255)")
    if not f.segments:
        raise ContainerError("a file needs at least one segment")
    n = f.num_layers
    check_layers(f.num_layers_model, n, limits)
    check_codebook(f.codebook_size)
    check_geometry(f.geometry, limits)
    check_segments(f.geometry, f.segment_size, len(f.segments), limits, reading=False)

    out = [_FIXED.pack(MAGIC, FORMAT_VERSION, _MODALITY_CODES[f.modality], 0, f.model_id,
                       len(name)), name, _LAYERS.pack(f.num_layers_model, n, f.codebook_size)]
    g = f.geometry
    if isinstance(g, ImageGeometry):
        out.append(_IMAGE_GEOM.pack(g.width, g.height, g.channels))
    else:
        out.append(_AUDIO_GEOM.pack(g.sample_rate, g.channels, g.num_samples))
    out.append(_SEGS.pack(f.segment_size, len(f.segments)))
    for i, seg in enumerate(f.segments):
        h, w = seg.latent_shape
        check_latent(i, h, w, limits)
        if len(seg.streams) != n or len(seg.code_hashes) != n:
            raise ContainerError(
                f"segment {i} has {len(seg.streams)} streams and {len(seg.code_hashes)} code "
                f"hashes, expected {n} of each (read_header objects cannot be packed)"
            )
        out.append(_SEGS.pack(h, w))
        for layer, (s, ch) in enumerate(zip(seg.streams, seg.code_hashes, strict=True), 1):
            if len(s) > U32_MAX or not 0 <= ch <= U32_MAX:
                raise ContainerError(f"layer {layer} of segment {i}: stream or hash too large")
            out.append(struct.pack("<III", len(s), zlib.crc32(s), ch))
    header = b"".join(out)
    payload = [seg.streams[layer] for layer in range(n) for seg in f.segments]
    return b"".join([header, _U32.pack(zlib.crc32(header)), *payload])


class _Reader:
    """Bounds-checked cursor: every read is checked against the data length first."""

    def __init__(self, buf: memoryview) -> None:
        self.buf = buf
        self.pos = 0

    def left(self) -> int:
        return len(self.buf) - self.pos

    def _need(self, n: int, what: str) -> None:
        if n > self.left():
            raise ContainerError(
                f"truncated header: {what} needs {n} bytes at offset {self.pos}, "
                f"file has {len(self.buf)}"
            )

    def take(self, st: struct.Struct, what: str) -> tuple:
        self._need(st.size, what)
        vals = st.unpack_from(self.buf, self.pos)
        self.pos += st.size
        return vals

    def raw(self, n: int, what: str) -> memoryview:
        self._need(n, what)
        self.pos += n
        return self.buf[self.pos - n : self.pos]



def _parse_fixed(r: _Reader, limits: Limits) -> tuple:
    """The fields before the segment table, checked; the cursor is left at the table."""
    magic, version, modality, flags, model_id, name_len = r.take(_FIXED, "fixed header")
    if magic != MAGIC:
        raise ContainerError("not a .vqc file (bad magic)")
    if version != FORMAT_VERSION:
        raise ContainerError(
            f"unsupported .vqc format version {version} (this reader supports {FORMAT_VERSION})"
        )
    if modality not in _MODALITY_NAMES:
        raise ContainerError(f"unknown modality code {modality} (1 = image, 2 = audio)")
    if flags != 0:
        raise ContainerError(f"reserved flags byte is {flags:#04x}, must be 0 in version 1")
    try:
        name = bytes(r.raw(name_len, "model name")).decode("utf-8")
    except UnicodeDecodeError:
        raise ContainerError("model name is not valid utf-8") from None
    n_model, n, m = r.take(_LAYERS, "layer counts")
    check_layers(n_model, n, limits)
    check_codebook(m)
    geom: ImageGeometry | AudioGeometry
    if modality == 1:
        geom = ImageGeometry(*r.take(_IMAGE_GEOM, "image geometry"))
    else:
        rate, ch, samples = r.take(_AUDIO_GEOM, "audio geometry")
        geom = AudioGeometry(sample_rate=rate, channels=ch, num_samples=samples)
    check_geometry(geom, limits)
    seg_size, count = r.take(_SEGS, "segment count")
    check_segments(geom, seg_size, count, limits, reading=True)
    return modality, name, bytes(model_id), n_model, n, m, geom, seg_size, count


def header_size(prefix: bytes | bytearray | memoryview, limits: Limits = DEFAULT_LIMITS) -> int:
    """Bytes from the start of a file through its header CRC, from a prefix that holds at least
    the fields before the segment table (checked as read_header checks them)."""
    r = _Reader(memoryview(prefix).cast("B"))
    *_, n, _m, _geom, _seg_size, count = _parse_fixed(r, limits)
    return r.pos + count * 4 * (2 + 3 * n) + 4


def read_header_file(fh: BinaryIO, limits: Limits = DEFAULT_LIMITS) -> VQCFile:
    """read_header() of an open binary file, reading as much of it as its header needs (any
    size the format allows) and no more."""
    prefix = fh.read(1 << 16)
    try:
        need = header_size(prefix, limits)
    except ContainerError:
        need = len(prefix)  # read_header reports what is wrong
    if need > len(prefix):
        prefix += fh.read(need - len(prefix))
    return read_header(prefix, limits)


def _parse_header(buf: memoryview, limits: Limits,
                  first_only: bool = False) -> tuple[VQCFile, np.ndarray, int]:
    """Parse and check the header; return the file (no streams; only its first segment if
    first_only), the table, payload start."""
    r = _Reader(buf)
    modality, name, model_id, n_model, n, m, geom, seg_size, count = _parse_fixed(r, limits)
    words = 2 + 3 * n  # u32 words per table row: latent h, w, then (len, crc, hash) per layer
    need = count * 4 * words + 4  # table + header crc, checked before any allocation
    if need > r.left():
        raise ContainerError(
            f"truncated header: segment table for {count} segments (+ checksum) needs {need} "
            f"bytes, only {r.left()} left"
        )
    table = np.frombuffer(r.raw(need - 4, "segment table"), dtype="<u4").reshape(count, words)
    positions = table[:, 0].astype(np.uint64) * table[:, 1]  # u64: h*w cannot overflow
    bad = (table[:, 0] == 0) | (table[:, 1] == 0) | (positions > limits.max_latent_positions)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        check_latent(i, int(table[i, 0]), int(table[i, 1]), limits)
    (stored_crc,) = r.take(_U32, "header checksum")
    if zlib.crc32(buf[: r.pos - 4]) != stored_crc:
        raise ContainerError("header is corrupt (checksum mismatch)")
    # Column-wise tolist() and positional arguments: a table of 2^20 rows builds in about a second.
    rows = table[:1] if first_only else table
    segments = [Segment((h, w), [], hashes, lengths) for (h, w), hashes, lengths in
                zip(rows[:, :2].tolist(), rows[:, 4::3].tolist(), rows[:, 2::3].tolist(),
                    strict=True)]
    f = VQCFile(_MODALITY_NAMES[modality], name, model_id, n_model, m, geom, seg_size, segments)
    return f, table, r.pos


def peek_modality(prefix: bytes | bytearray | memoryview) -> str | None:
    """'image' or 'audio' from a file's first bytes; None if they are not a .vqc header."""
    if len(prefix) < _FIXED.size:
        return None
    magic, _version, modality, *_ = _FIXED.unpack_from(prefix)
    return _MODALITY_NAMES.get(modality) if magic == MAGIC else None


def read_header(data: bytes | bytearray | memoryview, limits: Limits = DEFAULT_LIMITS) -> VQCFile:
    """Parse only the header (``data`` may be the whole file or just a prefix containing it).

    Everything unpack() checks up to and including the header CRC is checked; the payload is
    not. Each segment has ``streams == []``; its ``declared_lengths`` / ``stream_lengths`` and
    ``code_hashes`` come from the table, so ``num_layers``, ``payload_bytes`` and
    ``layer_bytes()`` work. Such an object cannot be packed.
    """
    return _parse_header(memoryview(data).cast("B"), limits)[0]


def _check_payload(buf: memoryview, table: np.ndarray, start: int,
                   segments: list[Segment] | None) -> None:
    """Checks 13-14 (payload length, each stream's CRC, layer-major); fills each segment's
    streams when `segments` is given."""
    n = (table.shape[1] - 2) // 3
    need = int(table[:, 2::3].sum(dtype=np.uint64))
    have = len(buf) - start
    if need > have:
        raise ContainerError(f"truncated file: payload needs {need} bytes, file has {have}")
    if need < have:
        raise ContainerError(f"{have - need} trailing bytes after payload")
    lengths, crcs = table[:, 2::3].T.tolist(), table[:, 3::3].T.tolist()
    pos = start
    for layer in range(n):  # layer-major, as written by pack()
        for i, (size, crc) in enumerate(zip(lengths[layer], crcs[layer], strict=True)):
            chunk = buf[pos : pos + size]
            if zlib.crc32(chunk) != crc:
                raise ContainerError(
                    f"layer {layer + 1} stream of segment {i} is corrupt (checksum mismatch)"
                )
            if segments is not None:
                segments[i].streams.append(bytes(chunk))
            pos += size


def unpack(data: bytes | bytearray | memoryview, limits: Limits = DEFAULT_LIMITS) -> VQCFile:
    """Parse and fully verify a ``.vqc`` file; raise ContainerError on any defect."""
    buf = memoryview(data).cast("B")
    f, table, start = _parse_header(buf, limits)
    _check_payload(buf, table, start, f.segments)
    for seg in f.segments:
        seg.declared_lengths = None
    return f


def inspect(data: bytes | bytearray | memoryview,
            limits: Limits = DEFAULT_LIMITS) -> tuple[VQCFile, list[int]]:
    """Verify a whole file exactly as unpack() does, but return only its header with the first
    segment (as read_header() gives it) and the payload bytes of each layer: ``vqcodec info``
    does not need a Segment object per row (2^20 of them cost seconds and a gigabyte)."""
    buf = memoryview(data).cast("B")
    f, table, start = _parse_header(buf, limits, first_only=True)
    _check_payload(buf, table, start, None)
    return f, [int(v) for v in table[:, 2::3].sum(0, dtype=np.uint64)]


