"""speech-stft-3's learning curve: quality against CPU-hours (2 cores) of one run.

    python training/speech-stft-3/curve.py [RUN]    # RUN: full (default) or a

Reads train_log_RUN.jsonl (the run's log, copied here at each chunk end: validation log-mel
distance and waveform SNR every 500 steps) and ceiling_RUN_sSTEP.json (ceiling.py's PESQ-WB on
the 40 test files from the checkpoint at STEP: unquantized and nearest-word codes).
Writes curve_RUN.json and curve_RUN.png. Hours are the wall time of stage 1 on both cores:
the sum, over the log's resumed segments, of each segment's elapsed seconds up to the step
(steps a cut-off segment ran past its last checkpoint count as spent: they were).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).parent


def hours_by_step(records: list[dict]) -> dict[int, float]:
    """Cumulative stage-1 wall hours at each logged step (a resume restarts `sec`)."""
    done, last, out = 0.0, 0.0, {}
    for r in records:
        if r.get("stage") != 1 or "sec" not in r:
            continue
        if r["sec"] < last:  # a new segment (--resume): bank the previous one
            done += last
        last = r["sec"]
        out[r["step"]] = round((done + last) / 3600, 3)
    return out


def curve(run: str, log: Path, ceilings: list[Path]) -> dict:
    records = [json.loads(line) for line in log.read_text().splitlines()]
    hours = hours_by_step(records)
    # a step run twice (a segment cut off after its last checkpoint) counts its last run
    val = list({r["step"]: {"step": r["step"], "hours": hours[r["step"]], **r["val"]}
                for r in records if r.get("stage") == 1 and "val" in r}.values())
    pesq = []
    for f in ceilings:
        step = int(re.search(r"_s(\d+)\.json$", f.name).group(1))
        at = max(s for s in hours if s < step)  # the checkpoint is written after step - 1
        pesq.append({"step": step, "hours": hours[at], **json.loads(f.read_text())["mean"]})
    return {"campaign": f"speech-stft-3 {run}", "metric": "pesq-wb (test, 40 files)",
            "val": val, "pesq": sorted(pesq, key=lambda p: p["step"])}


def plot(c: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    for k, label in (("unquantized", "unquantized"), ("layers_2", "2 layers (~7 kbps)"),
                     ("layers_4", "4 layers")):
        a.plot([p["hours"] for p in c["pesq"]], [p[k] for p in c["pesq"]], "o-", label=label)
    a.axhline(3.0, ls="--", c="gray", lw=1)
    a.set_xlim(left=0)
    a.set(xlabel="CPU-hours (2 cores)", ylabel="PESQ-WB, test speakers", title=c["campaign"])
    a.legend()
    v = [r for r in c["val"] if r["step"] > 0]
    b.plot([r["hours"] for r in v], [r["mel_2"] for r in v], label="val log-mel L1, 2 layers")
    b.set(xlabel="CPU-hours (2 cores)", ylabel="log-mel L1")
    b2 = b.twinx()
    b2.plot([r["hours"] for r in v], [r["snr_2"] for r in v], c="C1", label="val SNR dB, 2 layers")
    b2.set_ylabel("waveform SNR, dB")
    b.legend(loc="upper center", fontsize=8)
    b2.legend(loc="center right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> None:
    run = sys.argv[1] if len(sys.argv) > 1 else "full"
    c = curve(run, HERE / f"train_log_{run}.jsonl", sorted(HERE.glob(f"ceiling_{run}_s*.json")))
    (HERE / f"curve_{run}.json").write_text(json.dumps(c, indent=1) + "\n")
    plot(c, HERE / f"curve_{run}.png")
    for p in c["pesq"]:
        print(p)


if __name__ == "__main__":
    main()
