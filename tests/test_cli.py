"""The command line end to end with a tiny model: round trips, options and every bad input."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import synthetic_image
from vqcodec import api, container
from vqcodec.coding import cross_entropy_bits
from vqcodec.models import load_model
from vqcodec.prior import phase_map

REPO = Path(__file__).resolve().parents[1]


def cli(*args, env=None) -> subprocess.CompletedProcess:
    e = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, "-m", "vqcodec", *map(str, args)], capture_output=True,
                          text=True, cwd=REPO, env=e)


def fails_cleanly(r: subprocess.CompletedProcess, *words: str) -> None:
    assert r.returncode != 0
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout
    lines = [ln for ln in r.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), r.stderr
    for w in words:
        assert w in r.stderr.lower(), r.stderr


def test_round_trip_rgb(tiny_model, photo, tmp_path):
    vqc, back = tmp_path / "p.vqc", tmp_path / "back.png"
    r = cli("compress", photo, "-o", vqc, "--model", tiny_model)
    assert r.returncode == 0, r.stderr
    r = cli("decompress", vqc, "-o", back, "--model", tiny_model)
    assert r.returncode == 0, r.stderr
    a, b = np.asarray(Image.open(photo)), np.asarray(Image.open(back))
    assert a.shape == b.shape == (70, 90, 3)
    psnr = 10 * np.log10(255**2 / np.mean((a.astype(float) - b) ** 2))
    flat = 10 * np.log10(255**2 / np.mean((a - a.mean((0, 1))) ** 2))
    assert psnr > flat + 1  # a tiny model trained for seconds, but better than the mean colour


def test_grayscale_comes_back_grayscale_and_format_follows_extension(tiny_model, tmp_path):
    src = tmp_path / "g.png"
    Image.fromarray(synthetic_image(33, 47, 3, gray=True)[:, :, 0]).save(src)
    vqc = tmp_path / "g.vqc"
    assert cli("compress", src, "-o", vqc, "--model", tiny_model).returncode == 0
    for ext, fmt in ((".png", "PNG"), (".bmp", "BMP"), (".jpg", "JPEG")):
        out = tmp_path / f"back{ext}"
        r = cli("decompress", vqc, "-o", out, "--model", tiny_model)
        assert r.returncode == 0, r.stderr
        im = Image.open(out)
        assert im.format == fmt and im.mode == "L" and im.size == (47, 33)


def test_layers_option_gives_smaller_file_and_info(tiny_model, photo, tmp_path):
    full, one = tmp_path / "full.vqc", tmp_path / "one.vqc"
    assert cli("compress", photo, "-o", full, "--model", tiny_model).returncode == 0
    assert cli("compress", photo, "-o", one, "--model", tiny_model, "--layers", "1").returncode == 0
    assert one.stat().st_size < full.stat().st_size
    r = cli("info", one, "--json")
    meta = json.loads(r.stdout)
    assert meta["layers_stored"] == 1 and meta["layers_model"] == 2
    assert meta["width"] == 90 and meta["height"] == 70 and meta["bpp"] > 0
    assert cli("decompress", one, "-o", tmp_path / "one.png", "--model", tiny_model).returncode == 0
    fails_cleanly(cli("compress", photo, "-o", tmp_path / "x.vqc", "--model", tiny_model,
                      "--layers", "5"), "layers")


def test_models_json_lists_shipped_models():
    r = cli("models", "--json")
    assert r.returncode == 0
    ms = json.loads(r.stdout)
    assert isinstance(ms, list)
    for m in ms:
        assert {"name", "modality", "layers", "default", "path"} <= m.keys()
        assert m["modality"] in ("image", "audio") and isinstance(m["layers"], int)
    assert sum(m["default"] for m in ms if m["modality"] == "image") <= 1


def test_payload_within_one_percent_of_cross_entropy(tiny_model):
    lm = load_model(tiny_model)
    img = synthetic_image(384, 384, 7)
    f = container.unpack(api.compress(img, lm))
    codes = api.encode_codes(img, lm)
    ex = lm.codec.exact
    pm = phase_map(*codes.shape[2:], ex.phases)
    for i, stream in enumerate(f.segments[0].streams):
        ce = sum(cross_entropy_bits(codes[0, i][pm == p].numpy(), ex.phase_probs(codes, i, p)[0])
                 for p in range(ex.phases))
        assert ce <= 8 * len(stream) <= 1.01 * ce, (i, ce, 8 * len(stream))


def test_same_bytes_with_one_and_two_threads(tiny_model, photo, tmp_path):
    outs = []
    for t in ("1", "2"):
        out = tmp_path / f"t{t}.vqc"
        r = cli("compress", photo, "-o", out, "--model", tiny_model, "--device", "cpu",
                env={"OMP_NUM_THREADS": t})
        assert r.returncode == 0, r.stderr
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]


# -- bad input: one clear line, non-zero exit, no output ------------------------------------------
def test_missing_input(tmp_path, tiny_model):
    out = tmp_path / "o.vqc"
    fails_cleanly(cli("compress", tmp_path / "nope.png", "-o", out, "--model", tiny_model))
    fails_cleanly(cli("decompress", tmp_path / "nope.vqc", "-o", tmp_path / "o.png"))
    assert not out.exists()


def test_not_an_image(tmp_path, tiny_model):
    bad = tmp_path / "bad.png"
    bad.write_text("hello")
    out = tmp_path / "bad.vqc"
    fails_cleanly(cli("compress", bad, "-o", out, "--model", tiny_model), "image")
    assert not out.exists()


def test_not_a_vqc(tmp_path, tiny_model, photo):
    out = tmp_path / "o.png"
    fails_cleanly(cli("decompress", photo, "-o", out, "--model", tiny_model), "vqc")
    assert not out.exists()


def test_flipped_payload_byte_and_truncation(tmp_path, tiny_model, photo):
    vqc = tmp_path / "p.vqc"
    assert cli("compress", photo, "-o", vqc, "--model", tiny_model).returncode == 0
    data = vqc.read_bytes()
    flipped = bytearray(data)
    flipped[-3] ^= 0x10
    for name, blob in (("flip.vqc", bytes(flipped)), ("cut.vqc", data[: len(data) // 2]),
                       ("short.vqc", data[:10])):
        p = tmp_path / name
        p.write_bytes(blob)
        out = tmp_path / (name + ".png")
        fails_cleanly(cli("decompress", p, "-o", out, "--model", tiny_model))
        assert not out.exists()


def test_file_from_another_model(tmp_path, tiny_model, other_model, photo):
    vqc = tmp_path / "p.vqc"
    assert cli("compress", photo, "-o", vqc, "--model", tiny_model).returncode == 0
    out = tmp_path / "o.png"
    fails_cleanly(cli("decompress", vqc, "-o", out, "--model", other_model), "tiny-a")
    # Without --model, the file names the model it needs, which is not installed.
    fails_cleanly(cli("decompress", vqc, "-o", out), "tiny-a")
    assert not out.exists()


def test_existing_output_needs_force(tmp_path, tiny_model, photo):
    vqc = tmp_path / "p.vqc"
    vqc.write_bytes(b"precious")
    fails_cleanly(cli("compress", photo, "-o", vqc, "--model", tiny_model), "force")
    assert vqc.read_bytes() == b"precious"
    assert cli("compress", photo, "-o", vqc, "--model", tiny_model, "--force").returncode == 0
    assert vqc.read_bytes()[:4] == container.MAGIC
    fails_cleanly(cli("decompress", vqc, "-o", photo, "--model", tiny_model), "force")


def test_refuses_to_overwrite_input_even_with_force(tmp_path, tiny_model, photo):
    before = photo.read_bytes()
    r = cli("compress", photo, "-o", photo, "--model", tiny_model, "--force")
    fails_cleanly(r)
    assert photo.read_bytes() == before


def test_unknown_model_name(tmp_path, photo):
    fails_cleanly(cli("compress", photo, "-o", tmp_path / "o.vqc", "--model", "no-such-model"),
                  "no-such-model")


@pytest.mark.parametrize("args", [["--help"], ["compress", "--help"], ["train", "--help"]])
def test_help(args):
    r = cli(*args)
    assert r.returncode == 0 and "Usage" in r.stdout
