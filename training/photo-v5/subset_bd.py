"""BD-rates of a model benched on part of Kodak (bench_shards.py's per-image rows, a bench
stopped early) against the models and anchors of a full bench JSON, restricted to the same
images: a verdict before (or instead of) the 24-image bench of record.

    python training/photo-v5/subset_bd.py ROWS_DIR NAME training/photo-v5/bench_kodak_lam005.json \
        [--json OUT]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from vqcodec import bench

ANCHORS = ("jpeg", "webp", "avif")


def main(rows_dir: Path, name: str, full: Path) -> dict:
    """bench.summarize (what `vqcodec bench images` and bench_shards.py merge report) over the
    images the rows cover, the new model named `name`."""
    new = [dict(r, codec=name + "@" + r["codec"].split("@", 1)[1])
           for f in sorted(rows_dir.glob("*.json")) for r in json.loads(f.read_text())["rows"]]
    images = {r["image"] for r in new}
    old = [r for r in json.loads(full.read_text())["per_image"] if r["image"] in images]
    models = list(dict.fromkeys(r["codec"].split("@")[0] for r in old + new
                                if r["codec"].split("@")[0] not in ANCHORS))
    res = bench.summarize(new + old, {}, models, ANCHORS, 1.5)
    return {"images": sorted(images),
            "bd_rate_percent": {k: v for k, v in res["bd_rate_percent"].items()
                                if k.startswith(name + " vs ")},
            "points": [p for p in res["points"] if p["codec"] == name]}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("rows", type=Path)
    ap.add_argument("name")
    ap.add_argument("full", type=Path)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    res = main(a.rows, a.name, a.full)
    print(f"{len(res['images'])} images")
    for k, v in res["bd_rate_percent"].items():
        if v is not None:
            print(f"{k}: {v:+.1f} %")
    if a.json:
        a.json.write_text(json.dumps(res, indent=1))
