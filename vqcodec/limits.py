"""The resource budget: what vqcodec agrees to decode or encode, checked before it allocates.

The container (container.py) checks what the *format* allows; this module checks what *this
implementation* will spend on one file, so that a hostile or careless input is refused in
milliseconds with one line instead of exhausting memory or time. Every limit follows from what
the writer itself produces, so a file vqcodec wrote always passes:

  * Image tiles. The writer codes an image with a side above TILE (1024) px as TILE-px tiles, so
    no segment ever covers more than TILE x TILE pixels: ``segment_size`` is 0 (one segment, both
    sides <= TILE) or a tile side in MIN_TILE..TILE (compress_many lets a caller pick smaller
    tiles; it refuses larger ones). A segment's latent grid is then the model's latent of at most
    one tile, and the decoder's memory per network pass stays bounded.
  * Image size. Decoded and loaded images have at most ``max_pixels()`` pixels (default 2^26,
    about 67 Mpx, e.g. 8192 x 8192; the environment variable VQCODEC_MAX_PIXELS changes it). The
    whole image is held once as uint8 (3 bytes a pixel) plus one tile in the networks (on the
    CPU the encoder takes one tile per batch, CPU_BATCH_PIXELS).
  * Audio chunks. The writer uses 10-s chunks; at most MAX_CHUNK_SECONDS (120 s) at the model's
    rate are accepted either way (``segment_size = 0`` means one chunk: only a short clip).
    Files are decoded chunk by chunk, so memory does not grow with the length; the in-memory API
    (decompress_audio) holds at most MAX_AUDIO_VALUES samples x channels (2^27, 512 MB float32).
  * The model. A file's ``num_layers_model`` and ``codebook_size`` must be the model's, and its
    stored layers at most that many, before any stream is read.
"""

from __future__ import annotations

import os

TILE = 1024  # the writer's tile side; also the largest segment side it writes
MIN_TILE = 32  # smallest tile side accepted (bounds the tile count of an image)
DEFAULT_MAX_PIXELS = 1 << 26
MAX_CHUNK_SECONDS = 120.0
MAX_AUDIO_VALUES = 1 << 27
# Pixels per encoder batch on the CPU (image_codec.compress_many): one 1024-px tile. A batch of four
# tiles peaked at 2.1 GB resident with photo-v3 (one tile: 0.78 GB), and the CPU runs items one
# at a time anyway (image_codec._run), so larger batches only cost memory there.
CPU_BATCH_PIXELS = 1 << 20


class LimitError(ValueError):
    """A file or input beyond the resource budget or disagreeing with its model; one line."""


def max_pixels() -> int:
    """Largest image (pixels) loaded, coded or decoded: VQCODEC_MAX_PIXELS, else 2^26."""
    env = os.environ.get("VQCODEC_MAX_PIXELS", "").strip()
    if env:
        try:
            value = int(env)
        except ValueError:
            raise LimitError(f"VQCODEC_MAX_PIXELS must be a whole number, not {env!r}") from None
        if value < 1:
            raise LimitError(f"VQCODEC_MAX_PIXELS must be at least 1, not {value}")
        return value
    return DEFAULT_MAX_PIXELS


def check_pixels(width: int, height: int, what: str) -> None:
    """LimitError if an image of width x height is over the pixel budget."""
    limit = max_pixels()
    if width * height > limit:
        raise LimitError(f"{what} is {width}x{height} = {width * height:,} pixels, over the limit "
                         f"of {limit:,} (set VQCODEC_MAX_PIXELS to change it)")


def check_model_fields(num_layers_model: int, num_layers: int, codebook_size: int,
                       model_layers: int, model_m: int, model_name: str) -> None:
    """The file's layer counts and codebook size against the model that is to decode it."""
    if num_layers_model != model_layers:
        raise LimitError(f"the file says its model has {num_layers_model} layers; model "
                         f"{model_name!r} has {model_layers}")
    if not 1 <= num_layers <= model_layers:
        raise LimitError(f"the file stores {num_layers} layers; model {model_name!r} has "
                         f"{model_layers}")
    if codebook_size != model_m:
        raise LimitError(f"the file's codebook size is {codebook_size}; model {model_name!r} "
                         f"has {model_m} codewords")


def check_tiling(width: int, height: int, segment_size: int, stride: int) -> None:
    """An image's tiling must be one the writer can produce (module docstring)."""
    if segment_size == 0:
        if max(width, height) > TILE:
            raise LimitError(f"an untiled image of {width}x{height}: the writer tiles images "
                             f"with a side above {TILE} px")
        return
    if not MIN_TILE <= segment_size <= TILE:
        raise LimitError(f"tile size {segment_size} outside {MIN_TILE}..{TILE}")
    if segment_size % stride:
        raise LimitError(f"tile size {segment_size} is not a multiple of the model's stride "
                         f"{stride}")


def tile_count(width: int, height: int, segment_size: int) -> int:
    """How many segments an image of this size and tiling has (without listing them)."""
    if segment_size == 0:
        return 1
    return -(-width // segment_size) * -(-height // segment_size)


def max_chunk_samples(model_rate: int, stride: int) -> int:
    """Longest audio chunk (samples at the model's rate) accepted: MAX_CHUNK_SECONDS."""
    return int(MAX_CHUNK_SECONDS * model_rate) // stride * stride


def check_chunk(chunk: int, model_rate: int, stride: int) -> None:
    """LimitError if an audio chunk of `chunk` samples at the model's rate is too long."""
    limit = max_chunk_samples(model_rate, stride)
    if chunk > limit:
        raise LimitError(f"audio chunk of {chunk} samples ({chunk / model_rate:.1f} s) is over "
                         f"the limit of {MAX_CHUNK_SECONDS:.0f} s")


def check_audio_values(num_samples: int, channels: int) -> None:
    """LimitError if an in-memory clip of num_samples x channels is over MAX_AUDIO_VALUES."""
    if num_samples * channels > MAX_AUDIO_VALUES:
        raise LimitError(f"{num_samples:,} samples x {channels} channels is too long to hold in "
                         f"memory (at most {MAX_AUDIO_VALUES:,} values); decode to a file instead")
