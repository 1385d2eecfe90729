"""The image side of training (train.py runs the loop): files, random crops, MSE, PSNR.

::

    folder of images --random crops (uint8, edge-padded when small), held in memory-->
        stage 1: batches of crops, random horizontal flips --> MSE (or 1 - MS-SSIM) + HR-VQ loss
    prior_crop px crops --codes (B, n, [G,] h, w)--> stage 2: the prior (train.py)

ImageTask has the verbs of the task protocol (train_run.Task); AudioTask in train_audio.py is
its twin.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from . import media
from .metrics import psnr_from_mse
from .models import Codec


def find_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and media.modality_of(p) == "image")


def load_crops(files: list[Path], crop: int, per_image: int, seed: int,
               log: Callable[[str], None] = print) -> torch.Tensor:
    """Random crops (N, 3, crop, crop) uint8; small images are edge-padded up to the crop."""
    rng = np.random.default_rng(seed)
    out = []
    for f in files:
        try:
            img = media.load_image(f)
        except media.MediaError as e:
            log(f"skipping {f}: {e}")
            continue
        if img.shape[2] == 1:
            img = np.repeat(img, 3, axis=2)
        h, w = img.shape[:2]
        if h < crop or w < crop:
            img = np.pad(img, ((0, max(0, crop - h)), (0, max(0, crop - w)), (0, 0)), mode="edge")
            h, w = img.shape[:2]
        for _ in range(per_image):
            y, x = rng.integers(0, h - crop + 1), rng.integers(0, w - crop + 1)
            out.append(img[y:y + crop, x:x + crop])
    if not out:
        raise ValueError("no readable images found for training")
    return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2).contiguous()


def batch_from(pool: torch.Tensor, n: int, device: torch.device, augment: bool = True):
    idx = torch.randint(0, len(pool), (n,))
    x = pool[idx].to(device).float() / 255
    if augment:
        if random.random() < 0.5:
            x = x.flip(3)
    return x


# PSNR of an MSE of [0, 1] images; finite at 0 (100 dB) so that logged curves stay numbers.
psnr = partial(psnr_from_mse, peak=1.0, min_mse=1e-10)


EVAL_LAMBDAS = (0.0, 0.02, 0.1)  # fixed points of the learning curve of lam-trained models


@torch.no_grad()
def evaluate_product(codec: Codec, val: torch.Tensor, device: torch.device) -> dict:
    """PSNR per layer count (nearest words) and, at fixed lam, PSNR and the bpp the light
    entropy model estimates (the coding prior, trained later, spends a little less)."""
    codec.eval()
    q, n = codec.quantizer, codec.num_layers
    res: dict = {}
    for lam in EVAL_LAMBDAS:
        se = [0.0] * n
        bits, cnt = 0.0, 0
        for i in range(0, len(val), 16):
            x = val[i:i + 16].to(device).float() / 255
            codes = q.search(codec.encoder(x), n, lam)
            bits += float(q.light_bits(codes).sum())
            for k in range(1, n + 1 if lam == 0 else 2):
                kk = n if lam else k
                y = codec.decoder(q.decode_codes(codes[:, :kk])).clamp(0, 1)
                se[kk - 1] += float(((y * 255).round() / 255 - x).pow(2).sum())
            cnt += x.numel()
        if lam == 0:
            res.update({f"psnr_{k}": round(psnr(se[k - 1] / cnt), 3) for k in range(1, n + 1)})
        res[f"lam_{lam:g}"] = {"psnr": round(psnr(se[n - 1] / cnt), 3),
                               "bpp_est": round(3 * bits / cnt, 4)}
    codec.train()
    return res


@torch.no_grad()
def evaluate(codec: Codec, val: torch.Tensor, device: torch.device) -> dict:
    if codec.groups:
        return evaluate_product(codec, val, device)
    codec.eval()
    res = {}
    for k in range(1, codec.num_layers + 1):
        se, cnt = 0.0, 0
        for i in range(0, len(val), 16):
            x = val[i:i + 16].to(device).float() / 255
            codes = codec.quantizer.search(codec.encoder(x), k)
            y = codec.decoder(codec.quantizer.decode_codes(codes)).clamp(0, 1)
            se += float(((y * 255).round() / 255 - x).pow(2).sum())
            cnt += x.numel()
        res[f"psnr_{k}"] = round(psnr(se / cnt), 3)
    codec.train()
    return res


def _ms_ssim(y: torch.Tensor, x: torch.Tensor, win: int) -> torch.Tensor:
    """MS-SSIM of a batch (5 scales, Gaussian window of win taps); pytorch_msssim is the
    optional "bench" extra, which only the losses that use it need."""
    from pytorch_msssim import ms_ssim

    return ms_ssim(y.clamp(0, 1), x, data_range=1.0, win_size=win)


class ImageTask:
    """The image side of the loop: files, random crops, MSE, PSNR (AudioTask is its twin)."""

    modality = "image"

    def __init__(self, hp: dict, log: Callable[[str], None]):
        self.hp, self.log = hp, log

    def find(self, folder: Path) -> list[Path]:
        return find_images(folder)

    def config(self) -> dict:
        return {"in_channels": 3}

    def load(self, files: list[Path], seed: int) -> str:
        """Stage-1 training data; returns a line for the log."""
        hp = self.hp
        self.pool = load_crops(files, hp["crop"], hp["crops_per_image"], seed, self.log)
        return f"{len(self.pool)} train crops of {hp['crop']}px"

    def batch(self, n: int, device: torch.device) -> torch.Tensor:
        return batch_from(self.pool, n, device)

    def release(self) -> None:
        self.pool = None

    def val_set(self, files: list[Path], seed: int) -> torch.Tensor:
        return load_crops(files, self.hp["crop"], 4, seed, self.log)

    def recon(self, y: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, dict]:
        mse = F.mse_loss(y, x)
        parts = {"psnr_mixed": round(psnr(mse.item()), 3)}
        if self.hp.get("loss", "mse") == "ms-ssim":
            # The standard 5 scales: the 11-tap window needs crops of at least 176 px.
            sim = _ms_ssim(y, x, 11)
            parts["ms_ssim"] = round(sim.item(), 4)
            return 1 - sim, parts
        loss = self.hp.get("recon_weight", 1.0) * mse
        share = self.hp.get("ms_ssim_weight", 0.0)
        if share:
            # A share of 1 - MS-SSIM next to the MSE: 0.02 weighs the two about alike at a
            # given rate (CompressAI's lambdas for its MSE and MS-SSIM models differ by ~50x
            # on 8-bit MSE). A 7-tap window keeps the 5 scales on 128 px crops (11 taps need
            # 176 px, twice the pixels per step).
            sim = _ms_ssim(y, x, 7)
            parts["ms_ssim"] = round(sim.item(), 4)
            loss = loss + share * (1 - sim)
        return loss, parts

    def evaluate(self, codec: Codec, val: torch.Tensor, device: torch.device) -> dict:
        return evaluate(codec, val, device)

    def prior_inputs(self, files: list[Path], seed: int, val: bool) -> torch.Tensor:
        """Crops of prior_crop px (uint8) whose codes train the prior."""
        hp = self.hp
        per = 4 if val else hp["crops_per_image"]
        per = max(1, per * hp["crop"] ** 2 // hp["prior_crop"] ** 2)
        return load_crops(files, hp["prior_crop"], per, seed, self.log)

    def to_input(self, x: torch.Tensor, device: torch.device) -> torch.Tensor:
        return x.to(device).float() / 255

