"""Image input and output: every mode handled on purpose, bad files refused with MediaError."""

import struct
import time
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import shared_data
from vqcodec.media import (
    MediaError,
    MediaWarning,
    crop,
    load_image,
    modality_of,
    pad_to_multiple,
    save_image,
)


def rgb(h=12, w=17, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def load_quietly(p, **kw):
    """load_image, failing the test if it gives any warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return load_image(p, **kw)


def check(a, shape):
    assert a.shape == shape and a.dtype == np.uint8 and a.flags.c_contiguous and a.flags.writeable


def test_modality_of():
    assert modality_of(Path("a/B.PNG")) == "image" and modality_of(Path("x.Jpeg")) == "image"
    assert modality_of(Path("s.wav")) == "audio" and modality_of(Path("s.FLAC")) == "audio"
    assert modality_of(Path("x.vqc")) is None and modality_of(Path("noext")) is None


@pytest.mark.parametrize("ext", [".png", ".bmp", ".tif", ".tiff", ".webp", ".PNG"])
def test_lossless_formats_round_trip(tmp_path, ext):
    a = rgb()
    p = tmp_path / f"a{ext}"
    save_image(a, p)
    out = load_quietly(p)
    check(out, a.shape)
    assert np.array_equal(out, a)
    assert sorted(x.name for x in tmp_path.iterdir()) == [p.name]  # no temp file left


@pytest.mark.parametrize("ext", [".jpg", ".jpeg"])
def test_jpeg_round_trip_is_close(tmp_path, ext):
    y, x = np.mgrid[0:32, 0:48]
    a = np.stack([x * 5, y * 7, (x + y) * 3], -1).astype(np.uint8)  # smooth: JPEG does well
    save_image(a, tmp_path / f"a{ext}")
    out = load_quietly(tmp_path / f"a{ext}")
    check(out, a.shape)
    assert np.abs(out.astype(int) - a).mean() < 3


@pytest.mark.parametrize("ext", [".png", ".bmp", ".tiff", ".jpg"])
def test_grey_stays_grey_on_disk(tmp_path, ext):
    g = rgb()[:, :, :1]
    save_image(g, tmp_path / f"g{ext}")
    assert Image.open(tmp_path / f"g{ext}").mode == "L"
    out = load_quietly(tmp_path / f"g{ext}")
    check(out, g.shape)
    if ext != ".jpg":
        assert np.array_equal(out, g)
    save_image(g[:, :, 0], tmp_path / f"h{ext}")  # (H, W) is accepted too
    assert load_quietly(tmp_path / f"h{ext}").shape == g.shape


def test_save_refuses_bad_input(tmp_path):
    with pytest.raises(MediaError, match=r"unsupported output format '\.xyz' \(use .*\.png"):
        save_image(rgb(), tmp_path / "x.xyz")
    with pytest.raises(MediaError, match="uint8"):
        save_image(rgb().astype(np.float32), tmp_path / "x.png")
    with pytest.raises(MediaError, match="shape"):
        save_image(np.zeros((4, 4, 2), np.uint8), tmp_path / "x.png")
    assert list(tmp_path.iterdir()) == []


def test_rgba_composited_onto_white_with_warning(tmp_path):
    a = np.zeros((4, 4, 4), np.uint8)
    a[..., 0] = 200
    a[:2, :, 3] = 255  # top opaque, bottom fully transparent
    a[1, 1, 3] = 128  # half transparent: 200 * 128/255 + 255 * 127/255
    Image.fromarray(a, "RGBA").save(tmp_path / "a.png")
    with pytest.warns(MediaWarning, match="alpha channel dropped"):
        out = load_image(tmp_path / "a.png")
    check(out, (4, 4, 3))
    assert out[0, 0].tolist() == [200, 0, 0] and out[3, 0].tolist() == [255, 255, 255]
    assert out[1, 1].tolist() == [227, 127, 127]


def test_opaque_alpha_dropped_silently(tmp_path):
    a = np.dstack([rgb(), np.full((12, 17), 255, np.uint8)])
    Image.fromarray(a, "RGBA").save(tmp_path / "a.png")
    assert np.array_equal(load_quietly(tmp_path / "a.png"), a[:, :, :3])


def test_grey_alpha_gives_grey(tmp_path):
    a = np.zeros((4, 4, 2), np.uint8)
    a[..., 0] = 10
    a[:2, :, 1] = 255
    Image.fromarray(a, "LA").save(tmp_path / "la.png")
    with pytest.warns(MediaWarning, match="alpha"):
        out = load_image(tmp_path / "la.png")
    check(out, (4, 4, 1))
    assert out[0, 0, 0] == 10 and out[3, 0, 0] == 255


def test_palette_with_and_without_transparency(tmp_path):
    p = Image.fromarray(rgb()).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    p.save(tmp_path / "p.png")
    out = load_quietly(tmp_path / "p.png")
    check(out, (12, 17, 3))
    assert np.array_equal(out, np.array(p.convert("RGB")))
    idx = np.array(p)[0, 0]
    p.save(tmp_path / "pt.png", transparency=int(idx))
    with pytest.warns(MediaWarning, match="alpha"):
        out = load_image(tmp_path / "pt.png")
    check(out, (12, 17, 3))
    assert out[0, 0].tolist() == [255, 255, 255]
    p.save(tmp_path / "pt.gif", transparency=int(idx))
    with pytest.warns(MediaWarning, match="alpha"):
        assert load_image(tmp_path / "pt.gif")[0, 0].tolist() == [255, 255, 255]


def test_one_bit_gives_grey(tmp_path):
    b = Image.fromarray(rgb()).convert("1")
    b.save(tmp_path / "b.png")
    out = load_quietly(tmp_path / "b.png")
    check(out, (12, 17, 1))
    assert set(np.unique(out)) <= {0, 255}


def test_cmyk_jpeg_to_rgb_with_warning(tmp_path):
    Image.new("CMYK", (9, 7), (0, 255, 255, 0)).save(tmp_path / "c.jpg")  # red
    with pytest.warns(MediaWarning, match="CMYK"):
        out = load_image(tmp_path / "c.jpg")
    check(out, (7, 9, 3))
    assert out[3, 4, 0] > 200 and out[3, 4, 1:].max() < 60


def test_16_bit_grey_reduced_with_rounding(tmp_path):
    v = np.array([[0, 128, 129, 257], [32767, 65279, 65534, 65535]], np.uint16)
    Image.fromarray(v).save(tmp_path / "a16.png")
    assert Image.open(tmp_path / "a16.png").mode.startswith("I")
    with pytest.warns(MediaWarning, match="16-bit image reduced to 8 bits"):
        out = load_image(tmp_path / "a16.png")
    check(out, (2, 4, 1))
    assert out[..., 0].tolist() == [[0, 0, 1, 1], [127, 254, 255, 255]]
    Image.fromarray(v).save(tmp_path / "a16.tif")
    with pytest.warns(MediaWarning, match="16-bit"):
        assert np.array_equal(load_image(tmp_path / "a16.tif"), out)


def test_float_reduced_with_warning(tmp_path):
    f = np.array([[0.0, 0.5, 1.0]], np.float32)
    Image.fromarray(f, "F").save(tmp_path / "f.tif")
    with pytest.warns(MediaWarning, match="8 bits"):
        out = load_image(tmp_path / "f.tif")
    assert out[..., 0].tolist() == [[0, 128, 255]]


def test_exif_orientation_applied(tmp_path):
    a = np.zeros((10, 20, 3), np.uint8)
    a[:, :10] = 255  # left half white
    im = Image.fromarray(a)
    exif = im.getexif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    im.save(tmp_path / "r.jpg", exif=exif, quality=95)
    out = load_quietly(tmp_path / "r.jpg")
    check(out, (20, 10, 3))
    assert out[2, 5].min() > 200 and out[17, 5].max() < 50  # the white half is now on top


@pytest.mark.parametrize("ext", [".png", ".gif", ".webp", ".tiff"])
def test_animated_first_frame_with_warning(tmp_path, ext):
    frames = [Image.fromarray(np.full((6, 8, 3), 60 * i, np.uint8)) for i in range(3)]
    p = tmp_path / f"a{ext}"
    opts = {"lossless": True} if ext == ".webp" else {}
    frames[0].save(p, save_all=True, append_images=frames[1:], **opts)
    with pytest.warns(MediaWarning, match="first frame"):
        out = load_image(p)
    check(out, (6, 8, 3))
    assert out.max() == 0


def test_missing_folder_and_non_images(tmp_path):
    with pytest.raises(MediaError, match="no such file"):
        load_image(tmp_path / "missing.png")
    with pytest.raises(MediaError, match="directory"):
        load_image(tmp_path)
    (tmp_path / "t.png").write_text("not an image")
    with pytest.raises(MediaError, match=r"not a readable image: .*t\.png \(cannot identify"):
        load_image(tmp_path / "t.png")
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(MediaError, match="not a readable image"):
        load_image(tmp_path / "empty.jpg")


@pytest.mark.parametrize("ext", [".png", ".jpg", ".webp", ".gif"])
def test_truncated_files_refused(tmp_path, ext):
    p = tmp_path / f"full{ext}"
    Image.fromarray(rgb(64, 64)).save(p)
    cut = tmp_path / f"cut{ext}"
    cut.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    with pytest.raises(MediaError, match="not a readable image") as e:
        load_image(cut)
    assert "\n" not in str(e.value)


def _png_declaring(tmp_path, width, height):
    p = tmp_path / "bomb.png"
    Image.fromarray(rgb(8, 8)).save(p)
    data = bytearray(p.read_bytes())
    assert data[12:16] == b"IHDR"
    ihdr = bytearray(data[12:29])  # b"IHDR" + 13 bytes of header
    ihdr[4:12] = struct.pack(">II", width, height)
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)))
    p.write_bytes(bytes(data))
    return p


def test_decompression_bomb_refused_before_decoding(tmp_path):
    p = _png_declaring(tmp_path, 100000, 100000)
    t = time.perf_counter()
    with pytest.raises(MediaError, match="image too large"):
        load_image(p)
    assert time.perf_counter() - t < 1.0


def test_max_pixels_checked_from_the_header(tmp_path):
    # 20000 x 5000 = 1e8 pixels: over max_pixels but under Pillow's own hard limit.
    p = _png_declaring(tmp_path, 20000, 5000)
    msg = r"image too large: .* 20000x5000 pixels \(limit 1000000\)"
    with pytest.raises(MediaError, match=msg):
        load_image(p, max_pixels=1_000_000)
    Image.fromarray(rgb(40, 40)).save(tmp_path / "ok.png")
    with pytest.raises(MediaError, match="40x40 pixels"):
        load_image(tmp_path / "ok.png", max_pixels=1000)
    assert load_image(tmp_path / "ok.png", max_pixels=1600).shape == (40, 40, 3)


def test_pad_and_crop():
    a = rgb(5, 7)
    b = pad_to_multiple(a, 4)
    assert b.shape == (8, 8, 3) and np.array_equal(crop(b, 5, 7), a)
    assert np.array_equal(b[7, 7], a[4, 6]) and np.array_equal(b[6, :7], a[4])  # edge replicated
    assert pad_to_multiple(b, 4) is b
    g = pad_to_multiple(a[:, :, :1], 16)
    assert g.shape == (16, 16, 1) and np.array_equal(crop(g, 5, 7), a[:, :, :1])
    assert pad_to_multiple(a[:, :, 0], 3).shape == (6, 9)
    with pytest.raises(ValueError):
        pad_to_multiple(a, 0)
    with pytest.raises(ValueError):
        crop(a, 6, 7)


def test_real_photo():
    a = load_quietly(shared_data("kodak", "kodim23.png"))
    check(a, a.shape)
    assert a.shape in ((512, 768, 3), (768, 512, 3))
