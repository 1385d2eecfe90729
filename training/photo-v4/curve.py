"""The photo-v4 campaign's learning curve: validation PSNR and estimated bpp at fixed lam
against CPU-hours, from the stage-1 logs of its chunks.

    python training/photo-v4/curve.py LOG [LOG ...] --cores 1 --json curve.json --plot curve.png

Each LOG is a chunk's train_log.jsonl, in campaign order; a chunk's hours continue from the
previous chunk's last record. CPU-hours = wall seconds of stage 1 x cores used (the chunks of
this campaign ran on one pinned core, the other being busy with other work). Validation is on
108 crops of 128 px from the held-out 5 % of ../shared/data/photos; bpp_est is the light
entropy model's estimate (the coding prior, trained in stage 2, writes about as much; Kodak
bytes from `vqcodec bench images` are the real figure).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def read_chunk(path: Path, label: str, offset_h: float, cores: float) -> list[dict]:
    rows = []
    for line in path.read_text().splitlines():
        rec = json.loads(line)
        if rec.get("stage") != 1 or "val" not in rec:
            continue
        v = rec["val"]
        row = {"chunk": label, "step": rec["step"],
               "cpu_hours": round(offset_h + rec["sec"] * cores / 3600, 3)}
        for key, val in v.items():
            if key.startswith("lam_"):
                row[f"psnr@{key[4:]}"], row[f"bpp@{key[4:]}"] = val["psnr"], val["bpp_est"]
            else:
                row[key] = val
        rows.append(row)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("logs", nargs="+", type=Path)
    ap.add_argument("--cores", type=float, default=1.0)
    ap.add_argument("--json", dest="json_path", type=Path)
    ap.add_argument("--plot", type=Path)
    args = ap.parse_args()
    rows: list[dict] = []
    for i, log in enumerate(args.logs):
        rows += read_chunk(log, f"chunk {i + 1}", rows[-1]["cpu_hours"] if rows else 0.0, args.cores)
    for r in rows:
        print(json.dumps(r))
    if args.json_path:
        args.json_path.write_text(json.dumps(rows, indent=1) + "\n")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(1, 3, figsize=(16, 4))
        lams = [k[5:] for k in rows[0] if k.startswith("psnr@")]
        for lam in lams:
            h = [r["cpu_hours"] for r in rows]
            ax[0].plot(h, [r[f"psnr@{lam}"] for r in rows], "o-", label=f"lam {lam}")
            ax[1].plot(h, [r[f"bpp@{lam}"] for r in rows], "o-", label=f"lam {lam}")
        # Fixed lam means another rate once the search changes (chunk 3 weighs groups by the
        # decoder's sensitivity), so the third panel compares each chunk's end in the RD plane.
        for chunk in dict.fromkeys(r["chunk"] for r in rows):
            last = [r for r in rows if r["chunk"] == chunk][-1]
            pts = sorted((last[f"bpp@{lam}"], last[f"psnr@{lam}"]) for lam in lams)
            ax[2].plot(*zip(*pts, strict=True), "o-", label=f"{chunk} step {last['step']}")
        ax[2].set_xlabel("val bpp (light entropy model)")
        ax[2].set_ylabel("val PSNR (dB)")
        ax[2].grid(alpha=0.3)
        ax[2].legend()
        ax[0].set_ylabel("val PSNR (dB)")
        ax[1].set_ylabel("val bpp (light entropy model)")
        for a in ax[:2]:
            a.set_xlabel("CPU-hours")
            a.grid(alpha=0.3)
            a.legend()
        fig.tight_layout()
        fig.savefig(args.plot, dpi=110)


if __name__ == "__main__":
    main()
