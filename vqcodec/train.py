"""Training: stage 1 fits the autoencoder and HR-VQ codebooks, stage 2 the prior on their codes.

::

    folder of images --random crops--> stage 1: E, HRVQ, D   (MSE + HR-VQ loss, random layer
                                                              truncation, dead-code restarts)
                     --codes of crops--> stage 2: Prior       (cross-entropy in bits, fake-quantized
                                                              so the integer prior matches)
                     --> model folder (config.json + safetensors), usable with --model

The loop is the same for audio; what differs (files, crops, reconstruction loss, validation
metric) sits behind a small task object: ImageTask here, AudioTask in train_audio.py.

Checkpoints go to OUT/checkpoint.pt; `resume=True` continues from there.
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

from . import media
from .devices import resolve_device
from .models import Codec, exact_prior, model_id, resolve, save_model
from .prior import export_integer
from .product_vq import split_groups
from .train_audio import AUDIO_PRESETS, AudioTask

PRESETS: dict[str, dict] = {
    # Trains in seconds: for tests and smoke runs, not for use.
    "tiny": dict(channels=[16, 32], latent_dim=16, res_blocks=1, codebook_size=4, num_layers=2,
                 prior=dict(width=16, blocks=1, phases=2),
                 usage_decay=0.8, dead_usage=0.05, recon_weight=10.0,
                 crop=32, batch_size=8, steps=400, prior_steps=100, prior_crop=32, lr=3e-3,
                 crops_per_image=4),
    # CIFAR-10 (32x32): one latent vector per pixel, HR-VQ 8/64/512 as in the HR-VQVAE paper.
    "cifar": dict(channels=[32], strides=[1], latent_dim=16, res_blocks=1, codebook_size=8,
                  num_layers=3, prior=dict(width=32, blocks=1, phases=2), recon_weight=10.0,
                  crop=32, batch_size=64, steps=3000, prior_steps=800, prior_crop=32, lr=1e-3,
                  crops_per_image=1),
    # The same autoencoder with a flat VQ of the same bits (one layer of 512 words = 9 bits per
    # position, as 8/64/512): the HR-VQVAE paper's hierarchy-vs-flat comparison for sampling.
    # Its coding prior reads 513 one-hot planes (6 s/step): fewer prior steps, as it is only
    # a reference here (the sampling priors are what is compared).
    "cifar-flat": dict(channels=[32], strides=[1], latent_dim=16, res_blocks=1,
                       codebook_size=512, num_layers=1, nearest="matmul",
                       prior=dict(width=32, blocks=1, phases=2),
                       recon_weight=10.0, crop=32, batch_size=64, steps=3000, prior_steps=300,
                       prior_crop=32, lr=1e-3, crops_per_image=1),
    # MNIST (28x28 grey digits): stride 2, a 14x14 grid of HR-VQ 8/64/512, so the sampling
    # prior draws 3 x 196 indices in raster order.
    "mnist": dict(channels=[32, 64], strides=[2, 1], latent_dim=16, res_blocks=1,
                  codebook_size=8, num_layers=3, prior=dict(width=32, blocks=1, phases=2),
                  recon_weight=10.0, crop=28, batch_size=64, steps=2000, prior_steps=600,
                  prior_crop=28, lr=1e-3, crops_per_image=1),
    # The default for `vqcodec train` and the first shipped photo model.
    "small": dict(channels=[64, 128], latent_dim=64, res_blocks=2, codebook_size=8, num_layers=4,
                  prior=dict(width=64, blocks=2, phases=2),
                  crop=64, batch_size=16, steps=4000, prior_steps=1500, prior_crop=128, lr=1e-3,
                  crops_per_image=24),
    # The default photo model: the small architecture fine-tuned from photo-small (--init) on
    # 128 px crops, so the decoder and prior learn wider context, at a lower learning rate.
    "photo": dict(channels=[64, 128], latent_dim=64, res_blocks=2, codebook_size=8, num_layers=4,
                  prior=dict(width=64, blocks=2, phases=2),
                  crop=128, batch_size=8, steps=2000, prior_steps=2000, prior_crop=128, lr=5e-4,
                  prior_batch=8, crops_per_image=12),
    # photo fine-tuned (--init photo) without layer dropout: every sample trains all 4 layers,
    # which the ablation in training/photo/ab_study.py found buys the full-rate point most.
    "photo-v2": dict(channels=[64, 128], latent_dim=64, res_blocks=2, codebook_size=8,
                     num_layers=4, prior=dict(width=64, blocks=2, phases=2), layer_dropout=False,
                     crop=128, batch_size=8, steps=1200, prior_steps=1500, prior_crop=128,
                     lr=3e-4, prior_batch=8, crops_per_image=12),
    # photo-v4: low-resolution ConvNeXt transform (pixel-unshuffle stems, stages at 1/4 and
    # 1/8), product HR-VQ (12 trees of 8-dim words, m = 16, 3 layers: up to 2.25 bpp before the
    # prior) with an entropy-constrained choice, lam drawn per sample so one model spans the
    # rates; a (layer, group) prior. training/photo-v4 has the measurements behind each choice.
    "photo-v4": dict(arch="lowres", channels=[96, 192], stage_blocks=[2, 3], latent_dim=96,
                     groups=12, res_blocks=0, codebook_size=16, num_layers=3,
                     prior=dict(width=32, blocks=1, phases=2), layer_dropout=False,
                     lam_range=[0.005, 0.3], lam_zero=0.25, channels_last=True, bf16=True,
                     rate_lr_mult=20.0, crop=128, batch_size=8, steps=7000, prior_steps=1500,
                     prior_crop=128, lr=5e-4, prior_batch=8, crops_per_image=12),
    # photo-v4 with each 8-dim group split in two (24 trees of 4-dim words: up to 4.5 bpp before
    # the prior): chunk 1's codes used 2.0 of its 2.25 bpp at lam 0 and the transform's
    # unquantized ceiling sat just above (30.1 vs 29.9 dB on Kodak), so the quantizer's capacity,
    # not its error, capped the top rate. Started from photo-v4-c1 (--init splits its words).
    "photo-v4-g24": dict(arch="lowres", channels=[96, 192], stage_blocks=[2, 3], latent_dim=96,
                         groups=24, res_blocks=0, codebook_size=16, num_layers=3,
                         prior=dict(width=32, blocks=1, phases=2), layer_dropout=False,
                         lam_range=[0.005, 0.3], lam_zero=0.25, channels_last=True, bf16=True,
                         rate_lr_mult=20.0, crop=128, batch_size=8, steps=5500, prior_steps=1000,
                         prior_crop=128, lr=5e-4, prior_batch=8, crops_per_image=12),
    # Chunk 3: the search weighs each group's error by the decoder's sensitivity to it (probed
    # every 100 steps), and lam spans 3 decades so the low rates are trained too.
    "photo-v4-c3": dict(arch="lowres", channels=[96, 192], stage_blocks=[2, 3], latent_dim=96,
                        groups=24, res_blocks=0, codebook_size=16, num_layers=3,
                        prior=dict(width=32, blocks=1, phases=2), layer_dropout=False,
                        search_weight="decoder", lam_range=[0.003, 2.0], lam_zero=0.2,
                        channels_last=True, bf16=True, rate_lr_mult=20.0, crop=128, batch_size=8,
                        steps=4000, prior_steps=1000, prior_crop=128, lr=5e-4, prior_batch=8,
                        crops_per_image=12),
    # The same shape at toy size, for tests.
    "tiny-lowres": dict(arch="lowres", channels=[16, 32], stage_blocks=[1, 1], latent_dim=16,
                        groups=4, res_blocks=0, codebook_size=4, num_layers=2,
                        prior=dict(width=8, blocks=1, phases=2), layer_dropout=False,
                        lam_range=[0.01, 0.3], lam_zero=0.25, usage_decay=0.8, dead_usage=0.05,
                        crop=32, batch_size=8, steps=200, prior_steps=60, prior_crop=32, lr=3e-3,
                        crops_per_image=4),
}
PRESETS.update(AUDIO_PRESETS)  # tiny-audio (tests), speech-stft (the shipped speech model)
ARCH_KEYS = ("channels", "latent_dim", "res_blocks", "codebook_size", "num_layers", "prior")
# Optional architecture keys (absent = the default): a checkpoint must agree on these too.
SHAPE_KEYS = ("strides", "base_channels", "sample_rate", "arch", "latent_rows", "shuffle", "groups",
              "stage_blocks")
DEFAULT_PRESET = {"image": "small", "audio": "speech-stft"}
# Training switches for ablations (training/photo/ab_study.py), recorded in config.training:
# revive (dead-code restarts, default on), layer_dropout (random layer truncation, default on),
# loss ("mse", or "ms-ssim": 1 - MS-SSIM, which needs crops of 176 px or more). The codebook
# update rule ("loss" or "ema") is a model config key, codebook_update.
STUDY_KEYS = ("revive", "layer_dropout", "loss", "codebook_update", "lam_range", "lam_zero", "bf16",
              "channels_last", "rate_lr_mult")


def pick_device(device: str) -> torch.device:
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for but no CUDA device is available")
    return torch.device(resolve_device(device))


def init_distributed(dev: torch.device) -> tuple[int, int, torch.device]:
    """Join the process group when started by torchrun (RANK/WORLD_SIZE set); (rank, world, device).

    gloo on CPU, nccl on GPU; multi-node works through torchrun's own rendezvous flags."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, dev
    if dev.type == "cuda":
        dev = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(dev)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    return dist.get_rank(), dist.get_world_size(), dev


