"""A structure-aware mutator for .vqc files (and PNG chunk CRCs), for the atheris fuzzers.

Byte-level mutation almost never gets past the header CRC and the per-stream CRCs, so the
decoder behind them would go untested. This mutator knows the layout (FORMAT.md): it changes a
field to a boundary value, a table row, a stream's bytes or length, a row count or the model
name, and then writes valid checksums (``fix_crcs``), so that the checks after the CRCs (the
budget, the model's fields, the latent geometry, rANS, the index hashes) are what the fuzzer
exercises. Pure stdlib: it never imports vqcodec, so it cannot mask a reader bug.
"""

from __future__ import annotations

import random
import struct
import zlib

_BOUNDARY = (0, 1, 2, 3, 4, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 255, 256, 1023, 1024, 1025,
             4095, 4096, 16000, 65535, 65536, 1 << 20, 1 << 24, 1 << 26, 1 << 28, 1 << 31,
             (1 << 32) - 1)


def layout(b: bytes | bytearray) -> dict | None:
    """Offsets of a .vqc's fields, read leniently (None if even the counts are cut off)."""
    if len(b) < 25:
        return None
    p = 25 + b[24]
    if len(b) < p + 4:
        return None
    n = b[p + 1]
    geom = 9 if b[6] == 1 else 14
    segs = p + 4 + geom
    if len(b) < segs + 8:
        return None
    count = struct.unpack_from("<I", b, segs + 4)[0]
    words = 2 + 3 * n
    table = segs + 8
    return {"layers": p, "n": n, "geom": p + 4, "image": b[6] == 1, "segs": segs,
            "count": count, "words": words, "table": table,
            "hend": table + count * 4 * words}


def fix_crcs(data: bytes | bytearray) -> bytes:
    """The same bytes with every stream CRC and the header CRC recomputed (where present)."""
    b = bytearray(data)
    lay = layout(b)
    if lay is None or lay["hend"] + 4 > len(b) or lay["count"] > 1 << 16:
        return bytes(b)
    n, count, words, table, hend = lay["n"], lay["count"], lay["words"], lay["table"], lay["hend"]
    pos = hend + 4
    for layer in range(n):  # payload is layer-major
        for i in range(count):
            off = table + 4 * (i * words + 2 + 3 * layer)
            size = struct.unpack_from("<I", b, off)[0]
            struct.pack_into("<I", b, off + 4, zlib.crc32(b[pos:pos + size]))
            pos += size
    struct.pack_into("<I", b, hend, zlib.crc32(b[:hend]))
    return bytes(b)


def _fields(lay: dict) -> list[tuple[int, str]]:
    """(offset, struct format) of each scalar header field."""
    g, p = lay["geom"], lay["layers"]
    out = [(4, "<H"), (6, "<B"), (7, "<B"), (p, "<B"), (p + 1, "<B"), (p + 2, "<H"),
           (lay["segs"], "<I"), (lay["segs"] + 4, "<I")]
    if lay["image"]:
        out += [(g, "<I"), (g + 4, "<I"), (g + 8, "<B")]
    else:
        out += [(g, "<I"), (g + 4, "<H"), (g + 6, "<Q")]
    return out


