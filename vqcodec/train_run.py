"""A training run's setup and state (train.py runs its stages): devices and process group, the
log, the data split, the model built fresh, resumed from OUT/checkpoint.pt or started from a
parent's weights (--init), the optimizers, and the checkpoints.

::

    TrainConfig --setup--> Run: rank/world/device (torchrun), Logger (OUT/train_log.jsonl),
        task (TASKS[modality]), this rank's shard of the training files, the validation files,
        config (the model's config.json), codec, opt1 (autoencoder), opt2 (prior), stage/step

Only rank 0 logs, reports progress and writes checkpoints.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch
import torch.distributed as dist
from safetensors.torch import load_file

from .autoencoder import fast_bf16, grow_decoder, lap_synthesis
from .devices import resolve_device
from .models import Codec, decoder_blocks, model_id, resolve
from .product_vq import split_groups
from .train_audio import AudioTask
from .train_config import AE_KEYS, TrainConfig, model_config, resumed_config
from .train_image import ImageTask


class Task(Protocol):
    """What the loop asks of a modality: ImageTask (train_image), AudioTask (train_audio)."""

    modality: str
    hp: dict  # the run's hyper-parameters (the task may add what it derives from them)

    def find(self, folder: Path) -> list[Path]: ...  # the training files under folder
    def config(self) -> dict: ...  # the model config keys of the modality (in_channels)
    def load(self, files: list[Path], seed: int) -> str: ...  # hold stage 1's data; a log line
    def batch(self, n: int, device: torch.device) -> torch.Tensor: ...  # a stage-1 batch
    def release(self) -> None: ...  # drop stage 1's data
    def val_set(self, files: list[Path], seed: int) -> torch.Tensor: ...  # validation inputs
    def recon(self, y: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, dict]: ...  # loss
    def evaluate(self, codec: Codec, val: torch.Tensor, device: torch.device) -> dict: ...
    def prior_inputs(self, files: list[Path], seed: int, val: bool) -> torch.Tensor: ...
    def to_input(self, x: torch.Tensor, device: torch.device) -> torch.Tensor: ...


# The modality's task, built from the run's hp and the log's say().
TASKS: dict[str, Callable[[dict, Callable[[str], None]], Task]] = {"image": ImageTask,
                                                                     "audio": AudioTask}


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


class Logger:
    """OUT/train_log.jsonl: one JSON record a line; say() also shows the note (echo)."""

    def __init__(self, path: Path, echo: Callable[[str], None]):
        self.f = path.open("a")
        self.echo = echo

    def __call__(self, record: dict) -> None:
        self.f.write(json.dumps(record) + "\n")
        self.f.flush()

    def say(self, text: str) -> None:
        self.echo(text)
        self({"note": text})


@dataclass
class Run:
    """One run's live state, shared by setup and the stages (train.py)."""

    cfg: TrainConfig
    hp: dict
    task: Task
    log: Logger
    progress: Callable | None  # callable(stage, step, total, metrics); None on ranks but 0
    rank: int
    world: int
    dev: torch.device
    train_files: list[Path]  # this rank's shard
    val_files: list[Path]
    config: dict  # the model's config.json, as it will be written
    codec: Codec
    opt1: torch.optim.Optimizer | None = None
    opt2: torch.optim.Optimizer | None = None
    disc: torch.nn.Module | None = None  # audio with adv_weight: the STFT discriminator
    opt_d: torch.optim.Optimizer | None = None
    stage: int = 1
    step: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def ckpt_path(self) -> Path:
        return self.cfg.out / "checkpoint.pt"

    def save(self, stage: int, step: int, opt: torch.optim.Optimizer) -> None:
        """The checkpoint --resume continues from (rank 0 writes it)."""
        if not self.main:
            return
        tmp = self.ckpt_path.with_suffix(".tmp")
        state = {"config": self.config, "model": self.codec.state_dict(),
                 "opt": opt.state_dict(), "stage": stage, "step": step}
        if self.disc is not None:
            state.update(disc=self.disc.state_dict(), opt_d=self.opt_d.state_dict())
        torch.save(state, tmp)
        tmp.replace(self.ckpt_path)


