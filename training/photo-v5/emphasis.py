"""A copy of a photo model whose search uses another low-frequency emphasis: kappa, and the size
of the cells whose means the probe measures (`block`, 8 = the latent's stride, what training
uses). Only the search changes (config `lowfreq_weight`, tensor `quantizer.lowfreq`): the decoder
and the prior are the model's, so such a copy is an encode-time experiment, benched like any model.

    python training/photo-v5/emphasis.py weights/photo-v5-g48-c14 /tmp/c14-k8-b16 --kappa 8 --block 16

The shares are probed as training does (`train.probe_sensitivity`: noise in one latent group at a
time, the decoder's response) over `--crops` 256 px crops of the training photos (the trainer's
split, seed 0: the held-out 5 % and Kodak are never read); the group sensitivities stay the model's.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from vqcodec.models import load_model
from vqcodec.train import probe_sensitivity
from vqcodec.train_image import find_images, load_crops
from vqcodec.train_run import split_files


@torch.no_grad()
def probe_shares(model: str, data: Path, block: int, crops: int, seed: int = 7) -> torch.Tensor:
    """Each latent group's share of its decoded response in the means of block x block cells."""
    codec = load_model(model).codec
    q = codec.quantizer
    files = split_files(find_images(data), 0)[1]  # never the held-out 5 %
    pool = load_crops(random.Random(seed).sample(files, crops), 256, 1, seed)
    sens = q.sens.clone()
    q.lowfreq_weight = 1.0  # the probe measures shares only where the model keeps them
    q.register_buffer("lowfreq", torch.zeros(q.g))
    for x in pool:
        probe_sensitivity(codec, x[None].float() / 255, 1, block)
    q.sens.copy_(sens)
    return q.lowfreq.clone()


def write_variant(model: Path, out: Path, kappa: float, shares: torch.Tensor) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for f in model.iterdir():
        if f.is_file() and f.name != "model.safetensors":
            shutil.copy(f, out / f.name)
    state = load_file(str(model / "model.safetensors"))
    state["quantizer.lowfreq"] = shares.float().contiguous()
    save_file(state, str(out / "model.safetensors"))
    cfg = json.loads((model / "config.json").read_text())
    cfg["lowfreq_weight"] = kappa
    (out / "config.json").write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--kappa", type=float, required=True)
    ap.add_argument("--block", type=int, default=8)
    ap.add_argument("--crops", type=int, default=16)
    ap.add_argument("--data", type=Path, default=Path("../shared/data/photos"))
    a = ap.parse_args()
    shares = probe_shares(str(a.model), a.data, a.block, a.crops)
    write_variant(a.model, a.out, a.kappa, shares)
    top = sorted(enumerate(shares.tolist()), key=lambda t: -t[1])[:6]
    print(f"{a.out}: kappa {a.kappa}, block {a.block}; largest shares "
          + ", ".join(f"g{g} {s:.3f}" for g, s in top))
