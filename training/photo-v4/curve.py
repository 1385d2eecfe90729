"""A photo campaign's learning curve (photo-v4's, photo-v5's): validation PSNR and estimated
bpp at fixed lam against CPU-hours, from the stage-1 logs of its chunks.

    python training/photo-v4/curve.py LOG [LOG ...] --cores 1 --json curve.json --plot curve.png \
        --bench 3=bench_kodak_c3.json --bench 4=bench_kodak_c4.json ... [--campaign photo-v5]

Each LOG is a chunk's train_log.jsonl, in campaign order; a chunk's hours continue from the
end of the previous chunk, its stage 1 and its prior's stage 2 (a chunk may train only the
prior). CPU-hours = wall seconds x cores used (--cores, or LOG@CORES for one chunk; photo-v4's
chunks ran on one pinned core, the other being busy with other work). --bench CHUNK=JSON adds
the real figure at the chunk's end: Kodak BD-rate against JPEG from `bench_shards.py merge` (or `vqcodec bench
images`). Validation is on 108 crops of 128 px from the held-out 5 % of
../shared/data/photos; bpp_est is the light entropy model's estimate (the coding prior
writes less: Kodak bytes are the real figure).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def read_chunk(path: Path, label: str, offset_h: float, cores: float) -> tuple[list[dict], float]:
    """The chunk's stage-1 validation rows, and the CPU-hours at its end (stage 2 included)."""
    rows, last, base = [], {1: 0.0, 2: 0.0}, {1: 0.0, 2: 0.0}
    for line in path.read_text().splitlines():
        rec = json.loads(line)
        st = rec.get("stage")
        if st in last:
            if rec["sec"] + base[st] < last[st]:  # a resumed run's clock starts again at 0
                base[st] = last[st]
            last[st] = max(last[st], rec["sec"] + base[st])
        if st != 1 or "val" not in rec:
            continue
        v = rec["val"]
        row = {"chunk": label, "step": rec["step"],
               "cpu_hours": round(offset_h + (rec["sec"] + base[1]) * cores / 3600, 3)}
        for key, val in v.items():
            if key.startswith("lam_"):
                row[f"psnr@{key[4:]}"], row[f"bpp@{key[4:]}"] = val["psnr"], val["bpp_est"]
            else:
                row[key] = val
        rows.append(row)
    return rows, round(offset_h + (last[1] + last[2]) * cores / 3600, 3)


def bench_point(chunk: int, path: Path, hours: float, campaign: str = "photo-v4",
                name: str = "") -> dict:
    """A chunk's Kodak BD-rates against JPEG from a merged bench JSON (the model named
    CAMPAIGN-cN there, or `name`)."""
    bd, name = json.loads(path.read_text())["bd_rate_percent"], name or f"{campaign}-c{chunk}"
    return {"chunk": f"chunk {chunk}", "cpu_hours": hours, "bench": path.name,
            "bd_jpeg_psnr": round(bd[f"{name} vs jpeg (psnr)"], 2),
            "bd_jpeg_ms_ssim": round(bd[f"{name} vs jpeg (ms_ssim)"], 2)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("logs", nargs="+", help="LOG, or LOG@CORES for a chunk on other cores")
    ap.add_argument("--cores", type=float, default=1.0)
    ap.add_argument("--json", dest="json_path", type=Path)
    ap.add_argument("--plot", type=Path)
    ap.add_argument("--bench", action="append", default=[], metavar="CHUNK=JSON[=MODEL]")
    ap.add_argument("--campaign", default="photo-v4", help="the models' names: CAMPAIGN-cN")
    args = ap.parse_args()
    rows: list[dict] = []
    ends = [0.0]
    for i, arg in enumerate(args.logs):  # LOG or LOG@CORES: a chunk that ran on more cores
        log, _, cores = str(arg).partition("@")
        chunk_rows, end = read_chunk(Path(log), f"chunk {i + 1}", ends[-1],
                                     float(cores) if cores else args.cores)
        rows += chunk_rows
        ends.append(end)
    benches = []
    for b in args.bench:  # CHUNK=JSON, or CHUNK=JSON=MODEL where the bench named it otherwise
        c, p, *name = b.split("=", 2)
        benches.append(bench_point(int(c), Path(p), ends[int(c)], args.campaign, *name))
    for r in rows + benches:
        print(json.dumps(r))
    if args.json_path:
        args.json_path.write_text(json.dumps({"validation": rows, "kodak": benches}, indent=1)
                                  + "\n")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(1, 4, figsize=(21, 4))
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
        for key, label in (("bd_jpeg_psnr", "PSNR"), ("bd_jpeg_ms_ssim", "MS-SSIM")):
            ax[3].plot([b["cpu_hours"] for b in benches], [b[key] for b in benches], "o-",
                       label=label)
        for b in benches:
            ax[3].annotate(b["chunk"], (b["cpu_hours"], b["bd_jpeg_psnr"]), fontsize=8)
        ax[3].axhline(-25, color="gray", ls="--", lw=1, label="must (PSNR)")
        ax[3].set_xlabel("CPU-hours (stage 1 + prior)")
        ax[3].set_ylabel("Kodak BD-rate vs JPEG (%)")
        ax[3].grid(alpha=0.3)
        ax[3].legend()
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
