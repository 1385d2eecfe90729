"""Study: what prior capacity and context buy on a shipped photo model's codes.

The autoencoder and codebooks are fixed (the model's), so every variant sees the same codes:
only the prior changes. Each variant (width, residual blocks, phases) is trained for the same
number of steps from scratch on the codes of 128 px crops of the training files, with the
schedule of `vqcodec train`'s stage 2, and measured on the codes of 192 px crops of the held-out
5 % (the same shuffle as `vqcodec train --seed 0`; the prior never sees them):

    bits per index per layer (the float prior's cross-entropy, which the integer prior that
    codes the file matches to 0.002 bits: training/photo-v3/bench_kodak.json), and
    decode seconds: the integer prior's passes over a Kodak-sized code grid (128 x 192, all
    layers and phases), as `vqcodec decompress` runs them, on this CPU.

    python training/photo/ab_prior.py [--model photo-v3] [--steps 800] [variant ...]

Results: runs/ab_prior.json (a copy: training/photo/ab_prior.json) and the table in README.md.
"""

import argparse
import json
import os
import random
import time
from pathlib import Path

import torch

from vqcodec.models import load_model
from vqcodec.prior import ExactPrior, Prior, export_integer
from vqcodec.train import _lr
from vqcodec.train_image import find_images, load_crops
from vqcodec.train_run import split_files

REPO = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("VQCODEC_DATA", REPO.parent / "shared" / "data")) / "photos"
VARIANTS = {  # width, blocks, phases; w64-b2-p2 is what the shipped photo models use
    "w32-b2-p2": (32, 2, 2),
    "w64-b2-p2": (64, 2, 2),
    "w64-b2-p4": (64, 2, 4),
    "w64-b4-p2": (64, 4, 2),
    "w96-b2-p2": (96, 2, 2),
}


@torch.no_grad()
def codes_of(codec, files: list[Path], crop: int, per: int, seed: int) -> torch.Tensor:
    pool = load_crops(files, crop, per, seed, log=lambda s: None)
    out = [codec.quantizer.search(codec.encoder(pool[i:i + 32].float() / 255))
           for i in range(0, len(pool), 32)]
    return torch.cat(out)


def decode_seconds(prior: Prior, m: int, n: int, blocks: int, phases: int) -> float:
    exact = ExactPrior(export_integer(prior), m, n, blocks, phases, "cpu")
    codes = torch.randint(0, m, (1, n, 128, 192))
    best = float("inf")
    for _ in range(2):
        t = time.perf_counter()
        for layer in range(n):
            for p in range(phases):
                exact.phase_probs(codes, layer, p)
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="photo-v3")
    ap.add_argument("--steps", type=int, default=800)
    ap.add_argument("variants", nargs="*", default=list(VARIANTS))
    a = ap.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    codec = load_model(a.model).codec.eval()
    m, n = codec.m, codec.num_layers
    val_files, train_files = split_files(find_images(DATA), 0)
    train = codes_of(codec, train_files, 128, 12, 2)
    val = codes_of(codec, val_files, 192, 2, 7)
    print(f"{a.model}: {len(train)} train grids {tuple(train.shape[1:])}, {len(val)} val grids",
          flush=True)
    path = REPO / "runs" / "ab_prior.json"
    path.parent.mkdir(exist_ok=True)
    results = json.loads(path.read_text()) if path.is_file() else {}
    for name in a.variants:
        width, blocks, phases = VARIANTS[name]
        torch.manual_seed(0)
        random.seed(0)
        prior = Prior(m, n, width, blocks, phases)
        opt = torch.optim.Adam(prior.parameters(), lr=3e-4)
        t0 = time.time()
        for step in range(a.steps):  # as vqcodec train's stage 2 (photo-v2 preset)
            for g in opt.param_groups:
                g["lr"] = _lr(step, a.steps, 3e-4)
            c = train[torch.randint(0, len(train), (8,))]
            if random.random() < 0.5:
                c = c.flip(3)
            loss, _ = prior.loss(c)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        prior.eval()
        with torch.no_grad():
            bits = [0.0] * n
            for i in range(0, len(val), 16):
                _, per = prior.loss(val[i:i + 16])
                bits = [b + p * len(val[i:i + 16]) for b, p in zip(bits, per, strict=True)]
        bits = [round(b / len(val), 4) for b in bits]
        results[f"{a.model}/{name}"] = {
            "width": width, "blocks": blocks, "phases": phases, "steps": a.steps,
            "params": sum(p.numel() for p in prior.parameters()),
            "train_s": round(time.time() - t0), "val_bits_per_layer": bits,
            "val_bits_mean": round(sum(bits) / n, 4),
            "decode_s": round(decode_seconds(prior, m, n, blocks, phases), 3)}
        print(name, json.dumps(results[f"{a.model}/{name}"]), flush=True)
        path.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