class Stage1(nn.Module):
    """Encoder -> HR-VQ -> decoder as one module, so DDP can wrap the whole stage-1 forward."""

    def __init__(self, codec: Codec):
        super().__init__()
        self.encoder, self.quantizer, self.decoder = codec.encoder, codec.quantizer, codec.decoder

    def forward(self, x: torch.Tensor, keep: torch.Tensor, lam: torch.Tensor | None = None):
        z = self.encoder(x).float()
        # The nearest-word search in float32 even under bf16 autocast: bf16 distances would
        # pick other words than the float32 search at encode time.
        with torch.autocast(z.device.type, enabled=False):
            zq, vq_loss, _ = (self.quantizer(z, keep) if lam is None else
                              self.quantizer(z, keep, lam))
        return self.decoder(zq), vq_loss


def draw_lambda(hp: dict, n: int, device: torch.device,
                gen: torch.Generator | None = None) -> torch.Tensor | None:
    """Per-sample rate weights of the entropy-constrained choice: 0 with probability lam_zero,
    else log-uniform over lam_range; None for models without it."""
    if "lam_range" not in hp:
        return None
    lo, hi = (math.log(v) for v in hp["lam_range"])
    lam = torch.exp(torch.empty(n).uniform_(lo, hi, generator=gen))
    lam[torch.rand(n, generator=gen) < hp.get("lam_zero", 0.25)] = 0.0
    return lam.to(device)


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