def split_files(files: list[Path], seed: int) -> tuple[list[Path], list[Path]]:
    """The files a run validates on (the first 5 % of the list shuffled by `seed`, at least one)
    and the rest, which it trains on; scripts that must not read the held-out files use it too."""
    shuffled = files[:]
    random.Random(seed).shuffle(shuffled)
    n_val = max(1, len(files) // 20)
    return shuffled[:n_val], shuffled[n_val:]


def setup(cfg: TrainConfig, progress: Callable | None, echo: Callable[[str], None]) -> Run:
    """Devices, log, data split, model (fresh, resumed or from --init) and optimizers."""
    rank, world, dev = init_distributed(pick_device(cfg.device))
    main = rank == 0
    cfg.out.mkdir(parents=True, exist_ok=True)
    log = (Logger(cfg.out / "train_log.jsonl", echo) if main
           else Logger(Path(os.devnull), lambda s: None))
    torch.manual_seed(cfg.seed)  # the same initial weights on every rank (DDP also broadcasts them)
    random.seed(cfg.seed + rank)
    hp = dict(cfg.hp)  # the task adds what it derives (audio: the crops in samples)
    if hp.get("bf16") and not fast_bf16(dev):
        # bf16 autocast where the hardware has no bf16 products is emulated, several times
        # slower than float32 (photo-v5-g48-c15 on an AVX2-only CPU: > 10 s/step against 0.9);
        # config.training records the precision the run really used.
        hp["bf16"] = False
        log.say("training in float32: this device has no native bf16 (the preset asks for bf16)")
    task = TASKS[cfg.modality](hp, log.say)
    files = task.find(cfg.data)
    if len(files) < 2:
        raise ValueError(f"need at least 2 {'audio files' if cfg.modality == 'audio' else 'images'} "
                         f"in {cfg.data}, found {len(files)}")
    val_files, train_files = split_files(files, cfg.seed)
    if len(train_files) < world:
        raise ValueError(f"{len(train_files)} training files cannot be shared by {world} ranks")
    config = model_config(cfg, hp, task.config(), dev.type, world, len(train_files), len(val_files))
    run = Run(cfg, hp, task, log, progress if main else None, rank, world, dev,
              train_files[rank::world], val_files, config, Codec(config).to(dev))
    ck = _start(run, len(files))
    run.opt1, run.opt2 = optimizers(run.codec, hp)
    if ck is not None:
        (run.opt1 if run.stage == 1 else run.opt2).load_state_dict(ck["opt"])
    if hp.get("adv_weight"):
        _discriminator(run, ck)
    return run


def _discriminator(run: Run, ck: dict | None) -> None:
    """The adversarial losses' discriminator and its Adam (EnCodec's betas), resumed with the run."""
    from .discriminator import MultiScaleSTFTDiscriminator

    if run.cfg.modality != "audio":
        raise ValueError("adv_weight (adversarial training) is for audio models only")
    run.disc = MultiScaleSTFTDiscriminator(run.codec.sample_rate,
                                           run.hp.get("disc_width", 32)).to(run.dev)
    run.opt_d = torch.optim.Adam(run.disc.parameters(), lr=run.hp.get("disc_lr", 3e-4),
                                 betas=(0.5, 0.9))
    if ck is not None and "disc" in ck:
        run.disc.load_state_dict(ck["disc"])
        run.opt_d.load_state_dict(ck["opt_d"])


def _start(run: Run, n_files: int) -> dict | None:
    """Resume from the checkpoint (returned) or start from --init's parent; log the start."""
    cfg, ck = run.cfg, None
    if cfg.resume and run.ckpt_path.is_file():
        ck = torch.load(run.ckpt_path, map_location=run.dev, weights_only=False)
        run.config = resumed_config(ck, run.config, cfg.name, run.ckpt_path)
        run.codec = Codec(run.config).to(run.dev)
        missing, unexpected = run.codec.load_state_dict(ck["model"], strict=False)
        if unexpected or set(missing) - {"quantizer.lowfreq"}:  # a fork's new emphasis: probed
            raise ValueError(f"{run.ckpt_path}: its weights do not match the architecture")
        run.codec.quantizer.mark_used()
        run.stage, run.step = ck["stage"], ck["step"]
        run.log.say(f"resuming stage {run.stage} at step {run.step}")
    elif cfg.init is not None:
        run.config["training"]["init"] = init_from(run.codec, cfg.init, cfg.modality,
                                                   bool(run.hp.get("init_prior")))
        init = run.config["training"]["init"]
        run.log.say(f"stage 1 starts from model {init['name']}"
                    + (" (stage 2 from its prior)" if init.get("prior") else ""))
    run.log({"event": "start", "config": run.config, "files": n_files})
    return ck


# What the prior's tensor shapes depend on: a parent's prior loads only where these agree.
PRIOR_KEYS = ("prior", "codebook_size", "num_layers", "groups")


def _prior_shape(config: dict, key: str):
    """A config's value of a PRIOR_KEYS key, the prior's phases left out: they order the
    decoding, not the weights, so a child may start from a parent with other phases."""
    v = config.get(key)
    return {k: x for k, x in v.items() if k != "phases"} if key == "prior" else v


def autoencoder_params(codec: Codec, hp: dict | None = None) -> list[torch.nn.Parameter]:
    """Stage 1's parameters: all but the prior's; the decoder's alone with hp's
    train_only="decoder"."""
    part = "decoder." if hp and hp.get("train_only") == "decoder" else ""
    return [p for n, p in codec.named_parameters() if not n.startswith("prior.")
            and n.startswith(part)]


def optimizers(codec: Codec, hp: dict) -> tuple[torch.optim.Adam, torch.optim.Adam]:
    """Adam for stage 1 (each group's lr scaled by its "mult") and for stage 2 (the prior)."""
    ae_params = autoencoder_params(codec, hp)
    # The light entropy tables of an entropy-constrained quantizer are frequency counts in
    # disguise: they get a larger step so the rate term tracks the codes as they move.
    rate = [p for n, p in codec.named_parameters()
            if "rate_logits" in n and any(p is q for q in ae_params)]
    rest = [p for p in ae_params if all(p is not r for r in rate)]
    opt1 = torch.optim.Adam([{"params": rest, "mult": 1.0}] +
                            ([{"params": rate, "mult": hp.get("rate_lr_mult", 1.0)}] if rate else []),
                            lr=hp["lr"])
    return opt1, torch.optim.Adam(codec.prior.parameters(), lr=hp["lr"])


def init_from(codec: Codec, init: str | Path, modality: str, prior: bool = False) -> dict:
    """Load a model's autoencoder and codebooks into `codec` (same architecture), and with
    `prior` its coding prior too (the float prior from its integer tensors); returns a record
    of it for the config (name and identity)."""
    folder = resolve(init, modality)
    cfg = json.loads((folder / "config.json").read_text())
    diff = [k for k in AE_KEYS if cfg.get(k) != codec.config.get(k)]
    state = load_file(str(folder / "model.safetensors"))
    old_g, new_g = int(cfg.get("groups") or 0), codec.groups
    if diff == ["groups"] and old_g and new_g % old_g == 0:
        # A product HR-VQ parent with fewer, wider groups: split its words (finer quantizer,
        # the same transform), see product_vq.split_groups.
        state, diff = split_groups(state, new_g // old_g), []
    if diff == ["decoder_blocks"]:
        # A parent with fewer decoder blocks: add them as identities (grow_decoder).
        state = grow_decoder(state, decoder_blocks(cfg), decoder_blocks(codec.config),
                             codec.state_dict())
        diff = []
    if diff and set(diff) <= {"post_blocks", "post_width"} and not cfg.get("post_blocks"):
        # A parent without the decoder's post-filter: it starts as an identity (PostFilter).
        state = {**{k: v for k, v in codec.state_dict().items() if k.startswith("decoder.post.")},
                 **state}
        diff = []
    if diff == ["synth_kernel"] and codec.config.get("arch") == "dct":
        # A parent with a narrower synthesis kernel: lapped around its own (lap_synthesis).
        key = f"decoder.net.{1 + decoder_blocks(cfg)[0]}.weight"
        state, diff = lap_synthesis(state, key, codec.config["synth_kernel"]), []
    if diff:
        raise ValueError(f"--init model {folder} has another architecture ({diff[0]}: "
                         f"{cfg.get(diff[0])!r} vs {codec.config.get(diff[0])!r})")
    missing, unexpected = codec.load_state_dict(state, strict=False)
    # A parent without the search's sensitivity weights: the first probe measures them.
    missing = [k for k in missing if k not in ("quantizer.sens", "quantizer.lowfreq")]
    if unexpected or any(not k.startswith("prior.") for k in missing):
        raise ValueError(f"--init model {folder}: its weights do not match the architecture")
    codec.quantizer.mark_used()
    record = {"name": cfg.get("name", folder.name), "model_id": model_id(folder).hex()}
    if prior:
        diff = [k for k in PRIOR_KEYS if _prior_shape(cfg, k) != _prior_shape(codec.config, k)]
        if diff:
            raise ValueError(f"--init model {folder}: its prior has another shape ({diff[0]}), "
                             f"so the preset's init_prior cannot start from it")
        codec.prior.load_integer(load_file(str(folder / "prior.safetensors")))
        record["prior"] = True
    return record

