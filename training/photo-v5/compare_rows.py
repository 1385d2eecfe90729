"""PSNR of two models' bench rows (bench_shards.py's per-image JSON) at the same settings on the
same images, for models that write the same bytes (a decoder-only chunk): the mean difference per
setting, and whether the bytes really are the same.

    python training/photo-v5/compare_rows.py NEW_ROWS_DIR OLD_ROWS_DIR [--json OUT]
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path


def compare(new_dir: Path, old_dir: Path) -> dict:
    diff, same_bytes, images = defaultdict(list), True, []
    for f in sorted(new_dir.glob("*.json")):
        old_f = old_dir / f.name
        if not old_f.exists():
            continue
        images.append(f.name.removesuffix(".json"))
        old = {r["codec"].split("@", 1)[1]: r for r in json.loads(old_f.read_text())["rows"]}
        for r in json.loads(f.read_text())["rows"]:
            setting = r["codec"].split("@", 1)[1]
            if setting in old:
                same_bytes &= abs(r["bpp"] - old[setting]["bpp"]) < 1e-9
                diff[setting].append(r["psnr"] - old[setting]["psnr"])
    rows = {s: round(sum(d) / len(d), 3) for s, d in sorted(diff.items())}
    return {"images": images, "same_bytes": same_bytes, "mean_psnr_gain_db": rows}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("new", type=Path)
    ap.add_argument("old", type=Path)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    res = compare(a.new, a.old)
    print(f"{len(res['images'])} images, same bytes: {res['same_bytes']}")
    for s, v in res["mean_psnr_gain_db"].items():
        print(f"{s:>12} {v:+.3f} dB")
    if a.json:
        a.json.write_text(json.dumps(res, indent=1) + "\n")
