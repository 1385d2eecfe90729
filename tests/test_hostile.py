"""Hostile and careless inputs (issue 16): the resource budget, header fields against the model,
headers of any size, outputs checked before they are written, and silent changes made loud."""

import dataclasses
import io
import struct
import time
import tracemalloc
import warnings
import zlib

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from tests.conftest import speechlike, synthetic_image
from vqcodec import api, audio, audio_codec, container, limits, media
from vqcodec.models import load_model


@pytest.fixture(scope="module")
def lm(tiny_model):
    return load_model(tiny_model)


def _refused(fn, match: str, seconds: float = 5.0, peak_mb: float = 64) -> None:
    """fn() raises CodecError matching `match`, fast and without allocating much."""
    tracemalloc.start()
    t = time.perf_counter()
    try:
        with pytest.raises(api.CodecError, match=match):
            fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - t < seconds
    assert peak < peak_mb * 2**20, peak


def _image_file(lm, width: int, height: int, tile: int, latent=None) -> bytes:
    """A valid container (checksums right) with empty streams: a crafted, not a real, file."""
    count = limits.tile_count(width, height, tile)
    c = lm.codec
    seg = container.Segment(latent or c.latent_shape(min(height, tile or height),
                                                     min(width, tile or width)),
                            [b""] * c.num_layers, [0] * c.num_layers)
    return container.pack(container.VQCFile(
        "image", lm.name, lm.model_id, c.num_layers, c.m,
        container.ImageGeometry(width, height, 3), tile,
        [dataclasses.replace(seg) for _ in range(count)]))


# -- the budget ----------------------------------------------------------------------------------
def test_untiled_huge_image_is_refused_before_allocating(lm):
    data = _image_file(lm, 65536, 4096, 0, latent=(1024, 16384))  # the 114-byte file
    assert len(data) < 200
    _refused(lambda: api.decompress(data, lm), "over the limit")
    data = _image_file(lm, 2048, 1024, 0)  # within the pixel budget, but the writer tiles this
    _refused(lambda: api.decompress(data, lm), "writer tiles")


def test_tiled_image_of_empty_streams_fails_fast(lm):
    data = _image_file(lm, 4096, 4096, 1024)  # 16 tiles, every stream empty
    t = time.perf_counter()
    with pytest.raises(api.CodecError):
        api.decompress(data, lm)
    assert time.perf_counter() - t < 10


def test_tile_sizes_the_writer_cannot_make_are_refused(lm):
    img = synthetic_image(40, 40, 0)
    with pytest.raises(ValueError, match="tile size"):
        api.compress_many([img], lm, tile=2048)
    f = container.unpack(api.compress_many([synthetic_image(70, 80, 1)], lm, tile=32)[0])
    assert len(f.segments) == 9
    with pytest.raises(api.CodecError, match="tile size 16"):
        api.decompress(_image_file(lm, 70, 80, 16), lm)


def test_pixel_budget_follows_the_environment(lm, tmp_path, monkeypatch):
    p = tmp_path / "a.png"
    Image.fromarray(synthetic_image(40, 50, 0)).save(p)
    monkeypatch.setenv("VQCODEC_MAX_PIXELS", "1000")
    with pytest.raises(media.MediaError, match="limit 1000"):
        media.load_image(p)
    with pytest.raises(api.CodecError, match="over the limit"):
        api.decompress(_image_file(lm, 50, 40, 0), lm)


def test_png_whose_data_cannot_back_its_size_is_refused_fast(tmp_path):
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    def png(w, h, idat: bytes) -> bytes:
        return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", idat) + chunk(b"IEND", b""))

    four_rows = zlib.compress(b"".join(b"\0" + bytes(3 * 8000) for _ in range(4)), 9)
    cases = {"bomb.png": png(8000, 8000, four_rows),  # 126-byte class: deflate cannot back it
             # a complete stream of 4 rows, padded so the 1032:1 bound alone would pass
             "short.png": png(3000, 3000, zlib.compress(bytes(4 * 9001)) + bytes(30000))}
    for name, data in cases.items():
        p = tmp_path / name
        p.write_bytes(data)
        t = time.perf_counter()
        with pytest.raises(media.MediaError, match="too short for its size"):
            media.load_image(p)
        assert time.perf_counter() - t < 2
    Image.fromarray(np.zeros((3000, 3000), np.uint8)).save(tmp_path / "flat.png")  # 1032:1 real
    assert media.load_image(tmp_path / "flat.png").shape == (3000, 3000, 1)


def test_info_on_a_million_segments_is_quick():
    name = b"x"
    hdr = (struct.pack("<4sHBB16sB", b"VQC\x1a", 1, 2, 0, bytes(16), len(name)) + name
           + struct.pack("<BBH", 4, 1, 8) + struct.pack("<IHQ", 16000, 64, 16000 * 3600 * 20)
           + struct.pack("<II", 160000, 1 << 20))
    rows = np.zeros((1 << 20, 5), "<u4")
    rows[:, :2] = (5, 1000)
    hdr += rows.tobytes()
    data = hdr + struct.pack("<I", zlib.crc32(hdr))
    t = time.perf_counter()
    res = api.info(data)
    assert res["payload_bytes_per_layer"] == [0] and time.perf_counter() - t < 3


