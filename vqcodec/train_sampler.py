"""Training the sampling prior (sampler.py) on the codes of an existing model.

::

    images (.npz or class folders; sampler_data) --the model's encoder + HR-VQ, the mirrored
        images too (presets with flip; not for digits)--> codes
        --> Sampler: bits per index (cross-entropy, teacher forcing, every layer at once); the
            class is dropped 10 % of the time, so the same network also draws without one
        --> OUT/sampler.json + sampler.safetensors (with `into`: beside the model)

OUT holds codes.pt (the codes, made once), checkpoint.pt (every ckpt_every steps and at the
end: weights, Adam state, step; `resume` continues the step count) and train_log.jsonl (train
bits every log_every steps, test bits every eval_every steps and at the end). The batches of
step s come from a generator seeded by (seed, s), so a resumed run draws what an unbroken one
would have. The model folder is only written with `into`, and only once training is done.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import torch

from .autoencoder import fast_bf16
from .devices import resolve_device
from .files import atomic_path
from .models import load_model, model_id
from .sampler import JSON, WEIGHTS, Sampler, macs_per_index, save_sampler
from .sampler_data import encode, load_images

ARCH = ("width", "depth", "dilations", "cond_width", "cond_blocks")
PRESETS: dict[str, dict] = {
    # Seconds: for tests and smoke runs.
    "tiny": dict(width=8, depth=2, dilations=[1, 2], cond_width=8, cond_blocks=1, batch_size=4,
                 steps=20, lr=3e-3, bf16=False, log_every=5, eval_every=10, ckpt_every=10,
                 test_grids=16, flip=True),
    # cifar-hrvq's 3 x 32 x 32 codes: most of the width where the structure is (the top layer,
    # dilations 1-8: the whole grid in 8 layers); the deeper layers refine what is above them.
    # 4000 steps (6.3 epochs of the 10,170 grids, ~1 h on one core): a run must end inside one
    # session, since run folders outside the repository do not outlive it.
    "cifar": dict(width=[64, 32, 32], depth=[8, 5, 5], dilations=[1, 2, 4, 8], cond_width=32,
                  cond_blocks=1, batch_size=16, steps=4000, lr=1e-3, bf16=True, log_every=50,
                  eval_every=500, ckpt_every=250, test_grids=256, flip=True),
    # A flat VQ of the same bits (cifar-flat: one layer of 512 words): one network for the
    # hierarchy-vs-flat comparison. Width 64 (776k MACs per position, the three above 1.02 M):
    # at width 72 (968k) torch 2.13's bf16 weight gradient of the dilation-8 vertical convs came
    # out NaN from step 0 (widths 64 and 80 are finite), and 80 (1.18 M) did not fit the session.
    "cifar-flat": dict(width=[64], depth=[8], dilations=[1, 2, 4, 8], cond_width=32,
                       cond_blocks=1, batch_size=16, steps=4000, lr=1e-3, bf16=True,
                       log_every=50, eval_every=500, ckpt_every=250, test_grids=256, flip=True),
    # An MNIST model at stride 2 (3 x 14 x 14 codes): dilations 1-4 span the grid in 6 layers.
    # No mirrored images: a mirrored digit is not a digit.
    "mnist": dict(width=[48, 32, 32], depth=[6, 4, 4], dilations=[1, 2, 4], cond_width=32,
                  cond_blocks=1, batch_size=32, steps=4000, lr=1e-3, bf16=True, log_every=50,
                  eval_every=500, ckpt_every=250, test_grids=512, flip=False),
}
UNCOND = 0.1  # the fraction of steps' samples trained without their class


def _lr(step: int, total: int, base: float) -> float:
    warm = min(1.0, (step + 1) / min(100, total // 10 + 1))
    return base * warm * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(step / total, 1.0))))


def _log(path: Path) -> Callable[[dict], None]:
    def write(rec: dict) -> None:
        with path.open("a") as f:
            f.write(json.dumps(rec) + "\n")
    return write


def make_codes(lm, data: Path, labels: bool, size: int | None, limit: int | None,
               dev, flip: bool = True) -> dict:
    """The codes of a data set: train (with flip: the mirrored images too), test, labels,
    classes."""
    s = load_images(data, labels, size)
    x_tr, y_tr = s.x_train[:limit], None if s.y_train is None else s.y_train[:limit]
    x_te, y_te = s.x_test[:limit], None if s.y_test is None else s.y_test[:limit]
    if len(x_te) == 0:
        raise ValueError(f"{data} has no test images (x_test)")
    copies = (False, True) if flip else (False,)
    train = torch.cat([encode(lm, x_tr, f, device=dev) for f in copies])
    y = None if y_tr is None else torch.from_numpy(y_tr).repeat(len(copies))
    return {"source": s.source, "train": train,
            "y_train": y, "test": encode(lm, x_te, device=dev),
            "y_test": None if y_te is None else torch.from_numpy(y_te), "classes": s.classes,
            "image": [*s.size, s.channels], "train_images": len(x_tr)}


@torch.no_grad()
def evaluate(sampler: Sampler, codes: torch.Tensor, labels: torch.Tensor | None,
             batch: int = 32) -> dict:
    """Test bits per index: overall, per layer, with the classes and without (unconditional)."""
    dev = next(sampler.parameters()).device
    was = sampler.training
    sampler.eval()
    res = {}
    for key, use in (("", True), ("_uncond", False)):
        if key and not sampler.classes:
            break
        total = torch.zeros(sampler.n, dtype=torch.float64)
        for i in range(0, len(codes), batch):
            c = codes[i:i + batch].long().to(dev)
            y = labels[i:i + batch] if use and labels is not None else None
            bits = sampler.bits(c, sampler.class_ids(y, len(c)).to(dev))
            total += bits.double().sum((0, 2, 3)).cpu()
        per = total / (len(codes) * codes.shape[2] * codes.shape[3])
        res[f"test_bits{key}"] = round(float(per.mean()), 4)
        res[f"test_bits_per_layer{key}"] = [round(float(v), 4) for v in per]
    sampler.train(was)
    return res


def train_sampler(model: str | Path, data: Path, out: Path, preset: str = "cifar",
                  steps: int | None = None, batch_size: int | None = None, resume: bool = False,
                  into: Path | None = None, seed: int = 0, labels: bool = True,
                  size: int | None = None, limit: int | None = None, device: str = "cpu",
                  echo: Callable[[str], None] = print,
                  progress: Callable[[int, int, dict], None] | None = None) -> Path:
    """Train a sampling prior on `model`'s codes of `data`; returns the folder holding it.

    Args:
        model: the model (shipped name or folder) whose codes are learnt.
        data: an .npz (x_train, y_train, x_test, y_test, label_names) or a folder of images
            (subfolders = classes); see sampler_data.
        out: run folder: codes, checkpoints, log, and the finished sampler.
        into: also install the finished sampler into this model folder (it must be `model`).
        labels: False trains without classes even when the data has labels.
        size: folders: centre-crop and resize every image to size x size.
        limit: use only the first `limit` train and test images (smoke runs).
    """
    hp = _hparams(preset, steps, batch_size)
    dev = torch.device(resolve_device(device))
    hp["bf16"] = hp["bf16"] and fast_bf16(dev)  # emulated bf16 is slower than float32
    lm = load_model(model, dev)
    if into is not None and (not (Path(into) / "config.json").is_file()
                             or model_id(Path(into)) != lm.model_id):
        raise ValueError(f"--into {into} is not the folder of model {lm.name}")
    out = Path(out)
    ckpt_path = out / "checkpoint.pt"
    if not resume and (ckpt_path.exists() or (out / JSON).exists()):
        raise ValueError(f"{out} already holds a sampler run (use another --out, or --resume)")
    out.mkdir(parents=True, exist_ok=True)
    log = _log(out / "train_log.jsonl")
    cd = _codes(lm, Path(data), out / "codes.pt", hp, labels, size, limit, dev, echo)
    h, w = cd["train"].shape[2:]
    arch = dict(m=lm.codec.m, num_layers=lm.codec.num_layers, grid=[int(h), int(w)],
                classes=cd["classes"] if labels else [], **{k: hp[k] for k in ARCH})
    torch.manual_seed(seed)
    sampler = Sampler(arch).to(dev)
    opt = torch.optim.Adam(sampler.parameters(), lr=hp["lr"])
    step = 0
    if resume and ckpt_path.is_file():
        step = _resume(ckpt_path, sampler, opt, lm, dev)
        echo(f"resuming at step {step}")
        log({"event": "resume", "step": step})
    else:
        log({"event": "start", "arch": sampler.arch, "hp": hp, "model": lm.name,
             "model_id": lm.model_id.hex(), "data": str(data),
             "params": sum(p.numel() for p in sampler.parameters()),
             "macs_per_index": macs_per_index(sampler)})

    def save_ckpt(at: int) -> None:
        tmp = ckpt_path.with_suffix(".tmp")
        torch.save({"arch": sampler.arch, "state": sampler.state_dict(), "opt": opt.state_dict(),
                    "step": at, "model_id": lm.model_id.hex(), "hp": hp}, tmp)
        tmp.replace(ckpt_path)

    step = _fit(sampler, opt, cd, hp, dev, seed, step, log, progress, save_ckpt)
    save_ckpt(step)
    y_test = cd["y_test"] if arch["classes"] else None
    test = evaluate(sampler, cd["test"], y_test)
    log({"event": "done", "step": step, "test_images": len(cd["test"]), **test})
    h_img, w_img, ch = cd["image"]
    save_sampler(sampler.cpu(), out, lm.model_id, {
        "image": {"height": h_img, "width": w_img, "channels": ch},
        "training": {"preset": preset, "data": str(data), "steps": step,
                     "batch_size": hp["batch_size"], "train_images": cd["train_images"],
                     "test_images": len(cd["test"]), "seed": seed, **test}})
    if into is not None:
        for f in (WEIGHTS, JSON):  # the weights first: a sampler.json always has its weights
            with atomic_path(Path(into) / f) as tmp:
                shutil.copyfile(out / f, tmp)
    return out


def _hparams(preset: str, steps: int | None, batch_size: int | None) -> dict:
    """The preset's hyper-parameters with the caller's schedule, checked."""
    if preset not in PRESETS:
        raise ValueError(f"unknown sampler preset {preset!r} (choose from {', '.join(PRESETS)})")
    hp = dict(PRESETS[preset])
    hp["steps"] = hp["steps"] if steps is None else steps
    hp["batch_size"] = hp["batch_size"] if batch_size is None else batch_size
    if hp["steps"] < 0 or hp["batch_size"] < 1:
        raise ValueError("--steps must be 0 or more and --batch-size 1 or more")
    return hp


def _codes(lm, data: Path, path: Path, hp: dict, labels: bool, size: int | None,
           limit: int | None, dev, echo: Callable[[str], None]) -> dict:
    """The run's codes: made once and kept in the run folder (remade if what made them changed)."""
    cd = torch.load(path, weights_only=False) if path.is_file() else None
    key = [lm.model_id.hex(), str(data), limit, labels, size, hp["flip"]]
    if cd is None or cd.get("key") != key:
        t = time.time()
        cd = dict(make_codes(lm, data, labels, size, limit, dev, hp["flip"]), key=key)
        torch.save(cd, path)
        echo(f"codes of {cd['train_images']} train images"
             f"{' (and their mirror images)' if hp['flip'] else ''}, "
             f"{len(cd['test'])} test images: {tuple(cd['train'].shape[1:])} each, "
             f"{time.time() - t:.1f} s")
    return cd


