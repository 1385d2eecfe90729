"""Image input and output: every mode handled on purpose, bad files refused with MediaError."""

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vqcodec.media import MediaError, MediaWarning, crop, load_image, pad_to_multiple, save_image

KODIM23 = Path(__file__).resolve().parents[2] / "shared" / "data" / "kodak" / "kodim23.png"


def rgb(h=12, w=17, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.mark.parametrize("ext", [".png", ".bmp", ".tiff", ".webp"])
def test_lossless_formats_round_trip(tmp_path, ext):
    a = rgb()
    p = tmp_path / f"a{ext}"
    save_image(a, p)
    assert np.array_equal(load_image(p), a)


def test_jpeg_and_grey(tmp_path):
    a = rgb()
    save_image(a, tmp_path / "a.jpg")
    assert load_image(tmp_path / "a.jpg").shape == (12, 17, 3)
    g = a[:, :, :1]
    save_image(g, tmp_path / "g.png")
    assert Image.open(tmp_path / "g.png").mode == "L"
    assert np.array_equal(load_image(tmp_path / "g.png"), g)


def test_alpha_is_composited_onto_white_with_warning(tmp_path):
    a = np.zeros((4, 4, 4), np.uint8)
    a[..., 0] = 200
    a[:2, :, 3] = 255  # top opaque red-ish, bottom fully transparent
    Image.fromarray(a, "RGBA").save(tmp_path / "a.png")
    with pytest.warns(MediaWarning, match="alpha"):
        out = load_image(tmp_path / "a.png")
    assert out.shape == (4, 4, 3)
    assert out[0, 0].tolist() == [200, 0, 0] and out[3, 0].tolist() == [255, 255, 255]
    Image.fromarray(a[..., [0, 3]], "LA").save(tmp_path / "la.png")
    with pytest.warns(MediaWarning):
        assert load_image(tmp_path / "la.png").shape == (4, 4, 1)


def test_16_bit_grey_reduced_with_warning(tmp_path):
    a = (np.arange(16, dtype=np.uint16).reshape(4, 4) * 4369)  # 0..65535
    Image.fromarray(a).save(tmp_path / "a16.png")
    with pytest.warns(MediaWarning, match="8 bits"):
        out = load_image(tmp_path / "a16.png")
    assert out.shape == (4, 4, 1) and out.dtype == np.uint8
    assert out[0, 0, 0] == 0 and out[3, 3, 0] == 255


def test_palette_cmyk_one_bit(tmp_path):
    Image.fromarray(rgb()).convert("P").save(tmp_path / "p.png")
    assert load_image(tmp_path / "p.png").shape == (12, 17, 3)
    p = Image.fromarray(rgb()).convert("P")
    p.info["transparency"] = 0
    p.save(tmp_path / "pt.png", transparency=0)
    with pytest.warns(MediaWarning):
        assert load_image(tmp_path / "pt.png").shape == (12, 17, 3)
    Image.fromarray(rgb()).convert("CMYK").save(tmp_path / "c.jpg")
    with pytest.warns(MediaWarning, match="CMYK"):
        assert load_image(tmp_path / "c.jpg").shape == (12, 17, 3)
    Image.fromarray(rgb()).convert("1").save(tmp_path / "b.png")
    assert load_image(tmp_path / "b.png").shape == (12, 17, 1)


def test_exif_orientation_applied(tmp_path):
    im = Image.fromarray(rgb(10, 20))
    exif = im.getexif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    im.save(tmp_path / "r.jpg", exif=exif)
    assert load_image(tmp_path / "r.jpg").shape == (20, 10, 3)


def test_animated_first_frame_with_warning(tmp_path):
    frames = [Image.fromarray(rgb(seed=i)) for i in range(3)]
    frames[0].save(tmp_path / "a.png", save_all=True, append_images=frames[1:])
    with pytest.warns(MediaWarning, match="first frame"):
        assert load_image(tmp_path / "a.png").shape == (12, 17, 3)


def test_bad_inputs(tmp_path):
    with pytest.raises(MediaError, match="no such file"):
        load_image(tmp_path / "missing.png")
    with pytest.raises(MediaError):
        load_image(tmp_path)
    (tmp_path / "t.png").write_text("not an image")
    with pytest.raises(MediaError, match="not a readable image"):
        load_image(tmp_path / "t.png")
    for ext in (".png", ".jpg"):
        p = tmp_path / f"full{ext}"
        Image.fromarray(rgb(64, 64)).save(p)
        cut = tmp_path / f"cut{ext}"
        cut.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
        with pytest.raises(MediaError):
            load_image(cut)
    with pytest.raises(MediaError, match="unsupported output format"):
        save_image(rgb(), tmp_path / "x.xyz")


def test_decompression_bomb_refused_before_decoding(tmp_path):
    p = tmp_path / "bomb.png"
    Image.fromarray(rgb(8, 8)).save(p)
    data = bytearray(p.read_bytes())
    ihdr = bytearray(data[12:29])  # b"IHDR" + 13 bytes of header
    ihdr[4:12] = struct.pack(">II", 100000, 100000)
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)))
    p.write_bytes(bytes(data))
    with pytest.raises(MediaError, match="too large"):
        load_image(p)


def test_pad_and_crop():
    a = rgb(5, 7)
    b = pad_to_multiple(a, 4)
    assert b.shape == (8, 8, 3) and np.array_equal(crop(b, 5, 7), a)
    assert np.array_equal(b[7, 7], a[4, 6])  # edge replicated
    assert pad_to_multiple(b, 4) is b


@pytest.mark.skipif(not KODIM23.exists(), reason="shared data not present")
def test_real_photo():
    a = load_image(KODIM23)
    assert a.dtype == np.uint8 and a.shape in ((512, 768, 3), (768, 512, 3))