# -- header fields against the model -------------------------------------------------------------
@pytest.mark.parametrize("change,match", [
    (dict(num_layers_model=16), "has 16 layers"),  # and 16 stored: KeyError before
    (dict(codebook_size=512), "codebook size is 512"),
])
def test_header_fields_are_checked_against_the_model(lm, change, match):
    f = container.unpack(api.compress(synthetic_image(24, 32, 0), lm))
    f = dataclasses.replace(f, **change)
    if "num_layers_model" in change:
        f.segments = [dataclasses.replace(s, streams=s.streams * 8, code_hashes=s.code_hashes * 8)
                      for s in f.segments]
    _refused(lambda: api.decompress(container.pack(f), lm), match)


def test_a_name_that_disagrees_with_the_id_is_a_warning(lm):
    data = api.compress(synthetic_image(24, 32, 0), lm)
    f = dataclasses.replace(container.unpack(data), model_name="photo-v3")
    with pytest.warns(media.MediaWarning, match="names model 'photo-v3'.*the id decides"):
        out = api.decompress(container.pack(f), lm)
    assert np.array_equal(out, api.decompress(data, lm))


def test_layers_below_one_are_refused(lm):
    with pytest.raises(api.CodecError, match="1 or more"):
        api.decompress(api.compress(synthetic_image(24, 32, 0), lm), lm, layers=0)


def test_devices_are_checked(monkeypatch):
    with pytest.raises(api.CodecError, match="unknown device 'foo'"):
        api.resolve_device("foo")
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    with pytest.raises(api.CodecError, match="no CUDA GPU"):
        api.resolve_device("cuda")
    assert api.resolve_device("auto") == "cpu" and api.resolve_device("cpu") == "cpu"


# -- audio ---------------------------------------------------------------------------------------
def test_a_header_over_64_kib_decodes(tiny_audio, tmp_path):
    """8 channels in 1-frame chunks: the header is bigger than 64 KiB (data loss before)."""
    x = speechlike(1.05, 8000, 1, channels=8)
    data = audio_codec.compress_audio(x, 8000, tiny_audio, seconds=0.004)
    f = container.read_header(data)
    assert container.header_size(data) > 1 << 16 and len(f.segments) > 2048
    src = tmp_path / "many.vqc"
    src.write_bytes(data)
    with open(src, "rb") as fh:
        assert container.read_header_file(fh).num_layers == f.num_layers
    api.decompress_file(src, tmp_path / "back.wav", tiny_audio)
    assert sf.info(tmp_path / "back.wav").frames == len(x)


def test_audio_chunk_and_length_limits(tiny_audio):
    c = tiny_audio.codec
    with pytest.raises(api.CodecError, match="over the limit"):
        audio_codec.compress_audio(np.zeros(800, np.float32), 8000, tiny_audio, seconds=500)
    seg = container.Segment((c.rows, 1), [b""] * c.num_layers, [0] * c.num_layers)

    def crafted(rate, samples, segment_size, count):
        return container.pack(container.VQCFile(
            "audio", tiny_audio.name, tiny_audio.model_id, c.num_layers, c.m,
            container.AudioGeometry(rate, 1, samples), segment_size,
            [dataclasses.replace(seg) for _ in range(count)]))

    # a day at 1 Hz is 6.9e8 s of model-rate audio: refused by arithmetic, not by a list
    day = container.unpack(crafted(1, 86400, 320, 1))
    _refused(lambda: next(audio_codec.decode_chunks(day, tiny_audio)), "1 segments, its length")
    _refused(lambda: audio_codec.decompress_audio(crafted(1, 86400, 320, 1), tiny_audio),
             "too long to hold in memory")
    _refused(lambda: audio_codec.decompress_audio(crafted(8000, 8000 * 600, 0, 1), tiny_audio),
             "over the limit")


def test_nan_and_inf_samples_are_replaced_with_a_warning(tiny_audio, tmp_path):
    x = speechlike(0.2, 8000, 0)
    x[10], x[20] = np.nan, np.inf
    with pytest.warns(media.MediaWarning, match="2 NaN or infinite"):
        audio_codec.compress_audio(x, 8000, tiny_audio)
    sf.write(tmp_path / "nan.wav", x, 8000, subtype="FLOAT")
    with pytest.warns(media.MediaWarning, match="nan.wav: 2 NaN"):
        audio_codec.compress_audio_file(tmp_path / "nan.wav", tmp_path / "nan.vqc", tiny_audio)


