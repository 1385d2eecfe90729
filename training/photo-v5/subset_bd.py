"""BD-rates of a model benched on part of Kodak (bench_shards.py's per-image rows, a bench
stopped early) against the models and anchors of a full bench JSON, restricted to the same
images: a verdict before (or instead of) the 24-image bench of record.

    python training/photo-v5/subset_bd.py ROWS_DIR NAME training/photo-v5/bench_kodak_lam005.json \
        [--json OUT] [--rows-of OTHER=OTHER_ROWS_DIR ...]

`--rows-of` adds another model's rows (an encode-time variant's baseline coded at the same lams),
so the new model is measured against it on equal terms: a rows folder, or a JSON this script
wrote (`--json` keeps the rows of the new model and of every `--rows-of` model in `per_image`, so
the next chunk's baselines need no rerun and no /tmp); `--lams` keeps only the models' settings
at those lams (a bench run at fewer lams against a full one; the anchors keep all theirs).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from add_rows import rows_of  # this folder's: run as a script, its folder is on sys.path

from vqcodec import bench

ANCHORS = ("jpeg", "webp", "avif")


def _lam(setting: str) -> float:
    """The lam of a bench setting: "2/lam0.01" -> 0.01, "3" (lam 0) -> 0.0."""
    return float(setting.split("/lam")[1]) if "/lam" in setting else 0.0


def main(rows_dir: Path, name: str, full: Path, others: dict[str, Path] | None = None,
         lams: set[float] | None = None) -> dict:
    """bench.summarize (what `vqcodec bench images` and bench_shards.py merge report) over the
    images the rows cover, the new model named `name`."""
    new = rows_of(rows_dir, name)
    images = {r["image"] for r in new}
    old = [r for r in json.loads(full.read_text())["per_image"] if r["image"] in images]
    for other, d in (others or {}).items():
        old = [r for r in old if r["codec"].split("@")[0] != other]
        old += [r for r in rows_of(d, other) if r["image"] in images]
    if lams is not None:
        new, old = ([r for r in rows if r["codec"].split("@")[0] in ANCHORS
                     or _lam(r["codec"].split("@")[1]) in lams] for rows in (new, old))
    models = list(dict.fromkeys(r["codec"].split("@")[0] for r in old + new
                                if r["codec"].split("@")[0] not in ANCHORS))
    res = bench.summarize(new + old, {}, models, ANCHORS, 1.5)
    mine = {name, *(others or {})}
    return {"images": sorted(images),
            "bd_rate_percent": {k: v for k, v in res["bd_rate_percent"].items()
                                if k.startswith(name + " vs ")},
            "points": [p for p in res["points"] if p["codec"] == name],
            "per_image": [r for r in new + old if r["codec"].split("@")[0] in mine]}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("rows", type=Path)
    ap.add_argument("name")
    ap.add_argument("full", type=Path)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--rows-of", action="append", default=[], metavar="NAME=DIR")
    ap.add_argument("--lams", help='e.g. "0 0.003 0.01"')
    a = ap.parse_args()
    others = {k: Path(v) for k, v in (o.split("=", 1) for o in a.rows_of)}
    lams = {float(v) for v in a.lams.split()} if a.lams else None
    res = main(a.rows, a.name, a.full, others, lams)
    print(f"{len(res['images'])} images")
    for k, v in res["bd_rate_percent"].items():
        if v is not None:
            print(f"{k}: {v:+.1f} %")
    if a.json:
        a.json.write_text(json.dumps(res, indent=1))
