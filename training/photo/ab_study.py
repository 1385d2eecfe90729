"""Study: what each training choice buys, by small ablations trained from scratch on this CPU.

A reduced photo architecture (stride 4, widths 32-64, 32-dim codewords, HR-VQ m = 8, 3 layers,
prior width 32) is trained for the same number of steps on 64 px crops of ../shared/data/photos
once per variant, changing one switch from the base each time:

    base       codebooks by the paper's loss, dead-code revival, layer dropout, MSE, latent 32
    ema        codebooks by moving averages (codebook_update: ema)
    norevive   no dead-code restarts
    nodrop     no random layer truncation (every sample trains all layers)
    latent16 / latent64   codeword dimension
    msssim     1 - MS-SSIM instead of MSE (on 2 crops of 176 px per step: the same pixels)
    prior64    prior width 64 instead of 32 (same autoencoder schedule)

Each variant is then measured on 192 px crops of the held-out 5 % of files (the same split as
`vqcodec train`): PSNR and MS-SSIM per layer count, and the prior's bits per index,
which give bpp = (sum of bits over the layers used) / 16. Results: runs/ab_study.json, and the
table in README.md (a copy of the JSON: training/photo/ab_study.json).

    python training/photo/ab_study.py [variant ...]      # default: all, about 40 min on 2 cores
"""

import json
import os
import sys
import time
from pathlib import Path

import torch
from pytorch_msssim import ms_ssim

from vqcodec.models import load_model
from vqcodec.train import TrainConfig, train
from vqcodec.train_image import find_images, load_crops, psnr
from vqcodec.train_run import split_files

REPO = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("VQCODEC_DATA", REPO.parent / "shared" / "data")) / "photos"
RUNS = REPO / "runs"
BASE = dict(channels=[32, 64], latent_dim=32, res_blocks=1, codebook_size=8, num_layers=3,
            prior=dict(width=32, blocks=1, phases=2), crop=64, batch_size=16, steps=2000,
            prior_steps=600, prior_crop=64, prior_batch=16, lr=1e-3, crops_per_image=12)
VARIANTS = {
    "base": {},
    "ema": dict(codebook_update="ema"),
    "norevive": dict(revive=False),
    "nodrop": dict(layer_dropout=False),
    "latent16": dict(latent_dim=16),
    "latent64": dict(latent_dim=64),
    "msssim": dict(loss="ms-ssim", crop=176, batch_size=2, crops_per_image=2),
    "prior64": dict(prior=dict(width=64, blocks=1, phases=2)),
}


def val_crops(seed: int = 0) -> torch.Tensor:
    """192 px crops of the files `vqcodec train` holds out (same shuffle, same 5 %)."""
    return load_crops(split_files(find_images(DATA), seed)[0], 192, 2, seed + 7)


@torch.no_grad()
def measure(folder: Path, val: torch.Tensor) -> dict:
    codec = load_model(folder).codec
    cfg = json.loads((folder / "config.json").read_text())
    bits = cfg["training"]["val_prior_bits_per_layer"]
    out = []
    for k in range(1, codec.num_layers + 1):
        se, sims = 0.0, []
        for i in range(0, len(val), 16):
            x = val[i:i + 16].float() / 255
            codes = codec.quantizer.search(codec.encoder(x), k)
            y = (codec.decoder(codec.quantizer.decode_codes(codes)).clamp(0, 1) * 255).round() / 255
            se += float((y - x).pow(2).sum())
            sims.append(ms_ssim(y, x, data_range=1.0, size_average=False))
        out.append({"layers": k, "bpp": round(sum(bits[:k]) / codec.stride**2, 4),
                    "psnr": round(psnr(se / val.numel()), 3),
                    "ms_ssim": round(float(torch.cat(sims).mean()), 4)})
    return {"per_layers": out, "bits_per_index": bits}


def main(names: list[str]) -> None:
    torch.set_num_threads(os.cpu_count() or 1)
    results_path = RUNS / "ab_study.json"
    results = json.loads(results_path.read_text()) if results_path.is_file() else {}
    val = val_crops()
    for name in names:
        out = RUNS / f"ab-{name}"
        cfg = TrainConfig(DATA, out, dict(BASE, **VARIANTS[name]), preset=f"ab-{name}", device="cpu")
        t = time.time()
        train(cfg, echo=lambda s: None)
        results[name] = {"wall_s": round(time.time() - t), **measure(out, val)}
        print(name, json.dumps(results[name]), flush=True)
        results_path.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:] or list(VARIANTS))
