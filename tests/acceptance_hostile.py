"""Issue 16's acceptance checks, run as a user would: each case is a `vqcodec` command under
/usr/bin/time -v (peak RSS, wall time), with the shipped models.

    python tests/acceptance_hostile.py [--big]     # --big adds the 67-Mpx flat PNG (minutes)

Writes tests/fuzz_results/acceptance.json: per case the command, exit status, wall seconds,
peak RSS (MB), the first stderr line, and whether an existing output survived. Not collected by
pytest (tests/test_hostile*.py test the same classes with tiny models)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np
import soundfile as sf
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.conftest import speechlike  # noqa: E402
from vqcodec import audio_codec, container  # noqa: E402
from vqcodec.models import load_model  # noqa: E402


def vqcodec(*args) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    p = subprocess.run(["/usr/bin/time", "-v", sys.executable, "-m", "vqcodec", *map(str, args)],
                       capture_output=True, text=True, cwd=REPO, env=env)
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr).group(1))
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", p.stderr).group(1)
    secs = sum(float(x) * 60 ** i for i, x in enumerate(reversed(wall.split(":"))))
    lines = [ln for ln in p.stderr.splitlines() if ln.strip() and not ln.startswith("\t")
             and "Command exited" not in ln]
    return {"command": "vqcodec " + " ".join(map(str, args)), "exit": p.returncode,
            "seconds": round(secs, 2), "peak_rss_mb": round(rss / 1024),
            "stderr": lines[:2], "traceback": "Traceback" in p.stderr}


def _png(w: int, h: int, idat: bytes, depth: int = 8) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, 2, 0, 0, 0))
            + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


def _crafted_image(lm, w: int, h: int, tile: int, latent=None, **change) -> bytes:
    c = lm.codec
    count = 1 if tile == 0 else -(-w // tile) * -(-h // tile)
    n = change.pop("layers", c.num_layers)
    seg = container.Segment(latent or c.latent_shape(min(h, tile or h), min(w, tile or w)),
                            [b""] * n, [0] * n)
    f = container.VQCFile("image", lm.name, lm.model_id, n if n > c.num_layers else c.num_layers,
                          c.m, container.ImageGeometry(w, h, 3), tile,
                          [dataclasses.replace(seg) for _ in range(count)])
    return container.pack(dataclasses.replace(f, **change))


def cases(d: Path, big: bool) -> dict:
    photo, speech = load_model("photo-v3"), load_model("speech-stft", "cpu", "audio")
    out = {}
    (d / "untiled.vqc").write_bytes(_crafted_image(photo, 65536, 4096, 0))
    out["vqc: one untiled 65536x4096 segment (114 B)"] = vqcodec(
        "decompress", d / "untiled.vqc", "-o", d / "u.png")
    (d / "tiled.vqc").write_bytes(_crafted_image(photo, 8192, 8192, 1024))
    out["vqc: 8192x8192 in 64 tiles of empty streams"] = vqcodec(
        "decompress", d / "tiled.vqc", "-o", d / "t.png")
    (d / "layers16.vqc").write_bytes(_crafted_image(photo, 64, 64, 0, layers=16))
    out["vqc: 16 layers stored for a 4-layer model"] = vqcodec(
        "decompress", d / "layers16.vqc", "-o", d / "l.png")
    real = container.unpack(audio_codec.compress_audio(speechlike(0.5, 16000, 0), 16000, speech))
    (d / "renamed.vqc").write_bytes(container.pack(dataclasses.replace(real, model_name="photo-v3")))
    out["vqc: name says photo-v3, id is speech-stft"] = vqcodec(
        "decompress", d / "renamed.vqc", "-o", d / "renamed.wav")
    name = b"x"
    hdr = (struct.pack("<4sHBB16sB", b"VQC\x1a", 1, 2, 0, bytes(16), 1) + name
           + struct.pack("<BBH", 4, 1, 8) + struct.pack("<IHQ", 16000, 64, 16000 * 3600 * 20)
           + struct.pack("<II", 160000, 1 << 20))
    rows = np.zeros((1 << 20, 5), "<u4")
    rows[:, :2] = (5, 1000)
    hdr += rows.tobytes()
    (d / "million.vqc").write_bytes(hdr + struct.pack("<I", zlib.crc32(hdr)))
    out["info: 2^20 segments (20 MB header)"] = vqcodec("info", d / "million.vqc")

    rows4 = b"".join(b"\0" + bytes(3 * 12000) for _ in range(4))
    (d / "bomb.png").write_bytes(_png(12000, 12000, zlib.compress(rows4, 9)))
    out[f"png: 12000x12000 claimed, {(d / 'bomb.png').stat().st_size} B"] = vqcodec(
        "compress", d / "bomb.png", "-o", d / "bomb.vqc")
    rows4 = b"".join(b"\0" + bytes(3 * 8000) for _ in range(4))
    (d / "bomb8k.png").write_bytes(_png(8000, 8000, zlib.compress(rows4, 9)))
    out["png: 8000x8000 claimed (within the pixel budget), 4 rows"] = vqcodec(
        "compress", d / "bomb8k.png", "-o", d / "bomb8k.vqc")
    (d / "short.png").write_bytes(_png(3000, 3000, zlib.compress(bytes(4 * 9001)) + bytes(30000)))
    out["png: complete but short stream, padded past the 1032:1 bound"] = vqcodec(
        "compress", d / "short.png", "-o", d / "short.vqc")
    raw = b"".join(b"\0" + np.full(64 * 3, 40000, ">u2").tobytes() for _ in range(48))
    (d / "deep.png").write_bytes(_png(64, 48, zlib.compress(raw), depth=16))
    out["png: 16-bit RGB"] = vqcodec("compress", d / "deep.png", "-o", d / "deep.vqc")
    src = REPO.parent / "shared" / "data" / "kodak" / "kodim23.png"
    if src.is_file():
        Image.open(src).convert("RGB").resize((2048, 1536)).save(d / "photo.jpg", quality=85)
        out[f"jpeg: 2048x1536 photo, {(d / 'photo.jpg').stat().st_size // 1000} kB"] = vqcodec(
            "compress", d / "photo.jpg", "-o", d / "photo.vqc")
    if big:
        Image.fromarray(np.full((8192, 8192, 3), 128, np.uint8)).save(d / "flat.png")
        out[f"png: flat 8192x8192, {(d / 'flat.png').stat().st_size // 1000} kB"] = vqcodec(
            "compress", d / "flat.png", "-o", d / "flat.vqc")

    many = audio_codec.compress_audio(speechlike(2.6, 16000, 1, 8), 16000, speech, seconds=0.01)
    (d / "many.vqc").write_bytes(many)
    out[f"vqc: 8-ch audio, header {container.header_size(many)} B (> 64 KiB)"] = vqcodec(
        "decompress", d / "many.vqc", "-o", d / "many.wav")
    (d / "nine.vqc").write_bytes(audio_codec.compress_audio(speechlike(0.3, 16000, 2, 9), 16000,
                                                            speech))
    (d / "old.flac").write_bytes(b"precious")
    r = vqcodec("decompress", d / "nine.vqc", "-o", d / "old.flac", "--force")
    r["existing_output_intact"] = (d / "old.flac").read_bytes() == b"precious"
    out["9-channel audio to an existing .flac with --force"] = r
    x = speechlike(0.5, 16000, 3)
    x[5:9] = np.nan
    sf.write(d / "nan.wav", x, 16000, subtype="FLOAT")
    out["wav: NaN samples"] = vqcodec("compress", d / "nan.wav", "-o", d / "nan.vqc")
    t = np.arange(48000 * 2) / 48000
    sf.write(d / "sine.wav", 0.3 * np.sin(2 * np.pi * 1000 * t), 48000)
    out["wav: 1 kHz sine at 48 kHz"] = vqcodec("compress", d / "sine.wav", "-o", d / "sine.vqc")

    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(d / "ok.png")
    out["--device cuda"] = vqcodec("compress", d / "ok.png", "-o", d / "a.vqc", "--device", "cuda")
    out["--device foo"] = vqcodec("compress", d / "ok.png", "-o", d / "a.vqc", "--device", "foo")
    out["--layers 0"] = vqcodec("compress", d / "ok.png", "-o", d / "a.vqc", "--layers", "0")
    out["sample --model speech-stft"] = vqcodec("sample", "-o", d / "s.png", "--model",
                                                "speech-stft")
    out["decompress /dev/zero"] = vqcodec("decompress", "/dev/zero", "-o", d / "z.png")
    out["info /dev/zero"] = vqcodec("info", "/dev/zero")
    (d / "loop.png").symlink_to(d / "loop.png")
    out["symlink loop as input"] = vqcodec("compress", d / "loop.png", "-o", d / "loop.vqc")
    (d / "loop.vqc").symlink_to(d / "loop.vqc")
    out["symlink loop as output"] = vqcodec("compress", d / "ok.png", "-o", d / "loop.vqc",
                                            "--force")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--big", action="store_true")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        res = cases(Path(tmp), a.big)
    out = REPO / "tests" / "fuzz_results" / "acceptance.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(res, indent=2) + "\n")
    for k, v in res.items():
        print(f"{k:58s} exit {v['exit']}  {v['seconds']:6.2f} s  {v['peak_rss_mb']:5d} MB  "
              f"{'TRACEBACK ' if v['traceback'] else ''}{(v['stderr'] or [''])[0][:100]}")


if __name__ == "__main__":
    main()
