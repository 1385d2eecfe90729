"""The prior's phases, A/B on the same codes: each model's prior (its integer weights, run as
GroupPrior's float loss as stage 2's validation does) scored on each model's cached validation
codes (OUT/coder_codes_0.pt of a `vqcodec train` run with prior_codes "coder").

    python training/photo-v5/ab_phases.py $CKPT/c16-prior-probe $CKPT/photo-v5-g48-c16-p4 \\
        --json training/photo-v5/ab_phases_c16.json

Why on the same codes: each run codes its crops under its own parent prior, so the validation
bits in two runs' logs also differ by the codes, not only by the prior.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from safetensors.torch import load_file

from vqcodec.group_prior import GroupPrior


def prior_of(folder: Path) -> tuple[GroupPrior, int | list[int]]:
    """The run's prior as GroupPrior, and the phases its config gives."""
    cfg = json.loads((folder / "config.json").read_text())
    p = cfg["prior"]
    net = GroupPrior(cfg["codebook_size"], cfg["num_layers"], cfg["groups"], p["width"],
                     p["blocks"], p["phases"])
    net.load_integer(load_file(str(folder / "prior.safetensors")))
    return net.eval(), p["phases"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("runs", type=Path, nargs="+", help="training folders (model + coder_codes_0.pt)")
    ap.add_argument("--val", type=int, default=64, help="validation grids, as stage 2 (64)")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    priors = {r.name: prior_of(r) for r in a.runs}
    rows = []
    for codes_of in a.runs:
        val = torch.load(codes_of / "coder_codes_0.pt", weights_only=True)["val"][:a.val]
        for name, (net, phases) in priors.items():
            with torch.no_grad():
                _, per = net.loss(val)
            rows.append({"prior": name, "phases": phases, "codes": codes_of.name,
                         "bits_per_index_per_layer": [round(b, 4) for b in per]})
            print(rows[-1], flush=True)
    if a.json:
        a.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
