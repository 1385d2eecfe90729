"""Tests for the .vqc container: round trips, truncation, every validation rule, fuzzing."""

from __future__ import annotations

import dataclasses
import io
import struct
import time
import tracemalloc
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vqcodec import container
from vqcodec.container import (
    DEFAULT_LIMITS,
    FORMAT_VERSION,
    MAGIC,
    AudioGeometry,
    ContainerError,
    ImageGeometry,
    Limits,
    Segment,
    VQCFile,
    code_hash,
    pack,
    peek_modality,
    read_header,
    truncate,
    unpack,
)

MODEL_ID = bytes(range(16))
NAME = "hrvq-img-täst"  # non-ASCII on purpose: the length byte counts utf-8 bytes
# Offsets inside an image header with this name (see FORMAT.md).
NAME_LEN = len(NAME.encode())
OFF_LAYERS = 25 + NAME_LEN  # num_layers_model u8, num_layers u8, codebook_size u16
OFF_GEOM = OFF_LAYERS + 4  # image: width u32, height u32, channels u8
OFF_SEGS = OFF_GEOM + 9  # segment_size u32, num_segments u32
OFF_TABLE = OFF_SEGS + 8


def _segment(rng: np.random.Generator, layers: int, shape=(4, 6)) -> Segment:
    streams = [rng.bytes(int(rng.integers(0, 40))) for _ in range(layers)]
    hashes = [code_hash(rng.integers(0, 256, size=shape)) for _ in range(layers)]
    return Segment(latent_shape=shape, streams=streams, code_hashes=hashes)


def _image(segments: int = 1, layers: int = 3, seed: int = 0) -> VQCFile:
    rng = np.random.default_rng(seed)
    return VQCFile(
        modality="image",
        model_name=NAME,
        model_id=MODEL_ID,
        num_layers_model=4,
        codebook_size=256,
        # One row of 32-px tiles when tiled: the segment count must match the geometry.
        geometry=ImageGeometry(width=64 if segments == 1 else 32 * segments,
                               height=48 if segments == 1 else 32, channels=3),
        segment_size=0 if segments == 1 else 32,
        segments=[_segment(rng, layers) for _ in range(segments)],
    )


def _audio() -> VQCFile:
    rng = np.random.default_rng(1)
    return VQCFile(
        modality="audio",
        model_name="hrvq-audio",
        model_id=b"\xff" * 16,
        num_layers_model=2,
        codebook_size=1024,
        geometry=AudioGeometry(sample_rate=44100, channels=2, num_samples=123457),
        segment_size=65536,
        segments=[_segment(rng, 2, shape=(1, 500)) for _ in range(2)],
    )


def _header_end(data: bytes, segments: int, layers: int) -> int:
    return OFF_TABLE + segments * (8 + 12 * layers)


def _patch(data: bytes, offset: int, fmt: str, *values: int) -> bytes:
    b = bytearray(data)
    struct.pack_into(fmt, b, offset, *values)
    return bytes(b)


def _fix_crc(data: bytes, header_end: int) -> bytes:
    return _patch(data, header_end, "<I", zlib.crc32(data[:header_end]))


def _err(data: bytes, match: str, limits: Limits = DEFAULT_LIMITS) -> None:
    with pytest.raises(ContainerError, match=match):
        unpack(data, limits)


# --- round trips ---


@pytest.mark.parametrize("make", [_image, lambda: _image(segments=5), _audio])
def test_round_trip(make) -> None:
    f = make()
    data = pack(f)
    assert data[:4] == MAGIC
    assert struct.unpack_from("<H", data, 4)[0] == FORMAT_VERSION
    g = unpack(data)
    assert g == f
    assert g.num_layers == len(f.segments[0].streams)
    assert g.payload_bytes == sum(len(s) for seg in f.segments for s in seg.streams)
    assert len(data) > g.payload_bytes
    assert pack(g) == data
    assert unpack(bytearray(data)) == f and unpack(memoryview(data)) == f


def test_empty_streams_allowed() -> None:
    f = _image()
    f.segments[0].streams[1] = b""
    assert unpack(pack(f)) == f


def test_payload_is_layer_major() -> None:
    f = _image(segments=3, layers=2)
    data = pack(f)
    order = [seg.streams[layer] for layer in range(2) for seg in f.segments]
    assert data.endswith(b"".join(order))


# --- truncation ---


