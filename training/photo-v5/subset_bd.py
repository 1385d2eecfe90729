"""BD-rates of a model benched on part of Kodak (bench_shards.py's per-image rows, a bench
stopped early) against the models and anchors of a full bench JSON, restricted to the same
images: a verdict before (or instead of) the 24-image bench of record.

    python training/photo-v5/subset_bd.py ROWS_DIR NAME training/photo-v5/bench_kodak_lam005.json \
        [--json OUT]
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from vqcodec.bench_results import bd_rate, frontier


def curves(rows: list[dict], images: set[str], max_bpp: float | None = None) -> dict:
    """Per codec: the frontier (bpp, psnr) and (bpp, ms_ssim) of the mean over `images` of each
    setting."""
    sets: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in rows:
        if r["image"] in images:
            codec, setting = r["codec"].split("@", 1)
            sets[(codec, setting)].append(r)
    out: dict[str, dict] = defaultdict(lambda: {"psnr": [], "ms_ssim": []})
    for (codec, _), rs in sets.items():
        if len(rs) != len(images):
            continue
        bpp = sum(r["bpp"] for r in rs) / len(rs)
        if max_bpp is not None and bpp > max_bpp:
            continue
        for metric in ("psnr", "ms_ssim"):
            out[codec][metric].append((bpp, sum(r[metric] for r in rs) / len(rs)))
    return {c: {m: frontier(p) for m, p in v.items()} for c, v in out.items()}


def main(rows_dir: Path, name: str, full: Path) -> dict:
    new = [dict(r, codec=name + "@" + r["codec"].split("@", 1)[1])
           for f in sorted(rows_dir.glob("*.json")) for r in json.loads(f.read_text())["rows"]]
    images = {r["image"] for r in new}
    old = json.loads(full.read_text())["per_image"]
    models = curves(old + new, images)
    anchors = curves(old, images, max_bpp=1.5)  # as image_bench.summarize: anchors to 1.5 bpp
    bd = {}
    for other in ["jpeg", "webp", "avif", *[c for c in models if c not in ("jpeg", "webp", "avif")]]:
        if other == name:
            continue
        ref = anchors[other] if other in ("jpeg", "webp", "avif") else models[other]
        for metric in ("psnr", "ms_ssim"):
            a, b = ref[metric], models[name][metric]
            bd[f"{name} vs {other} ({metric})"] = bd_rate(
                [p[0] for p in a], [p[1] for p in a], [p[0] for p in b], [p[1] for p in b])
    return {"images": sorted(images), "bd_rate_percent": bd, "frontier": models[name]}


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
