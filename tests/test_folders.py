"""Folder in, folder out: failures reported, resume, names restored, shards (issue acceptance)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from tests.conftest import synthetic_image

REPO = Path(__file__).resolve().parents[1]


def cli(*args, env=None):
    e = dict(os.environ, OMP_NUM_THREADS="1", **(env or {}))
    return subprocess.run([sys.executable, "-m", "vqcodec", *map(str, args)], capture_output=True,
                          text=True, cwd=REPO, env=e)


def tree(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def make_dataset(root: Path) -> None:
    (root / "a" / "b").mkdir(parents=True)
    for i, rel in enumerate(["x.png", "a/y.png", "a/b/z.jpg", "a/b/w.png"]):
        Image.fromarray(synthetic_image(40 + 8 * (i % 2), 56, i)).save(root / rel)
    Image.fromarray(synthetic_image(33, 41, 9, gray=True)[:, :, 0]).save(root / "a" / "grey.png")
    rgba = np.dstack([synthetic_image(36, 36, 5), np.full((36, 36), 128, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(root / "a" / "alpha.png")
    (root / "a" / "b" / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 50)
    (root / "notes.txt").write_text("not media")


def test_folder_round_trip_resume_and_failures(tiny_model, tmp_path):
    src, out, back = tmp_path / "in", tmp_path / "out", tmp_path / "back"
    make_dataset(src)
    r = cli("compress", src, "-o", out, "--model", tiny_model, "--json")
    assert r.returncode == 1, r.stderr
    s = json.loads(r.stdout)
    assert (s["done"], s["failed"], s["ignored"]) == (6, 1, 1)
    assert s["failures"][0]["path"] == "a/b/corrupt.png"
    expected = {"x.png.vqc", "a/y.png.vqc", "a/b/z.jpg.vqc", "a/b/w.png.vqc", "a/grey.png.vqc",
                "a/alpha.png.vqc"}
    assert tree(out) == expected
    # A rerun rewrites nothing.
    mtimes = {p: p.stat().st_mtime_ns for p in out.rglob("*.vqc")}
    r = cli("compress", src, "-o", out, "--model", tiny_model, "--json")
    s = json.loads(r.stdout)
    assert (s["done"], s["skipped"]) == (0, 6)
    assert mtimes == {p: p.stat().st_mtime_ns for p in out.rglob("*.vqc")}
    # A damaged output is redone; --force redoes all.
    victim = out / "a" / "y.png.vqc"
    victim.write_bytes(victim.read_bytes()[:20])
    s = json.loads(cli("compress", src, "-o", out, "--model", tiny_model, "--json").stdout)
    assert s["done"] == 1
    s = json.loads(cli("compress", src, "-o", out, "--model", tiny_model, "--json",
                       "--force").stdout)
    assert s["done"] == 6
    # Decompressing the folder restores every name; grey stays grey.
    r = cli("decompress", out, "-o", back, "--model", tiny_model, "--quiet")
    assert r.returncode == 0, r.stderr
    assert tree(back) == {n[: -len(".vqc")] for n in expected}
    assert Image.open(back / "a" / "grey.png").mode == "L"
    assert Image.open(back / "a" / "b" / "z.jpg").size == (56, 40)


def test_shards_are_disjoint_and_complete(tiny_model, tmp_path):
    src = tmp_path / "in"
    make_dataset(src)
    (src / "a" / "b" / "corrupt.png").unlink()
    outs = []
    for i in range(2):
        o = tmp_path / f"s{i}"
        r = cli("compress", src, "-o", o, "--model", tiny_model, "--shard", f"{i}/2", "--quiet")
        assert r.returncode == 0, r.stderr
        outs.append(tree(o) if o.exists() else set())
    assert not outs[0] & outs[1]
    assert outs[0] | outs[1] == {n + ".vqc" for n in tree(src) if not n.endswith(".txt")}
    # torchrun-style environment picks the shard too.
    o = tmp_path / "env"
    cli("compress", src, "-o", o, "--model", tiny_model, "--quiet",
        env={"RANK": "1", "WORLD_SIZE": "2"})
    assert (tree(o) if o.exists() else set()) == outs[1]


def test_folder_needs_output_and_bad_shard(tiny_model, tmp_path):
    src = tmp_path / "in"
    make_dataset(src)
    r = cli("compress", src, "--model", tiny_model)
    assert r.returncode == 1 and "-o" in r.stderr and "Traceback" not in r.stderr
    r = cli("compress", src, "-o", tmp_path / "o", "--model", tiny_model, "--shard", "2/2")
    assert r.returncode == 1 and "shard" in r.stderr and "Traceback" not in r.stderr
    r = cli("compress", src, "-o", src, "--model", tiny_model)
    assert r.returncode == 1 and "differ" in r.stderr


def test_kill_9_leaves_no_partial_output_and_rerun_finishes(tiny_model, tmp_path):
    import signal
    import time

    from vqcodec import container

    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    for i in range(40):
        Image.fromarray(synthetic_image(64, 64 + 4 * (i % 5), i)).save(src / f"{i:02d}.png")
    p = subprocess.Popen([sys.executable, "-m", "vqcodec", "compress", str(src), "-o", str(out),
                          "--model", str(tiny_model), "--quiet", "--batch-size", "1"],
                         cwd=REPO, env=dict(os.environ, OMP_NUM_THREADS="1"),
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and len(list(out.glob("[0-9]*.vqc"))) < 3:
        time.sleep(0.05)
    p.send_signal(signal.SIGKILL)
    p.wait()
    # Outputs appear only complete; a killed write can leave only a hidden temp file, which the
    # next run removes.
    written = [f for f in out.glob("*.vqc") if not f.name.startswith(".")]
    assert 0 < len(written) < 40
    for f in written:  # every visible output is complete
        container.unpack(f.read_bytes())
    r = cli("compress", src, "-o", out, "--model", tiny_model, "--json")
    s = json.loads(r.stdout)
    assert r.returncode == 0 and s["skipped"] == len(written) and s["done"] == 40 - len(written)
    assert sorted(x.name for x in out.iterdir()) == sorted(f"{i:02d}.png.vqc" for i in range(40))