def test_truncate() -> None:
    f = _image(segments=3, layers=3)
    data = pack(f)
    full_payload = data[len(data) - f.payload_bytes :]
    for k in (1, 2, 3):
        t = truncate(f, k)
        assert t.num_layers == k
        assert all(s.streams == o.streams[:k] for s, o in zip(t.segments, f.segments, strict=True))
        tdata = pack(t)
        u = unpack(tdata)
        assert u == t
        payload = tdata[len(tdata) - u.payload_bytes :]
        assert full_payload.startswith(payload)
        assert u.layer_bytes() == f.layer_bytes()[:k]
    assert f.num_layers == 3  # the original is untouched
    for bad in (0, 4):
        with pytest.raises(ContainerError):
            truncate(f, bad)


# --- read_header ---


def test_read_header_prefix_and_whole() -> None:
    f = _image(segments=2)
    data = pack(f)
    end = _header_end(data, 2, 3) + 4
    for d in (data, data[:end]):
        h = read_header(d)
        assert h.model_id == MODEL_ID and h.model_name == NAME
        assert h.geometry == f.geometry and h.num_layers == 3
        assert h.payload_bytes == f.payload_bytes
        assert h.layer_bytes() == f.layer_bytes()
        assert [s.code_hashes for s in h.segments] == [s.code_hashes for s in f.segments]
        assert all(s.streams == [] for s in h.segments)
        with pytest.raises(ContainerError, match="cannot be packed"):
            pack(h)
    with pytest.raises(ContainerError, match="truncated header"):
        read_header(data[: end - 1])
    assert truncate(read_header(data), 1).layer_bytes() == f.layer_bytes()[:1]


def test_peek_modality() -> None:
    img = pack(_image(segments=1))
    assert peek_modality(img[:64]) == "image" and peek_modality(pack(_audio())) == "audio"
    assert peek_modality(img[:10]) is None and peek_modality(b"PNG" + img[3:]) is None


# --- validation of unpack, in header order ---


def test_bad_magic() -> None:
    _err(b"PNG\x1a" + pack(_image())[4:], r"not a \.vqc file \(bad magic\)")
    _err(b"", "truncated header")


def test_unknown_version() -> None:
    _err(_patch(pack(_image()), 4, "<H", 7), "version 7 .*supports 1")


def test_bad_modality_and_flags() -> None:
    data = pack(_image())
    _err(_patch(data, 6, "<B", 3), "unknown modality code 3")
    _err(_patch(data, 7, "<B", 1), "flags")


def test_bad_name() -> None:
    _err(_patch(pack(_image()), 25, "<2B", 0xFF, 0xFE), "utf-8")


@pytest.mark.parametrize(
    "model, stored, match",
    [(4, 0, "stored layer count 0"), (2, 3, "stored layer count 3 outside 1..2"),
     (17, 3, "model layer count 17"), (0, 0, "model layer count 0")],
)
def test_bad_layer_counts(model: int, stored: int, match: str) -> None:
    _err(_patch(pack(_image()), OFF_LAYERS, "<BB", model, stored), match)


def test_bad_codebook() -> None:
    _err(_patch(pack(_image()), OFF_LAYERS + 2, "<H", 1), "codebook size 1")


@pytest.mark.parametrize(
    "w, h, c, match",
    [(100000, 100000, 3, "outside 1..65536"), (60000, 60000, 3, "exceeds 268435456 pixels"),
     (0, 10, 3, "outside"), (64, 48, 2, "channels must be 1 or 3")],
)
def test_bad_image_geometry(w: int, h: int, c: int, match: str) -> None:
    start = time.perf_counter()
    _err(_patch(pack(_image()), OFF_GEOM, "<IIB", w, h, c), match)
    assert time.perf_counter() - start < 0.5


def test_bad_audio_geometry() -> None:
    data = pack(_audio())
    off = 25 + len(b"hrvq-audio") + 4
    _err(_patch(data, off, "<IHQ", 0, 2, 10), "sample rate 0")
    _err(_patch(data, off, "<IHQ", 44100, 0, 10), "audio channels 0")
    _err(_patch(data, off, "<IHQ", 44100, 65, 10), "audio channels 65")
    _err(_patch(data, off, "<IHQ", 44100, 2, 2**64 - 1), "num_samples")


def test_segment_count() -> None:
    data = pack(_image())
    _err(_patch(data, OFF_SEGS, "<II", 0, 0), "segment count 0")
    _err(_patch(data, OFF_SEGS, "<II", 32, 2**32 - 1), "segment count 4294967295")
    _err(_patch(data, OFF_SEGS, "<II", 0, 2), "segment size 0 means one segment")