def _resume(ckpt_path: Path, sampler: Sampler, opt, lm, dev) -> int:
    """Load a checkpoint of this model and architecture; returns its step."""
    ck = torch.load(ckpt_path, map_location=dev, weights_only=False)
    if ck["model_id"] != lm.model_id.hex() or ck["arch"] != sampler.arch:
        raise ValueError(f"{ckpt_path} was made for another model or architecture; "
                         "drop --resume or use another --out")
    sampler.load_state_dict(ck["state"])
    opt.load_state_dict(ck["opt"])
    return ck["step"]


def _fit(sampler: Sampler, opt, cd: dict, hp: dict, dev, seed: int, step: int,
         log: Callable[[dict], None], progress, save_ckpt: Callable[[int], None]) -> int:
    """The training loop from `step` to hp["steps"]; returns the last step."""
    classes = sampler.arch["classes"]
    train, y_train = cd["train"], cd["y_train"] if classes else None
    y_test = cd["y_test"] if classes else None
    test_n, null = hp["test_grids"], len(classes)
    sampler.train()
    t0, start = time.time(), step
    while step < hp["steps"]:
        gen = torch.Generator().manual_seed(seed * 1_000_003 + step)
        idx = torch.randint(0, len(train), (hp["batch_size"],), generator=gen)
        y = torch.full((len(idx),), null) if y_train is None else y_train[idx].clone()
        y[torch.rand(len(idx), generator=gen) < UNCOND] = null
        for g in opt.param_groups:
            g["lr"] = _lr(step, hp["steps"], hp["lr"])
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=hp["bf16"]):
            loss, per = sampler.loss(train[idx].long().to(dev), y.to(dev))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(sampler.parameters(), 1.0)
        if not (torch.isfinite(loss) and torch.isfinite(norm)):
            # A NaN gradient would silently turn every weight to NaN and train on for hours.
            raise ValueError(f"the loss or its gradient is not finite at step {step} "
                             "(seen with bf16 at some widths: try another width or "
                             "bf16=False); the last checkpoint is intact")
        opt.step()
        step += 1
        if step % hp["log_every"] == 0 or step == hp["steps"]:
            rec = {"step": step, "bits": round(loss.item(), 4),
                   "bits_per_layer": [round(b, 4) for b in per],
                   "sec": round(time.time() - t0, 1),
                   "s_per_step": round((time.time() - t0) / (step - start), 3)}
            if step % hp["eval_every"] == 0 and step < hp["steps"]:
                rec.update(evaluate(sampler, cd["test"][:test_n],
                                    None if y_test is None else y_test[:test_n]))
            log(rec)
            if progress:
                progress(step, hp["steps"], rec)
        if step % hp["ckpt_every"] == 0:
            save_ckpt(step)
    return step