def psnr(mse: float) -> float:
    return 10 * math.log10(1 / max(mse, 1e-10))


def _lr(step: int, total: int, base: float) -> float:
    warm = min(1.0, (step + 1) / min(100, total // 10 + 1))
    return base * warm * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(step / total, 1.0))))


class Logger:
    def __init__(self, path: Path, echo: Callable[[str], None]):
        self.f = path.open("a")
        self.echo = echo

    def __call__(self, record: dict) -> None:
        self.f.write(json.dumps(record) + "\n")
        self.f.flush()

    def say(self, text: str) -> None:
        self.echo(text)
        self({"note": text})


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
            from pytorch_msssim import ms_ssim  # optional extra ("bench"): only this loss needs it

            # The standard 5 scales: the 11-tap window needs crops of at least 176 px.
            sim = ms_ssim(y.clamp(0, 1), x, data_range=1.0)
            parts["ms_ssim"] = round(sim.item(), 4)
            return 1 - sim, parts
        return self.hp.get("recon_weight", 1.0) * mse, parts

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


def detect_modality(folder: Path) -> str:
    """"audio" when most media files under folder are audio, else "image"."""
    kinds = [media.modality_of(p) for p in folder.rglob("*") if p.is_file()]
    return "audio" if kinds.count("audio") > kinds.count("image") else "image"