def test_huge_segment_count_fails_fast() -> None:
    audio_segs = 25 + len(b"hrvq-audio") + 4 + 14  # audio: segment_size, num_segments
    data = _patch(pack(_audio()), audio_segs, "<II", 32, DEFAULT_LIMITS.max_segments)
    tracemalloc.start()
    start = time.perf_counter()
    try:
        _err(data, "segment table for 1048576 segments")
        _err(_patch(pack(_image()), OFF_SEGS, "<II", 32, DEFAULT_LIMITS.max_segments),
             "has 1048576 tiles, a 64x48 image in 32-px tiles has 4")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - start < 0.5
    assert peak < 1 << 20


def test_bad_latent() -> None:
    data = pack(_image(segments=2))
    end = _header_end(data, 2, 3)
    seg1 = OFF_TABLE + 8 + 12 * 3
    _err(_fix_crc(_patch(data, seg1, "<II", 0, 5), end), "segment 1 latent grid 0x5")
    _err(_fix_crc(_patch(data, seg1, "<II", 1 << 14, 1 << 13), end), "latent grid 16384x8192")


def test_header_crc() -> None:
    data = pack(_image())
    end = _header_end(data, 1, 3)
    _err(_patch(data, OFF_TABLE + 8 + 8, "<I", 12345), r"header is corrupt \(checksum")
    _err(_patch(data, end, "<I", zlib.crc32(data[:end]) ^ 1), "header is corrupt")


def test_payload_crc() -> None:
    f = _image(segments=2, layers=3)
    data = pack(f)
    # First byte of layer 2 of segment 0 (layer-major payload).
    pos = len(data) - f.payload_bytes + sum(len(s.streams[0]) for s in f.segments)
    assert len(f.segments[0].streams[1]) > 0
    b = bytearray(data)
    b[pos] ^= 0x10
    _err(bytes(b), r"^layer 2 stream of segment 0 is corrupt \(checksum mismatch\)$")


def test_stream_length_beyond_file() -> None:
    data = pack(_image())
    end = _header_end(data, 1, 3)
    _err(_fix_crc(_patch(data, OFF_TABLE + 8, "<I", 2**32 - 1), end), "truncated file: payload")


def test_every_prefix_is_refused() -> None:
    data = pack(_image(segments=2, layers=2))
    for n in range(len(data)):
        with pytest.raises(ContainerError):
            unpack(data[:n])


def test_trailing_bytes() -> None:
    _err(pack(_image()) + b"xyz", "^3 trailing bytes after payload$")


def test_custom_limits() -> None:
    _err(pack(_image()), "exceeds 100 pixels", Limits(max_pixels=100))


# --- pack validation ---


def _with(**kw) -> VQCFile:
    f = _image()
    for k, v in kw.items():
        setattr(f, k, v)
    return f


@pytest.mark.parametrize(
    "f, match",
    [
        (_with(modality="video"), "modality"),
        (_with(geometry=AudioGeometry(8000, 1, 10)), "needs ImageGeometry"),
        (_with(model_id=b"short"), "model_id must be 16 bytes"),
        (_with(model_name="x" * 256), "256 bytes"),
        (_with(segments=[]), "at least one segment"),
        (_with(num_layers_model=2), "stored layer count 3"),
        (_with(codebook_size=70000), "codebook size"),
        (_with(geometry=ImageGeometry(64, 48, 4)), "channels"),
        (_with(segment_size=-1), "segment size"),
    ],
)
def test_pack_rejects(f: VQCFile, match: str) -> None:
    with pytest.raises(ContainerError, match=match):
        pack(f)


def test_pack_rejects_segments() -> None:
    f = _image(segments=2)
    f.segments[1].streams.pop()
    with pytest.raises(ContainerError, match="segment 1 has 2 streams"):
        pack(f)
    f = _image()
    f.segments[0].latent_shape = (0, 3)
    with pytest.raises(ContainerError, match="latent grid"):
        pack(f)
    f = _image()
    f.segments[0].code_hashes[0] = 2**32
    with pytest.raises(ContainerError, match="too large"):
        pack(f)


# --- code_hash ---