def _value(rng: random.Random, old: int, fmt: str) -> int:
    top = (1 << (8 * struct.calcsize(fmt))) - 1
    choice = rng.random()
    if choice < 0.5:
        v = rng.choice(_BOUNDARY)
    elif choice < 0.8:
        v = old + rng.choice((-2, -1, 1, 2))
    else:
        v = rng.choice((old * 2, old // 2, rng.randint(0, top)))
    return min(max(v, 0), top)


def _set_field(b: bytearray, lay: dict, rng: random.Random) -> None:
    fields = _fields(lay)
    rows = min(lay["count"], (len(b) - lay["table"]) // (4 * lay["words"]))
    if rows > 0 and rng.random() < 0.4:  # a table cell: latent h or w, a length, a hash
        off = lay["table"] + 4 * (rng.randrange(rows) * lay["words"] + rng.randrange(lay["words"]))
        fields = [(off, "<I")]
    off, fmt = rng.choice(fields)
    if off + struct.calcsize(fmt) <= len(b):
        old = struct.unpack_from(fmt, b, off)[0]
        struct.pack_into(fmt, b, off, _value(rng, old, fmt))


def _streams(b: bytes | bytearray, lay: dict) -> list[tuple[int, int, int]]:
    """(table offset of the length, payload offset, length) of each stream present."""
    out, pos = [], lay["hend"] + 4
    rows = min(lay["count"], 1 << 12)
    for layer in range(lay["n"]):
        for i in range(rows):
            off = lay["table"] + 4 * (i * lay["words"] + 2 + 3 * layer)
            if off + 4 > len(b):
                return out
            size = struct.unpack_from("<I", b, off)[0]
            out.append((off, pos, size))
            pos += size
    return out


def _resize_stream(b: bytearray, lay: dict, rng: random.Random) -> bytearray:
    """Shorten or lengthen one stream, its length field kept in step (a valid file)."""
    streams = [s for s in _streams(b, lay) if s[1] + s[2] <= len(b)]
    if not streams:
        return b
    off, pos, size = rng.choice(streams)
    delta = rng.choice((-4, -1, 1, 4, 8, -size))
    if delta < 0:
        cut = min(-delta, size)
        b = b[:pos + size - cut] + b[pos + size:]
        struct.pack_into("<I", b, off, size - cut)
    else:
        b = b[:pos + size] + bytes(rng.getrandbits(8) for _ in range(delta)) + b[pos + size:]
        struct.pack_into("<I", b, off, size + delta)
    return b


def _stream_bytes(b: bytearray, lay: dict, rng: random.Random) -> None:
    streams = [s for s in _streams(b, lay) if s[2] and s[1] + s[2] <= len(b)]
    if streams:
        _, pos, size = rng.choice(streams)
        for _ in range(rng.randint(1, 4)):
            b[pos + rng.randrange(size)] = rng.getrandbits(8)


def _rename(b: bytearray, rng: random.Random) -> bytearray:
    name = rng.choice((b"", b"photo-v3", b"speech-stft", "täst".encode(), b"\xff\xfe",
                       bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 20)))))
    return b[:24] + bytes([len(name)]) + name + b[25 + b[24]:]


def mutate_vqc(data: bytes, max_size: int, seed: int, byte_mutate=None) -> bytes:
    """One structure-aware mutation of a .vqc file, checksums fixed 9 times in 10.

    byte_mutate(data, max_size) -> bytes is the fuzzer's own byte mutator (atheris.Mutate)."""
    rng = random.Random(seed)
    b = bytearray(data)
    lay = layout(b)
    kind = rng.random()
    if lay is None or kind < 0.25:
        b = bytearray(byte_mutate(bytes(b), max_size) if byte_mutate else b[:-1])
    elif kind < 0.6:
        for _ in range(rng.randint(1, 2)):
            _set_field(b, lay, rng)
    elif kind < 0.75:
        _stream_bytes(b, lay, rng)
    elif kind < 0.9:
        b = _resize_stream(b, lay, rng)
    elif kind < 0.95:
        b = _rename(b, rng)
    else:  # one table row more or less (count kept in step; the payload is not)
        row = 4 * lay["words"]
        if lay["hend"] <= len(b) and lay["count"]:
            i = lay["table"] + row * rng.randrange(lay["count"])
            b = b[:i] + b[i:i + row] + b[i:] if rng.random() < 0.5 else b[:i] + b[i + row:]
            struct.pack_into("<I", b, lay["segs"] + 4,
                             lay["count"] + (1 if len(b) > len(data) else -1))
    out = fix_crcs(b) if rng.random() < 0.9 else bytes(b)
    return out[:max_size]


def fix_png_crcs(data: bytes) -> bytes:
    """A PNG's chunk CRCs recomputed, so that mutated chunk data reaches the decoders."""
    b = bytearray(data)
    pos = 8
    while pos + 12 <= len(b):
        length = struct.unpack_from(">I", b, pos)[0]
        end = pos + 8 + length
        if end + 4 > len(b):
            break
        struct.pack_into(">I", b, end, zlib.crc32(b[pos + 4:end]))
        pos = end + 4
    return bytes(b)