def test_audio_outputs_are_checked_before_they_are_touched(tiny_audio, tmp_path):
    data = audio_codec.compress_audio(speechlike(0.2, 8000, 0, channels=9), 8000, tiny_audio)
    src = tmp_path / "nine.vqc"
    src.write_bytes(data)
    dst = tmp_path / "old.flac"
    dst.write_bytes(b"precious")
    with pytest.raises(media.MediaError, match="at most 8 channels"):
        api.decompress_file(src, dst, tiny_audio, force=True)
    assert dst.read_bytes() == b"precious" and sorted(p.name for p in tmp_path.iterdir()) == [
        "nine.vqc", "old.flac"]
    with pytest.raises(media.MediaError, match="200000 Hz"):  # libvorbis would crash
        audio.check_target(tmp_path / "x.ogg", 384000, 1, 10)
    with pytest.raises(media.MediaError, match="4 GB"):
        audio.check_target(tmp_path / "x.wav", 48000, 64, 48000 * 3600)


def test_a_failed_audio_open_leaves_an_existing_output(tmp_path, monkeypatch):
    dst = tmp_path / "keep.wav"
    dst.write_bytes(b"precious")

    def refuse(*args, **kwargs):
        raise RuntimeError("disk says no")
    monkeypatch.setattr(sf, "SoundFile", refuse)
    monkeypatch.setattr(audio, "check_target", lambda *a: ("WAV", "PCM_16"))
    with pytest.raises(media.MediaError, match="disk says no"):
        with audio.AudioWriter(dst, 8000, 1, 10, 8000):
            pass
    assert dst.read_bytes() == b"precious" and len(list(tmp_path.iterdir())) == 1


def test_too_low_sample_rates_are_refused(tmp_path):
    sf.write(tmp_path / "slow.wav", np.zeros(100, np.float32), 500)
    with pytest.raises(media.MediaError, match="sample rate 500"):
        audio.AudioReader(tmp_path / "slow.wav")


# -- images --------------------------------------------------------------------------------------
def test_sixteen_bit_rgb_png_warns(tmp_path):
    raw = b"".join(b"\0" + np.full(8 * 3, 40000, ">u2").tobytes() for _ in range(4))
    body = struct.pack(">IIBBBBB", 8, 4, 16, 2, 0, 0, 0)

    def chunk(kind, b):
        return struct.pack(">I", len(b)) + kind + b + struct.pack(">I", zlib.crc32(kind + b))
    p = tmp_path / "deep.png"
    p.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", body) + chunk(b"IDAT", zlib.compress(raw))
                  + chunk(b"IEND", b""))
    with pytest.warns(media.MediaWarning, match="16-bit image reduced to 8 bits"):
        arr = media.load_image(p)
    assert arr.shape == (4, 8, 3) and int(arr[0, 0, 0]) == 156
    Image.fromarray(synthetic_image(4, 8, 0)).save(tmp_path / "plain.png")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        media.load_image(tmp_path / "plain.png")


def test_image_outputs_are_checked_before_decoding(lm, tmp_path):
    with pytest.raises(media.MediaError, match="cannot be written as WEBP"):
        media.check_image_target(tmp_path / "x.webp", 20000, 100)
    media.check_image_target(tmp_path / "x.png", 20000, 100)


def test_symlink_loops_and_devices_are_named(tmp_path):
    loop = tmp_path / "loop.png"
    loop.symlink_to(loop)
    with pytest.raises(media.MediaError, match="symlink loop"):
        media.load_image(loop)
    with pytest.raises(api.CodecError, match="not a regular file"):
        api.check_vqc_input(io.__file__ and __import__("pathlib").Path("/dev/zero"))
    from vqcodec.files import OutputExistsError, check_output

    with pytest.raises(OutputExistsError, match="symlink loop"):
        check_output(tmp_path / "in.png", loop, force=True)


# -- audio level ---------------------------------------------------------------------------------
def test_level_loss_is_measured_and_warned(tiny_audio, monkeypatch):
    x = speechlike(0.3, 8000, 0)
    monkeypatch.setattr(audio_codec, "level_drop_db", lambda *a: 20.0)
    with pytest.warns(media.MediaWarning, match="20 dB quieter.*unlike what the model"):
        audio_codec.compress_audio(x, 8000, tiny_audio)
    with pytest.warns(media.MediaWarning, match="below the model's 8000 Hz"):
        audio_codec.compress_audio(x[::2], 4000, tiny_audio)
    monkeypatch.setattr(audio_codec, "level_drop_db", lambda *a: 2.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        audio_codec.compress_audio(x, 8000, tiny_audio)


def test_a_pure_tone_warns_with_the_speech_model():
    """speech-stft gives a 1 kHz sine back ~46 dB quieter at any input rate (measured: the
    model, not the resampler); the encoder says so."""
    lm = load_model("speech-stft", "cpu", "audio")
    t = np.arange(48000) / 48000
    with pytest.warns(media.MediaWarning, match="dB quieter") as rec:
        audio_codec.compress_audio((0.3 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32),
                                   48000, lm)
    drop = float(str(rec[0].message).split("back ")[1].split(" dB")[0])
    assert drop > 20