def test_code_hash() -> None:
    rng = np.random.default_rng(5)
    a = rng.integers(0, 65536, size=(8, 9))
    h = code_hash(a)
    assert h == code_hash(a.astype(np.uint16)) == code_hash(a.astype(np.int32))
    assert h == zlib.crc32(a.astype("<u2").tobytes())
    assert 0 <= h < 2**32
    assert code_hash(a.T) == code_hash(np.ascontiguousarray(a.T))
    b = a.copy()
    b[3, 4] ^= 1
    assert code_hash(b) != h
    assert code_hash(np.zeros(0, dtype=np.int64)) == zlib.crc32(b"")
    for bad in (np.array([-1]), np.array([65536]), np.array([1.0])):
        with pytest.raises(ValueError):
            code_hash(bad)


# --- fuzzing: any mutation unpacks or raises ContainerError, nothing else ---

_BASE = pack(_image(segments=2, layers=2))
_BASE_HEADER_END = _header_end(_BASE, 2, 2)

_mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, len(_BASE) - 1), st.integers(0, 7)),
    st.tuples(st.just("cut"), st.integers(0, len(_BASE))),
    st.tuples(st.just("append"), st.binary(min_size=1, max_size=64)),
    st.tuples(st.just("write"), st.integers(0, len(_BASE) - 1), st.binary(min_size=1, max_size=8)),
)


def _mutate(data: bytes, mutations: list[tuple]) -> bytes:
    b = bytearray(data)
    for m in mutations:
        if m[0] == "flip" and m[1] < len(b):
            b[m[1]] ^= 1 << m[2]
        elif m[0] == "cut":
            del b[m[1] :]
        elif m[0] == "append":
            b += m[1]
        elif m[0] == "write" and m[1] < len(b):
            b[m[1] : m[1] + len(m[2])] = m[2]
    return bytes(b)


def _check_never_crashes(data: bytes) -> None:
    for fn in (unpack, read_header):
        try:
            fn(data)
        except ContainerError as e:
            assert "\n" not in str(e)


@settings(max_examples=200, deadline=1000)
@given(st.lists(_mutation, min_size=1, max_size=3))
def test_fuzz_mutations(mutations: list[tuple]) -> None:
    _check_never_crashes(_mutate(_BASE, mutations))


@settings(max_examples=200, deadline=1000)
@given(st.lists(_mutation, min_size=1, max_size=3))
def test_fuzz_mutations_with_valid_header_crc(mutations: list[tuple]) -> None:
    # Re-signing the header lets mutated fields reach the checks behind the header CRC.
    data = _mutate(_BASE, mutations)
    if len(data) >= _BASE_HEADER_END + 4:
        data = _fix_crc(data, _BASE_HEADER_END)
    _check_never_crashes(data)


def test_container_imports_without_torch():
    import subprocess
    import sys

    code = ("import sys; sys.modules['torch'] = None\n"
            "import vqcodec.container as c\n"
            "assert 'torch' not in [m for m in sys.modules if sys.modules[m] is not None]\n"
            "print(c.FORMAT_VERSION)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == "1", r.stderr


# --- headers of any size, inspect, segment counts from the geometry ---


def test_header_size_and_read_header_file_past_64_kib() -> None:
    rng = np.random.default_rng(3)
    f = VQCFile("audio", "a", MODEL_ID, 2, 8, AudioGeometry(16000, 8, 16000 * 60), 160,
                [_segment(rng, 2, shape=(1, 1)) for _ in range(8 * 300)])
    data = pack(f)
    hsize = container.header_size(data[:100])
    assert hsize > 1 << 16 and hsize == len(data) - f.payload_bytes
    got = container.read_header_file(io.BytesIO(data))
    assert got.layer_bytes() == f.layer_bytes() and len(got.segments) == len(f.segments)
    with pytest.raises(ContainerError, match="truncated header"):
        container.read_header_file(io.BytesIO(data[: hsize - 1]))


def test_inspect_agrees_with_unpack() -> None:
    data = pack(_image(segments=3, layers=2))
    head, per_layer = container.inspect(data)
    full = unpack(data)
    assert per_layer == full.layer_bytes() and head.num_layers == full.num_layers
    assert len(head.segments) == 1 and head.geometry == full.geometry
    with pytest.raises(ContainerError, match="checksum"):
        container.inspect(data[:-1] + bytes([data[-1] ^ 1]))


def test_segment_counts_follow_the_geometry() -> None:
    with pytest.raises(ContainerError, match="has 3 tiles.*has 4"):
        pack(dataclasses.replace(_image(segments=3), geometry=ImageGeometry(64, 64, 3)))
    a = _audio()
    with pytest.raises(ContainerError, match="multiple of the 2 channels"):
        pack(dataclasses.replace(a, segments=a.segments[:1]))
