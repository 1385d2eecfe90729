"""Kodak for one photo-v4 model on both cores in shards, merged with the anchors of an earlier
bench run (`vqcodec bench images` JSON: photo-v4-c2, photo-v3, Pillow's JPEG/WebP/AVIF on the
same 24 images; Pillow is deterministic, so they need not be coded again). Chunk 3's figures
came from this when the full bench (one core per set, 8 lams) would not end inside the session.

    taskset -c 0 python training/photo-v4/bench_shards.py run MODEL kodim01.png ... &
    taskset -c 1 python training/photo-v4/bench_shards.py run MODEL kodim24.png ... &
    python training/photo-v4/bench_shards.py merge NAME training/photo-v4/bench_kodak_c2.json \\
        training/photo-v4/bench_kodak_c3.json training/photo-v4/rd_kodak_c3.png

Each image's rows go to $ROWS/IMAGE.json (default /tmp/rows); an image another shard has taken
(IMAGE.busy) is skipped, so shards may run over the same list from both ends.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo, installed or not
from vqcodec import bench, media  # noqa: E402

KODAK = Path(os.environ.get("KODAK", "../shared/data/kodak"))
ROWS = Path(os.environ.get("ROWS", "/tmp/rows"))
# LAMBDAS="0 0.003 0.01" for fewer (a quicker look; the merged BD-rates then see fewer points)
LAMBDAS = tuple(float(v) for v in os.environ.get(
    "LAMBDAS", "0 0.001 0.002 0.003 0.005 0.01 0.02 0.03 0.05 0.1 0.3 1").split())


def run(model: str, names: list[str]) -> None:
    ROWS.mkdir(parents=True, exist_ok=True)
    for n in names:
        out, busy = ROWS / f"{n}.json", ROWS / f"{n}.busy"
        if out.exists() or busy.exists():
            continue
        busy.write_text("")
        rows, stats = bench._bench_model(model, {n: media.load_image(KODAK / n)}, "cpu", print,
                                         LAMBDAS)
        out.write_text(json.dumps({"rows": rows, "stats": stats}))


def merge(name: str, anchors_json: Path, out_json: Path, plot: Path) -> None:
    old = json.loads(anchors_json.read_text())
    parts = [json.loads(p.read_text()) for p in sorted(ROWS.glob("*.json"))]
    rows = [r for d in parts for r in d["rows"]]
    for r in rows:  # the model may have been given as a folder: name it
        r["codec"] = name + "@" + r["codec"].split("@", 1)[1]
    names = [name] + [c for c in old["layers"] if c != name]
    layers = {name: [d["stats"] for d in parts], **old["layers"]}
    res = bench.summarize(rows + old["per_image"], layers, names, ("jpeg", "webp", "avif"), 1.5)
    out_json.write_text(json.dumps(res, indent=1) + "\n")
    bench.plot(res, plot)
    for k, v in res["bd_rate_percent"].items():
        if k.startswith(name):
            print(f"{k}: {v:+.1f} %" if v is not None else f"{k}: -")
    for p in sorted((p for p in res["points"] if p["codec"] == name), key=lambda p: p["bpp"]):
        print(f"{p['setting']:>12} {p['bpp']:.3f} bpp {p['psnr']:.2f} dB {p['ms_ssim']:.4f} "
              f"enc {p['enc_s']:.2f} s dec {p['dec_s']:.2f} s ({p['images']} images)")


if __name__ == "__main__":
    if sys.argv[1] == "run":
        run(sys.argv[2], sys.argv[3:])
    else:
        merge(sys.argv[2], *map(Path, sys.argv[3:6]))