def train(data: Path, out: Path, preset: str | None = None, steps: int | None = None,
          prior_steps: int | None = None, batch_size: int | None = None, device: str = "auto",
          resume: bool = False, name: str | None = None, seed: int = 0,
          progress: Callable | None = None, echo: Callable[[str], None] = print,
          modality: str | None = None, init: str | Path | None = None) -> Path:
    """Train a codec on a folder of images or of audio; returns the model folder (= out).

    Args:
        data: folder searched recursively for images (or audio files).
        out: where checkpoints, the log and the model are written.
        preset: architecture and schedule ("tiny" for tests, "small"; audio: "tiny-audio",
            "speech-stft", "speech-small"); default: the default of the modality.
        modality: "image" or "audio"; default: the preset's, else what most files in data are.
        init: a model (shipped name or folder) of the same architecture whose autoencoder and
            codebooks stage 1 starts from (fine-tuning, e.g. a shipped model on your own photos);
            the prior is always trained afresh.
        progress: optional callable(stage, step, total, metrics) for a progress display.
    """
    if preset is not None and preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r} (choose from {', '.join(PRESETS)})")
    if modality is None:
        modality = (PRESETS[preset].get("modality", "image") if preset is not None
                    else detect_modality(data))
    if modality not in DEFAULT_PRESET:
        raise ValueError(f"unknown modality {modality!r} (image or audio)")
    preset = preset or DEFAULT_PRESET[modality]
    if PRESETS[preset].get("modality", "image") != modality:
        raise ValueError(f"preset {preset!r} is not an {modality} preset")
    hp = dict(PRESETS[preset])
    if hp.get("loss", "mse") not in ("mse", "ms-ssim"):
        raise ValueError(f"unknown loss {hp['loss']!r} (mse or ms-ssim)")
    if hp.get("loss") == "ms-ssim" and hp["crop"] < 176:
        raise ValueError("the ms-ssim loss needs crops of at least 176 px (its 4 downsamplings)")
    hp["steps"] = steps if steps is not None else hp["steps"]
    hp["prior_steps"] = prior_steps if prior_steps is not None else hp["prior_steps"]
    hp["batch_size"] = batch_size if batch_size is not None else hp["batch_size"]
    rank, world, dev = init_distributed(pick_device(device))
    main = rank == 0
    out.mkdir(parents=True, exist_ok=True)
    ckpt_path = out / "checkpoint.pt"
    log = Logger(out / "train_log.jsonl", echo) if main else Logger(Path(os.devnull), lambda s: None)
    if not main:
        progress = None
    torch.manual_seed(seed)  # the same initial weights on every rank (DDP also broadcasts them)
    random.seed(seed + rank)

    task = AudioTask(hp, log.say) if modality == "audio" else ImageTask(hp, log.say)
    files = task.find(data)
    if len(files) < 2:
        raise ValueError(f"need at least 2 {'audio files' if modality == 'audio' else 'images'} "
                         f"in {data}, found {len(files)}")
    rng = random.Random(seed)
    shuffled = files[:]
    rng.shuffle(shuffled)
    n_val = max(1, len(files) // 20)
    val_files, train_files = shuffled[:n_val], shuffled[n_val:]
    if len(train_files) < world:
        raise ValueError(f"{len(train_files)} training files cannot be shared by {world} ranks")
    my_files = train_files[rank::world]  # each rank trains on its own shard of the data

    config = {k: hp[k] for k in ARCH_KEYS}
    config.update({k: hp[k] for k in ("usage_decay", "dead_usage", "codebook_update",
                                      "search_weight", "nearest") + SHAPE_KEYS
                   if k in hp})
    config.update(task.config())
    config.update(modality=modality, beta=0.25, name=name or out.name,
                  training={"preset": preset, "data": str(data), "steps": hp["steps"],
                            "prior_steps": hp["prior_steps"], "batch_size": hp["batch_size"],
                            "crop": hp["crop"], "device": dev.type, "world_size": world,
                            "recon_weight": hp.get("recon_weight", 1.0),
                            **{k: hp[k] for k in STUDY_KEYS if k in hp},
                            "train_files": len(train_files), "val_files": len(val_files)})
    codec = Codec(config).to(dev)
    state = {"stage": 1, "step": 0}
    if resume and ckpt_path.is_file():
        ck = torch.load(ckpt_path, map_location=dev, weights_only=False)
        keys = ARCH_KEYS + SHAPE_KEYS
        if {k: ck["config"].get(k) for k in keys} != {k: config.get(k) for k in keys}:
            raise ValueError(f"{ckpt_path} was made with another architecture; drop --resume")
        # The checkpoint's config, with this run's schedule (it may change the step counts) and
        # a record of where training was resumed, so the shipped config tells what was run.
        run = {k: config["training"][k] for k in ("steps", "prior_steps", "batch_size", "device",
                                                  "world_size")}
        tr = ck["config"]["training"]
        resumed = tr.get("resumed", []) + [[ck["stage"], ck["step"]]]
        config = {**ck["config"], "training": {**tr, **run, "resumed": resumed}}
        if name:  # a name given on resume names the model that comes out
            config["name"] = name
        codec = Codec(config).to(dev)
        codec.load_state_dict(ck["model"])
        codec.quantizer.mark_used()
        state = {"stage": ck["stage"], "step": ck["step"]}
        log.say(f"resuming stage {state['stage']} at step {state['step']}")
    elif init is not None:
        config["training"]["init"] = init_from(codec, init, modality)
        log.say(f"stage 1 starts from model {config['training']['init']['name']}")
    log({"event": "start", "config": config, "files": len(files)})

    ae_params = [p for n, p in codec.named_parameters() if not n.startswith("prior.")]
    # The light entropy tables of an entropy-constrained quantizer are frequency counts in
    # disguise: they get a larger step so the rate term tracks the codes as they move.
    rate = [p for n, p in codec.named_parameters() if "rate_logits" in n]
    rest = [p for p in ae_params if all(p is not r for r in rate)]
    opt1 = torch.optim.Adam([{"params": rest, "mult": 1.0}] +
                            ([{"params": rate, "mult": hp.get("rate_lr_mult", 1.0)}] if rate else []),
                            lr=hp["lr"])
    opt2 = torch.optim.Adam(codec.prior.parameters(), lr=hp["lr"])
    if resume and ckpt_path.is_file():
        (opt1 if state["stage"] == 1 else opt2).load_state_dict(ck["opt"])

    def save_ckpt(stage: int, step: int, opt) -> None:
        if not main:
            return
        tmp = ckpt_path.with_suffix(".tmp")
        torch.save({"config": config, "model": codec.state_dict(), "opt": opt.state_dict(),
                    "stage": stage, "step": step}, tmp)
        tmp.replace(ckpt_path)

    # -- stage 1: autoencoder + quantizer -----------------------------------------------------
    if state["stage"] == 1:
        t0 = time.time()
        torch.manual_seed(seed + 1000 * rank)  # different batches on each rank
        what = task.load(my_files, seed + rank)
        val = task.val_set(val_files, seed + 1)
        log.say(f"stage 1: {what}, {len(val)} val crops, {hp['steps']} steps on {dev.type}")
        codec.train()
        n = codec.num_layers
        stage1 = Stage1(codec)
        if hp.get("channels_last"):  # the ConvNeXt transform's fast layout on the CPU
            stage1.encoder.to(memory_format=torch.channels_last)
            stage1.decoder.to(memory_format=torch.channels_last)
        model1 = DDP(stage1) if world > 1 else stage1
        for step in range(state["step"], hp["steps"]):
            for g in opt1.param_groups:
                g["lr"] = _lr(step, hp["steps"], hp["lr"]) * g.get("mult", 1.0)
            x = task.batch(hp["batch_size"], dev)
            keep = torch.randint(1, n + 1, (len(x),), device=dev)
            keep[: len(x) // 2] = n  # half the batch always trains the full-rate path
            if not hp.get("layer_dropout", True):
                keep[:] = n
            if hp.get("channels_last"):
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=hp.get("bf16", False)):
                y, vq_loss = model1(x, keep, draw_lambda(hp, len(x), dev))
            recon, parts = task.recon(y.float(), x)
            loss = recon + hp.get("vq_weight", 1.0) * vq_loss
            opt1.zero_grad(set_to_none=True)
            loss.backward()
            opt1.step()
            if step % PROBE_EVERY == 0 and getattr(codec.quantizer, "weighted", False):
                probe_sensitivity(codec, x, world)
            if step % 25 == 0 and hp.get("revive", True):
                if main:
                    codec.quantizer.revive_dead()
                if world > 1:  # rank 0 decided; every rank takes its codebooks
                    for cb in codec.quantizer.codebooks:
                        dist.broadcast(cb.data, 0)
            if main and (step % 50 == 0 or step == hp["steps"] - 1):
                stats = codec.quantizer.stats()
                rec = {"stage": 1, "step": step, "loss": round(loss.item(), 6), **parts,
                       "perplexity": [round(s["perplexity"], 1) for s in stats],
                       "dead": [s["dead"] for s in stats], "sec": round(time.time() - t0, 1)}
                if step % 500 == 0 or step == hp["steps"] - 1:
                    rec["val"] = task.evaluate(codec, val, dev)
                log(rec)
                if progress:
                    progress(1, step + 1, hp["steps"], rec)
            if (step + 1) % 500 == 0:
                save_ckpt(1, step + 1, opt1)
        state = {"stage": 2, "step": 0}
        save_ckpt(2, 0, opt2)
        task.release()

    # -- stage 2: the prior on the codes of the frozen autoencoder -----------------------------
    codec.eval()
    for p in ae_params:
        p.requires_grad_(False)
    codes = extract_codes(codec, task, my_files, seed + 2 + rank, dev)
    val_codes = extract_codes(codec, task, val_files, seed + 3, dev, val=True)
    log.say(f"stage 2: prior on {len(codes)} code grids {tuple(codes.shape[1:])}, "
            f"{hp['prior_steps']} steps")
    codec.prior.train()
    model2 = DDP(codec.prior) if world > 1 else codec.prior
    t0 = time.time()
    pbs = hp.get("prior_batch", max(4, hp["batch_size"] // 2))
    for step in range(state["step"], hp["prior_steps"]):
        for g in opt2.param_groups:
            g["lr"] = _lr(step, hp["prior_steps"], hp["lr"])
        c = codes[torch.randint(0, len(codes), (pbs,))].to(dev)
        if random.random() < 0.5:
            c = c.flip(-1)
        loss, per_layer = model2(c)
        opt2.zero_grad(set_to_none=True)
        loss.backward()
        opt2.step()
        if main and (step % 50 == 0 or step == hp["prior_steps"] - 1):
            rec = {"stage": 2, "step": step, "bits": round(loss.item(), 4),
                   "bits_per_layer": [round(b, 3) for b in per_layer],
                   "sec": round(time.time() - t0, 1)}
            log(rec)
            if progress:
                progress(2, step + 1, hp["prior_steps"], rec)
        if (step + 1) % 500 == 0:
            save_ckpt(2, step + 1, opt2)

    # -- export: integer prior, fingerprint, model folder (rank 0) ------------------------------
    if world > 1:
        dist.barrier()
        if not main:
            dist.destroy_process_group()
            return out
    codec.prior.eval()
    exported = codec.prior.export() if codec.groups else export_integer(codec.prior)
    tensors = {k: v.cpu() for k, v in exported.items()}
    exact = exact_prior(config, tensors, "cpu")
    with torch.no_grad():
        _, val_bits = codec.prior.loss(val_codes[:64].to(dev))
    config["training"]["val_prior_bits_per_layer"] = [round(b, 4) for b in val_bits]
    val = task.val_set(val_files, seed + 1)
    key = "val_psnr_per_layers" if modality == "image" else "val_per_layers"
    config["training"][key] = task.evaluate(codec, val, dev)
    codec.config = config
    save_model(codec, out, tensors, exact.fingerprint())
    log({"event": "done", "val_prior_bits_per_layer": val_bits})
    log.say(f"model written to {out}")
    if world > 1:
        dist.destroy_process_group()
    return out


PROBE_EVERY = 100  # steps between probes of the decoder's sensitivity per latent group


@torch.no_grad()
def probe_sensitivity(codec: Codec, x: torch.Tensor, world: int) -> None:
    """Refresh the quantizer's per-group decoder sensitivity on one crop of the batch (the
    ranks average theirs, so every rank searches alike)."""
    q = codec.quantizer
    was = codec.training
    codec.eval()
    net = codec.decoder.net  # float32, whatever the decoder's inference precision

    def decode(z: torch.Tensor) -> torch.Tensor:
        with torch.autocast(z.device.type, enabled=False):
            return net(z.contiguous(memory_format=torch.channels_last)).float()

    q.probe_sensitivity(decode, codec.encoder(x[:1]).float())
    codec.train(was)
    if world > 1:
        dist.all_reduce(q.sens)
        q.sens.div_(world)


# What --init must share with the new model: the architecture but the prior (trained afresh).
AE_KEYS = tuple(k for k in ARCH_KEYS if k != "prior") + ("in_channels", "modality") + SHAPE_KEYS


def init_from(codec: Codec, init: str | Path, modality: str) -> dict:
    """Load a model's autoencoder and codebooks into `codec` (same architecture); returns a
    record of it for the config (name and identity)."""
    folder = resolve(init, modality)
    cfg = json.loads((folder / "config.json").read_text())
    diff = [k for k in AE_KEYS if cfg.get(k) != codec.config.get(k)]
    state = load_file(str(folder / "model.safetensors"))
    old_g, new_g = int(cfg.get("groups") or 0), codec.groups
    if diff == ["groups"] and old_g and new_g % old_g == 0:
        # A product HR-VQ parent with fewer, wider groups: split its words (finer quantizer,
        # the same transform), see product_vq.split_groups.
        state, diff = split_groups(state, new_g // old_g), []
    if diff:
        raise ValueError(f"--init model {folder} has another architecture ({diff[0]}: "
                         f"{cfg.get(diff[0])!r} vs {codec.config.get(diff[0])!r})")
    missing, unexpected = codec.load_state_dict(state, strict=False)
    # A parent without the search's sensitivity weights: the first probe measures them.
    missing = [k for k in missing if k != "quantizer.sens"]
    if unexpected or any(not k.startswith("prior.") for k in missing):
        raise ValueError(f"--init model {folder}: its weights do not match the architecture")
    codec.quantizer.mark_used()
    return {"name": cfg.get("name", folder.name), "model_id": model_id(folder).hex()}


@torch.no_grad()
def extract_codes(codec: Codec, task, files: list[Path], seed: int, dev: torch.device,
                  val: bool = False) -> torch.Tensor:
    """Codes (N, n, [G,] h, w) of the task's prior crops (images: prior_crop px), all layers.
    A lam-trained model's crops are coded at lam drawn as in training, so the prior learns the
    codes of every rate it will code."""
    pool = task.prior_inputs(files, seed, val)
    gen = torch.Generator().manual_seed(seed)
    out = []
    for i in range(0, len(pool), 32):
        x = task.to_input(pool[i:i + 32], dev)
        z = codec.encoder(x)
        if codec.groups:
            lam = draw_lambda(task.hp, len(x), dev, gen)
            out.append(codec.quantizer.search(z, None, lam).to(torch.uint8).cpu())
        else:
            out.append(codec.quantizer.search(z).to(torch.uint8).cpu())
    return torch.cat(out).long()
