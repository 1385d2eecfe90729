"""Hostile and careless input at the command line (issue 16): one line on stderr, exit 1, no
traceback, no output touched; and a folder rerun that notices changed inputs."""

import json
import os

import pytest
import torch
from PIL import Image

from tests.conftest import speechlike, synthetic_image
from tests.test_cli import cli, fails_cleanly
from vqcodec import audio_codec


@pytest.fixture
def vqc(tiny_model, photo, tmp_path):
    out = tmp_path / "p.vqc"
    assert cli("compress", photo, "-o", out, "--model", tiny_model).returncode == 0
    return out


def test_bad_devices_are_one_line(tiny_model, photo, tmp_path):
    fails_cleanly(cli("compress", photo, "-o", tmp_path / "a.vqc", "--model", tiny_model,
                      "--device", "foo"), "unknown device 'foo'")
    if not torch.cuda.is_available():
        fails_cleanly(cli("compress", photo, "-o", tmp_path / "a.vqc", "--model", tiny_model,
                          "--device", "cuda"), "no cuda gpu")
    assert not (tmp_path / "a.vqc").exists()


def test_layers_zero_is_one_line_and_exit_1(tiny_model, vqc, photo, tmp_path):
    r = cli("decompress", vqc, "-o", tmp_path / "b.png", "--layers", "0")
    fails_cleanly(r, "--layers must be 1 or more")
    assert r.returncode == 1
    r = cli("compress", photo, "-o", tmp_path / "c.vqc", "--model", tiny_model, "--layers", "0")
    fails_cleanly(r, "layers")
    assert r.returncode == 1


def test_sample_with_an_audio_model(tiny_audio, tmp_path):
    fails_cleanly(cli("sample", "-o", tmp_path / "s.png", "--model", tiny_audio.path),
                  "audio model")


def test_devices_and_loops_are_named(photo, tmp_path, tiny_model):
    fails_cleanly(cli("decompress", "/dev/zero", "-o", tmp_path / "z.png"), "not a regular file")
    fails_cleanly(cli("info", "/dev/zero"), "not a regular file")
    loop = tmp_path / "loop.png"
    loop.symlink_to(loop)
    fails_cleanly(cli("compress", loop, "-o", tmp_path / "l.vqc", "--model", tiny_model),
                  "symlink loop")
    out_loop = tmp_path / "o.vqc"
    out_loop.symlink_to(out_loop)
    fails_cleanly(cli("compress", photo, "-o", out_loop, "--model", tiny_model, "--force"),
                  "symlink loop")


def test_nine_channels_to_flac_keep_the_existing_output(tiny_audio, tmp_path):
    src = tmp_path / "nine.vqc"
    src.write_bytes(audio_codec.compress_audio(speechlike(0.2, 8000, 0, 9), 8000, tiny_audio))
    dst = tmp_path / "old.flac"
    dst.write_bytes(b"precious")
    fails_cleanly(cli("decompress", src, "-o", dst, "--force", "--model", tiny_audio.path),
                  "at most 8 channels")
    assert dst.read_bytes() == b"precious"


def test_folder_rerun_recodes_changed_inputs(tiny_model, tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    for i in range(3):
        Image.fromarray(synthetic_image(24, 32, i)).save(src / f"{i}.png")
    args = ("compress", src, "-o", out, "--model", tiny_model, "--json")
    first = json.loads(cli(*args).stdout)
    assert (first["done"], first["recoded"]) == (3, 0)
    before = (out / "0.png.vqc").read_bytes()
    Image.fromarray(synthetic_image(24, 32, 9)).save(src / "0.png")  # same size, new content
    st = (src / "1.png").stat()
    os.utime(src / "1.png", ns=(st.st_atime_ns, st.st_mtime_ns - 10**9))  # an older copy
    again = json.loads(cli(*args).stdout)
    assert (again["done"], again["recoded"], again["skipped"]) == (2, 2, 1)
    assert (out / "0.png.vqc").read_bytes() != before
    third = json.loads(cli(*args).stdout)
    assert (third["done"], third["skipped"]) == (0, 3)
