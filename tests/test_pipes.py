"""- as input and output (stdin/stdout), --format, and --json on single-file commands."""

import io
import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from tests.conftest import EXAMPLES, invoke
from tests.test_cli import REPO, fails_cleanly
from vqcodec import api, pipes
from vqcodec.models import load_model


def test_sniff():
    assert pipes.sniff((EXAMPLES / "photo.png").read_bytes()[:16]) == ".png"
    assert pipes.sniff((EXAMPLES / "speech.flac").read_bytes()[:16]) == ".flac"
    assert pipes.sniff(b"RIFF\0\0\0\0WAVEfmt ") == ".wav" and pipes.sniff(b"hello") is None
    assert pipes.sniff(b"VQC\x1a\x01\x00") == ".vqc"


def test_shell_pipe_round_trip(tiny_model, photo, tmp_path):
    """cat a.png | vqcodec compress - -o - | vqcodec decompress - -o out.png"""
    out = tmp_path / "out.png"
    py = f"{sys.executable} -m vqcodec"
    cmd = (f"cat '{photo}' | {py} compress - -o - --model '{tiny_model}' | "
           f"{py} decompress - -o '{out}' --model '{tiny_model}'")
    r = subprocess.run(cmd, shell=True, capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stderr
    direct = api.decompress(api.compress(np.asarray(Image.open(photo)), load_model(tiny_model)),
                            load_model(tiny_model))
    assert np.array_equal(np.asarray(Image.open(out)), direct)
    # the last command writes a file, so only its one-line report is on stdout; the first
    # one's report went to stderr, as its stdout carried the .vqc
    assert r.stdout.count("\n") == 1 and str(out) in r.stdout and "- -> -" in r.stderr


def test_stdout_carries_only_the_data(tiny_model, photo, tmp_path):
    r = invoke("compress", photo, "-o", "-", "--model", tiny_model)
    assert r.returncode == 0 and r.stdout_bytes[:4] == b"VQC\x1a"
    (tmp_path / "p.vqc").write_bytes(r.stdout_bytes)
    assert api.info(r.stdout_bytes)["width"] == 90
    for fmt, pil in (("png", "PNG"), ("jpg", "JPEG"), ("webp", "WEBP")):
        r = invoke("decompress", "-", "-o", "-", "--format", fmt, "--model", tiny_model,
                   input=r.stdout_bytes if fmt == "png" else (tmp_path / "p.vqc").read_bytes())
        assert r.returncode == 0, r.stderr
        assert Image.open(io.BytesIO(r.stdout_bytes)).format == pil


def test_audio_to_stdout(tmp_path):
    src = tmp_path / "s.wav"
    x, rate = sf.read(EXAMPLES / "speech.flac")
    sf.write(src, x[:rate], rate)
    assert invoke("compress", src, "-o", tmp_path / "s.vqc").returncode == 0
    r = invoke("decompress", tmp_path / "s.vqc", "-o", "-")  # default: wav
    assert r.returncode == 0 and r.stdout_bytes[:4] == b"RIFF"
    y, r2 = sf.read(io.BytesIO(r.stdout_bytes))
    assert r2 == rate and len(y) == rate
    r = invoke("decompress", tmp_path / "s.vqc", "-o", "-", "--format", "flac")
    assert r.stdout_bytes[:4] == b"fLaC"
    r = invoke("truncate", "-", "-o", "-", "--layers", "1", input=(tmp_path / "s.vqc").read_bytes())
    assert r.returncode == 0 and api.info(r.stdout_bytes)["layers_stored"] == 1


def test_json_on_single_file_commands(tiny_model, photo, tmp_path):
    vqc = tmp_path / "p.vqc"
    res = json.loads(invoke("compress", photo, "-o", vqc, "--model", tiny_model, "--json").stdout)
    assert res["bytes"] == vqc.stat().st_size and res["layers"] == 2 and res["rate_unit"] == "bpp"
    assert res["model"] == "tiny-a" and res["output"] == str(vqc) and res["elapsed_s"] >= 0
    res = json.loads(invoke("decompress", vqc, "-o", tmp_path / "b.png", "--model", tiny_model,
                            "--json").stdout)
    assert res["output_bytes"] == (tmp_path / "b.png").stat().st_size and res["width"] == 90
    res = json.loads(invoke("truncate", vqc, "-o", tmp_path / "t.vqc", "--layers", "1",
                            "--json").stdout)
    assert res["layers"] == 1 and res["bytes"] == (tmp_path / "t.vqc").stat().st_size
    res = json.loads(invoke("info", tmp_path / "t.vqc", "--json").stdout)
    assert res["layers_stored"] == 1
    res = json.loads(invoke("info", "-", "--json", input=vqc.read_bytes()).stdout)
    assert res["layers_stored"] == 2


@pytest.mark.parametrize("args,stdin,words", [
    (["decompress", "{vqc}", "-o", "-", "--format", "gif"], None, ["unknown --format"]),
    (["decompress", "{vqc}", "-o", "-", "--format", "flac"], None, ["this file is an image"]),
    (["decompress", "{vqc}", "-o", "{tmp}/x.png", "--format", "png"], None, ["-o -"]),
    (["compress", "{dir}", "-o", "-"], None, ["folder"]),
    (["decompress", "{dir}", "-o", "-"], None, ["folder"]),
    (["codes", "{dir}", "-o", "-"], None, ["folder"]),
    (["compress", "-", "-o", "{tmp}/x.vqc"], b"", ["empty"]),
    (["compress", "-", "-o", "{tmp}/x.vqc"], b"hello world", ["standard input"]),
    (["compress", "-", "-o", "{tmp}/x.vqc"], b"VQC\x1a\x01\x00\x01", ["not an image or audio"]),
    (["decompress", "-", "-o", "{tmp}/x.png"], b"\x89PNG\r\n\x1a\nxx", ["standard input"]),
    (["compress", "-"], b"x", ["needs -o"]),
    (["compress", "{photo}", "-o", "-", "--json"], None, ["--json"]),
])
def test_bad_pipes(tiny_model, photo, tmp_path, args, stdin, words):
    vqc, d = tmp_path / "p.vqc", tmp_path / "dir"
    d.mkdir()
    (d / "a.png").write_bytes(photo.read_bytes())
    assert invoke("compress", photo, "-o", vqc, "--model", tiny_model).returncode == 0
    fill = {"vqc": vqc, "tmp": tmp_path, "dir": d, "photo": photo}
    r = invoke(*[a.format(**{k: str(v) for k, v in fill.items()}) for a in args], input=stdin)
    fails_cleanly(r, *words)
    assert r.stdout_bytes == b"" and not (tmp_path / "x.png").exists()
    assert not (tmp_path / "x.vqc").exists()
