"""A ``.vqc`` file as Python objects (VQCFile, its geometry and segments), the limits a reader
enforces, and the rules a valid file obeys. container.py turns these objects into bytes and
back; both of its directions check with the functions here, so that pack() refuses exactly
what unpack() would. Pure stdlib + numpy, as the container is.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field, replace

import numpy as np

U32_MAX = 0xFFFFFFFF


class ContainerError(ValueError):
    """A malformed ``.vqc`` file or an unserialisable ``VQCFile``; the message is one line."""


@dataclass(frozen=True)
class ImageGeometry:
    width: int
    height: int
    channels: int  # 1 (grayscale) or 3 (RGB)


@dataclass(frozen=True)
class AudioGeometry:
    sample_rate: int
    channels: int
    num_samples: int  # per channel


@dataclass
class Segment:
    latent_shape: tuple[int, int]  # (h, w) of the latent grid; audio uses (1, frames)
    streams: list[bytes]  # one rANS stream per stored layer, layer 1 first
    code_hashes: list[int]  # per stored layer: code_hash() of that layer's indices
    # Set only by read_header(), whose segments carry no stream bytes (streams == []).
    declared_lengths: list[int] | None = field(default=None, compare=False, repr=False)

    @property
    def stream_lengths(self) -> list[int]:
        if not self.streams and self.declared_lengths is not None:
            return list(self.declared_lengths)
        return [len(s) for s in self.streams]


@dataclass
class VQCFile:
    modality: str  # "image" or "audio"
    model_name: str  # utf-8, at most 255 bytes encoded
    model_id: bytes  # exactly 16 bytes
    num_layers_model: int  # layers the model has
    codebook_size: int
    geometry: ImageGeometry | AudioGeometry
    segment_size: int  # 0 = one segment; else tile side (pixels) / chunk length (samples)
    segments: list[Segment]

    @property
    def num_layers(self) -> int:
        """Stored layers (code_hashes is used because header-only objects have no streams)."""
        return len(self.segments[0].code_hashes) if self.segments else 0

    @property
    def payload_bytes(self) -> int:
        return sum(sum(s.stream_lengths) for s in self.segments)

    def layer_bytes(self) -> list[int]:
        """Payload bytes of each stored layer, summed over segments."""
        totals = [0] * self.num_layers
        for seg in self.segments:
            for i, n in enumerate(seg.stream_lengths):
                totals[i] += n
        return totals


@dataclass(frozen=True)
class Limits:
    max_pixels: int = 1 << 28
    max_side: int = 1 << 16
    max_audio_channels: int = 64
    max_samples: int = 48000 * 3600 * 24
    max_sample_rate: int = 768000
    max_layers: int = 16
    max_segments: int = 1 << 20
    max_latent_positions: int = 1 << 26


DEFAULT_LIMITS = Limits()


def code_hash(indices: np.ndarray) -> int:
    """CRC32 of ``indices`` as a C-contiguous little-endian uint16 array (values in 0..65535)."""
    arr = np.asarray(indices)
    if arr.dtype.kind not in "iu":
        raise ValueError(f"code_hash needs integer indices, got dtype {arr.dtype}")
    if arr.size and (int(arr.min()) < 0 or int(arr.max()) > 0xFFFF):
        raise ValueError("code_hash needs indices in 0..65535")
    return zlib.crc32(np.ascontiguousarray(arr, dtype="<u2").tobytes())


# --- checks shared by pack() and unpack(), so both enforce exactly the same rules ---


def check_layers(n_model: int, n: int, limits: Limits) -> None:
    if not 1 <= n_model <= limits.max_layers:
        raise ContainerError(f"model layer count {n_model} outside 1..{limits.max_layers}")
    if not 1 <= n <= n_model:
        raise ContainerError(f"stored layer count {n} outside 1..{n_model} (model layers)")


def check_codebook(m: int) -> None:
    if not 2 <= m <= 0xFFFF:
        raise ContainerError(f"codebook size {m} outside 2..65535")


def check_geometry(g: ImageGeometry | AudioGeometry, limits: Limits) -> None:
    if isinstance(g, ImageGeometry):
        if g.channels not in (1, 3):
            raise ContainerError(f"image channels must be 1 or 3, got {g.channels}")
        if not (1 <= g.width <= limits.max_side and 1 <= g.height <= limits.max_side):
            raise ContainerError(
                f"image size {g.width}x{g.height} outside 1..{limits.max_side} per side"
            )
        if g.width * g.height > limits.max_pixels:
            raise ContainerError(
                f"image size {g.width}x{g.height} exceeds {limits.max_pixels} pixels"
            )
    else:
        if not 1 <= g.channels <= limits.max_audio_channels:
            raise ContainerError(
                f"audio channels {g.channels} outside 1..{limits.max_audio_channels}"
            )
        if not 1 <= g.sample_rate <= limits.max_sample_rate:
            raise ContainerError(
                f"sample rate {g.sample_rate} outside 1..{limits.max_sample_rate}"
            )
        if not 0 <= g.num_samples <= limits.max_samples:
            raise ContainerError(f"num_samples {g.num_samples} outside 0..{limits.max_samples}")


def check_segments(g: ImageGeometry | AudioGeometry, segment_size: int, count: int,
                   limits: Limits, reading: bool) -> None:
    """The segment size and count, and that they fit the geometry: an image's tile count is
    fixed by its size and tile side (FORMAT.md, Image tiles), an audio file has the same number
    of segments per channel. `reading`: the message speaks of the file (unpack) or of the
    object (pack), as each always has."""
    if not 0 <= segment_size <= U32_MAX:
        raise ContainerError(f"segment size {segment_size} does not fit in u32")
    if not 1 <= count <= limits.max_segments:
        raise ContainerError(f"segment count {count} outside 1..{limits.max_segments}")
    if segment_size == 0 and count != 1:
        raise ContainerError(f"segment size 0 means one segment, but there are {count}")
    if isinstance(g, ImageGeometry):
        if segment_size:
            need = -(-g.width // segment_size) * -(-g.height // segment_size)
            if count != need:
                raise ContainerError(f"the file has {count} tiles, a {g.width}x{g.height} image "
                                     f"in {segment_size}-px tiles has {need}")
    elif count % g.channels:
        raise ContainerError(f"the file has {count} segments, not a multiple of its "
                             f"{g.channels} channels" if reading else
                             f"{count} segments is not a multiple of the {g.channels} channels")


def check_latent(index: int, h: int, w: int, limits: Limits) -> None:
    if h < 1 or w < 1 or h * w > limits.max_latent_positions:  # also bounds h, w to u32
        raise ContainerError(
            f"segment {index} latent grid {h}x{w} outside 1..{limits.max_latent_positions} "
            "positions"
        )


def truncate(f: VQCFile, num_layers: int) -> VQCFile:
    """Return a copy of ``f`` keeping only its first ``num_layers`` stored layers."""
    if not 1 <= num_layers <= f.num_layers:
        raise ContainerError(f"cannot keep {num_layers} layers of {f.num_layers} stored")
    k = num_layers
    segments = [
        replace(seg, streams=seg.streams[:k], code_hashes=seg.code_hashes[:k],
                declared_lengths=None if seg.declared_lengths is None else seg.declared_lengths[:k])
        for seg in f.segments
    ]
    return replace(f, segments=segments)
