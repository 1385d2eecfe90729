"""Decompression bombs: does an image file's compressed data back the size its header declares?

Pillow decodes a PNG whose zlib stream ends early without a word, filling the missing rows with
zeros: a 126-byte file that claims 12000 x 12000 "loads" in milliseconds and then costs minutes
of encoding. ``check_png`` refuses such a file before Pillow decodes it, in two steps:

1. Deflate cannot expand data by more than 1032:1, so the IDAT chunks must hold at least
   raw / 1032 bytes (raw: the filtered scanlines the header implies). Only chunk headers are
   read for this (seeks), so a bomb is refused at once.
2. The IDAT stream is inflated in 1-MiB steps, counting bytes and keeping none, until it has
   produced the raw length; a stream that ends short is refused. This costs about 1 ms per MB of
   pixels, far less than coding them.

Other formats Pillow reads report truncated data themselves (measured: JPEG, WebP, BMP, TIFF,
GIF, PPM, TGA raise "image file is truncated"); the pixel budget (vqcodec.limits) caps them all.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # PNG colour type -> samples per pixel
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
          (0, 1, 1, 2))  # (x0, y0, dx, dy) of each interlace pass
MAX_DEFLATE_RATIO = 1032
_STEP = 1 << 20


class BombError(ValueError):
    """The file's data cannot back the image size its header declares; one line."""


def png_raw_bytes(width: int, height: int, depth: int, colour: int, interlaced: bool) -> int:
    """Bytes of filtered scanlines (a filter byte per row) that a PNG of this header inflates to."""
    bits = depth * _CHANNELS.get(colour, 4)
    passes = _ADAM7 if interlaced else ((0, 0, 1, 1),)
    total = 0
    for x0, y0, dx, dy in passes:
        cols, rows = -(-(width - x0) // dx), -(-(height - y0) // dy)
        if cols > 0 and rows > 0:
            total += rows * (1 + -(-cols * bits // 8))
    return total


def _idat_spans(fh) -> list[tuple[int, int]]:
    """(offset, length) of each IDAT chunk's data, reading only chunk headers."""
    spans = []
    pos = len(_SIGNATURE)
    while True:
        fh.seek(pos)
        head = fh.read(8)
        if len(head) < 8:
            return spans
        length, kind = struct.unpack(">I4s", head)
        if kind == b"IDAT":
            spans.append((pos + 8, length))
        elif kind == b"IEND":
            return spans
        pos += 12 + length


def _short_stream(fh, spans: list[tuple[int, int]], need: int) -> int | None:
    """Bytes the IDAT stream inflates to if it is complete (zlib's end marker) yet under
    `need`; None when it reaches `need`, when the data runs out first (a cut file, which Pillow
    reports as truncated) or when zlib finds it corrupt (Pillow reports that too)."""
    d = zlib.decompressobj()
    out = 0
    try:
        for offset, length in spans:
            fh.seek(offset)
            left = length
            while left > 0:
                buf = fh.read(min(_STEP, left))
                if not buf:
                    return None
                left -= len(buf)
                while buf:
                    out += len(d.decompress(buf, _STEP))
                    if out >= need:
                        return None
                    if d.eof:
                        return out
                    buf = d.unconsumed_tail
    except zlib.error:
        return None
    return None


def check_png(path: Path, width: int, height: int) -> None:
    """BombError if the PNG at path holds less pixel data than its width x height needs."""
    with open(path, "rb") as fh:
        head = fh.read(33)
        if len(head) < 33 or head[:8] != _SIGNATURE or head[12:16] != b"IHDR":
            return  # not a plain PNG header: Pillow decides
        depth, colour, _comp, _filt, interlace = struct.unpack(">BBBBB", head[24:29])
        need = png_raw_bytes(width, height, depth, colour, interlace == 1)
        spans = _idat_spans(fh)
        have = sum(n for _, n in spans)
        if have * MAX_DEFLATE_RATIO + 64 < need:
            raise BombError(f"{path} claims {width}x{height} pixels but holds {have:,} bytes of "
                            f"image data; deflate cannot expand that to the {need:,} needed")
        got = _short_stream(fh, spans, need)
        if got is not None:
            raise BombError(f"{path} claims {width}x{height} pixels but its image data inflates "
                            f"to {got:,} of the {need:,} bytes needed (truncated or crafted)")
