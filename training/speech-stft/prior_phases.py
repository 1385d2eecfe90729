"""Study: how much the decode order of the speech-stft prior buys in rate.

Trains a fresh prior (the shipped width 64, 2 blocks) for each phase count on codes of 2-s crops
of speech/train, with the same budget (600 steps, batch 8, Adam 1e-3 cosine), and reports the
cross-entropy in bits per index per layer on codes of speech/test crops.

    python training/speech-stft/prior_phases.py [--steps 600] [--json prior_phases.json]

phases 1 = every position given only the coarser layers (one pass per layer); 2 = checkerboard
over the rows x frames grid (the shipped choice); 4 = 2x2 interleave (four passes per layer).
"""

import argparse
import json
import math
import os
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from vqcodec.models import load_model
from vqcodec.prior import Prior


def codes_of(codec, files: list[Path], per: int, seed: int, crop: int = 32000) -> torch.Tensor:
    g = np.random.default_rng(seed)
    out = []
    for f in files:
        x, rate = sf.read(f, dtype="float32")
        if rate != codec.sample_rate or x.ndim != 1 or len(x) < crop:
            continue
        for _ in range(per):
            s = int(g.integers(0, len(x) - crop + 1))
            with torch.no_grad():
                z = codec.encoder(torch.from_numpy(x[s:s + crop])[None, None])
                out.append(codec.quantizer.search(z))
    return torch.cat(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="speech-stft")
    ap.add_argument("--data", default=os.environ.get("VQCODEC_DATA", "../shared/data"))
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--json", default="training/speech-stft/prior_phases.json")
    a = ap.parse_args()
    codec = load_model(a.model).codec
    data = Path(a.data) / "speech"
    train = codes_of(codec, sorted((data / "train").rglob("*.flac")), 6, 0)
    test = codes_of(codec, sorted((data / "test").rglob("*.flac")), 3, 1)
    p = codec.config["prior"]
    res = {}
    for phases in (1, 2, 4):
        torch.manual_seed(0)
        prior = Prior(codec.m, codec.num_layers, p["width"], p["blocks"], phases)
        opt = torch.optim.Adam(prior.parameters(), lr=1e-3)
        for s in range(a.steps):
            for gr in opt.param_groups:
                gr["lr"] = 1e-3 * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * s / a.steps)))
            loss, _ = prior.loss(train[torch.randint(0, len(train), (8,))])
            opt.zero_grad()
            loss.backward()
            opt.step()
        prior.eval()
        with torch.no_grad():
            _, bits = prior.loss(test)
        res[phases] = {"bits_per_layer": [round(b, 4) for b in bits],
                       "mean": round(sum(bits) / len(bits), 4)}
        print(f"phases {phases}: bits/index per layer {res[phases]['bits_per_layer']}, "
              f"mean {res[phases]['mean']}", flush=True)
    Path(a.json).write_text(json.dumps({"steps": a.steps, "results": res}, indent=2) + "\n")


if __name__ == "__main__":
    main()
