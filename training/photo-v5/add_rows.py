"""Add bench rows at more settings (bench_shards.py `run` with LAMBDAS="0.02 0.05") to a merged
Kodak bench JSON, for any of its models, and recompute its frontiers and BD-rates.

Why: the lam ladder the bench sweeps is sparse where the frontier bends (photo-v5-g48-c10: lam
0.03 gives 0.44 bpp, lam 0.01 0.80 bpp, and the straight line between them is what BD-rate
integrates), so models are compared on their interpolation as much as on their codes. Rows of
every model compared should be added, or the denser one is favoured.

    python training/photo-v5/add_rows.py BENCH.json OUT.json OUT.png \\
        photo-v5-g48-c10=/work/ckpt/rows_g48c10_x photo-v4-c6=/work/ckpt/rows_v4c6_x
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo, installed or not
from vqcodec import bench  # noqa: E402


def rows_of(source: Path, name: str) -> list[dict]:
    """The per-image rows bench_shards.py `run` wrote to a folder, their codec named `name`
    (the model may have been benched as a folder path); or, from a bench JSON with per-image
    rows (subset_bd.py --json keeps those it measured), the rows of the model `name`."""
    if source.is_file():
        rows = [r for r in json.loads(source.read_text()).get("per_image", [])
                if r["codec"].split("@", 1)[0] == name]
        if not rows:
            raise SystemExit(f"no bench rows of {name} in {source}")
        return rows
    files = sorted(source.glob("*.json"))
    if not files:
        raise SystemExit(f"no bench rows in {source}")
    return [dict(r, codec=name + "@" + r["codec"].split("@", 1)[1])
            for f in files for r in json.loads(f.read_text())["rows"]]


def add_rows(res: dict, extra: dict[str, Path]) -> dict:
    """The bench result `res` with each model's rows from its folder added (same image and
    setting: the new row replaces the old)."""
    rows = {(r["codec"], r["image"]): r for r in res["per_image"]}
    for name, folder in extra.items():
        rows.update(((r["codec"], r["image"]), r) for r in rows_of(folder, name))
    names = list(res["layers"])
    return bench.summarize(list(rows.values()), res["layers"], names, ("jpeg", "webp", "avif"),
                           1.5)


if __name__ == "__main__":
    src, out_json, plot = map(Path, sys.argv[1:4])
    extra = dict((a.split("=", 1)[0], Path(a.split("=", 1)[1])) for a in sys.argv[4:])
    res = add_rows(json.loads(src.read_text()), extra)
    out_json.write_text(json.dumps(res, indent=1) + "\n")
    bench.plot(res, plot)
    for k, v in res["bd_rate_percent"].items():
        if k.split(" vs ")[0] in extra:
            print(f"{k}: {v:+.1f} %" if v is not None else f"{k}: -")
