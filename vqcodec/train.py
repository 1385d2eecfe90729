"""Training: stage 1 fits the autoencoder and HR-VQ codebooks, stage 2 the prior on their codes.

::

    folder of images --random crops--> stage 1: E, HRVQ, D   (MSE + HR-VQ loss, random layer
                                                              truncation, dead-code restarts)
                     --codes of crops--> stage 2: Prior       (cross-entropy in bits, fake-quantized
                                                              so the integer prior matches)
                     --> model folder (config.json + safetensors), usable with --model

    train(cfg) = setup (train_run) -> stage1 -> stage2 -> export

A run is a TrainConfig (train_config: a preset of presets.py with the run's overrides). The loop
is the same for audio; what differs (files, crops, reconstruction loss, validation metric) sits
behind a task object of one protocol (train_run.Task): train_image.ImageTask,
train_audio.AudioTask. Checkpoints go to OUT/checkpoint.pt; `resume=True` continues from there.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

from .models import Codec, exact_prior, save_model
from .presets import PRESETS
from .prior import export_integer
from .rdo import search_rd_groups
from .train_config import TrainConfig
from .train_run import Run, Task, autoencoder_params, setup

__all__ = ["PRESETS", "TrainConfig", "train"]  # PRESETS: the same dict as presets.PRESETS


def train(cfg: TrainConfig | Path, out: Path | None = None, preset: str | dict | None = None,
          steps: int | None = None, prior_steps: int | None = None, batch_size: int | None = None,
          device: str = "auto", resume: bool = False, name: str | None = None, seed: int = 0,
          progress: Callable | None = None, echo: Callable[[str], None] = print,
          modality: str | None = None, init: str | Path | None = None) -> Path:
    """Train a codec on a folder of images or of audio; returns the model folder (cfg.out).

        train(TrainConfig.from_preset(data, out, "tiny", steps=30), echo=print)
        train(data, out, preset="tiny", steps=30)   # the older form: builds that config

    Args:
        cfg: the run; or, in the older form, the data folder, with the other arguments of
            TrainConfig.from_preset (out, preset, steps, ..., in this order) beside it.
        progress: optional callable(stage, step, total, metrics) for a progress display.
        echo: where the log's notes are shown.
    """
    if not isinstance(cfg, TrainConfig):
        cfg = TrainConfig.from_preset(cfg, out, preset, steps=steps, prior_steps=prior_steps,
                                      batch_size=batch_size, modality=modality, device=device,
                                      resume=resume, name=name, seed=seed, init=init)
    elif (out, preset, steps, prior_steps, batch_size, device, resume, name, seed, modality,
          init) != (None, None, None, None, None, "auto", False, None, 0, None, None):
        raise TypeError("train(cfg): the run's settings are cfg's (see TrainConfig.from_preset)")
    run = setup(cfg, progress, echo)
    if run.stage == 1 and not stage1(run):
        return cfg.out  # stopped at cfg.stop_at: no model yet, --resume continues
    val_codes = stage2(run)
    if run.world > 1:
        dist.barrier()
    if run.main:
        export(run, val_codes)
    if run.world > 1:
        dist.destroy_process_group()
    return cfg.out


class Stage1(nn.Module):
    """Encoder -> HR-VQ -> decoder as one module, so DDP can wrap the whole stage-1 forward."""

    def __init__(self, codec: Codec):
        super().__init__()
        self.encoder, self.quantizer, self.decoder = codec.encoder, codec.quantizer, codec.decoder

    def forward(self, x: torch.Tensor, keep: torch.Tensor, lam: torch.Tensor | None = None,
                coder: Codec | None = None):
        z = self.encoder(x).float()
        # The nearest-word search in float32 even under bf16 autocast: bf16 distances would
        # pick other words than the float32 search at encode time.
        with torch.autocast(z.device.type, enabled=False):
            if coder is not None:  # code_search "prior": the coder's words, not the search's
                zq, vq_loss, _ = self.quantizer(z, keep, lam, _coder_codes(coder, z.detach(), lam))
            else:
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


def draw_keep(hp: dict, n: int, batch: int, device: torch.device) -> torch.Tensor:
    """How many of the n layers each sample of a batch keeps. By default half the batch trains
    the full-rate path and the other half a uniform draw of 1..n; keep_weights (n relative
    weights) draws every sample from those instead, to train one rate harder than the rest;
    layer_dropout False keeps all n."""
    if "keep_weights" in hp and hp.get("layer_dropout", True):
        w = torch.tensor(hp["keep_weights"], dtype=torch.float)
        if len(w) != n or (w < 0).any() or w.sum() <= 0:
            raise ValueError(f"keep_weights needs {n} weights >= 0, not all 0: {hp['keep_weights']}")
        return (torch.multinomial(w, batch, replacement=True) + 1).to(device)
    # drawn even when unused: the random stream every recipe's log was trained with
    keep = torch.randint(1, n + 1, (batch,), device=device)
    keep[: batch // 2] = n  # half the batch always trains the full-rate path
    if not hp.get("layer_dropout", True):
        keep[:] = n
    return keep


def _lr(step: int, total: int, base: float) -> float:
    warm = min(1.0, (step + 1) / min(100, total // 10 + 1))
    return base * warm * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(step / total, 1.0))))


def stage1(run: Run) -> bool:
    """The autoencoder and quantizer, from run.step to hp["steps"]; then checkpoint stage 2.
    False when it stopped at cfg.stop_at instead (checkpointed there)."""
    hp, codec, dev, task, opt = run.hp, run.codec, run.dev, run.task, run.opt1
    t0 = time.time()
    torch.manual_seed(run.cfg.seed + 1000 * run.rank)  # different batches on each rank
    what = task.load(run.train_files, run.cfg.seed + run.rank)
    val = task.val_set(run.val_files, run.cfg.seed + 1)
    run.log.say(f"stage 1: {what}, {len(val)} val crops, {hp['steps']} steps on {dev.type}")
    codec.train()
    decoder_only = hp.get("train_only") == "decoder"
    if decoder_only:
        _freeze_codes(codec)
    coder_codes = hp.get("code_search") == "prior"
    if coder_codes:
        if not (codec.groups and hp.get("init_prior")):
            raise ValueError('code_search "prior" needs a product HR-VQ and init_prior (the '
                             "parent's coding prior chooses the codes)")
        codec.exact = exact_prior(run.config, codec.prior.export(), dev)
    n = codec.num_layers
    zero_words = bool(hp.get("zero_words")) and codec.groups and not decoder_only
    if zero_words:
        codec.quantizer.hold_zero_words()
    model = Stage1(codec)
    if hp.get("channels_last"):  # the ConvNeXt transform's fast layout on the CPU
        model.encoder.to(memory_format=torch.channels_last)
        model.decoder.to(memory_format=torch.channels_last)
    model = DDP(model) if run.world > 1 else model
    for step in range(run.step, hp["steps"]):
        for g in opt.param_groups:
            g["lr"] = _lr(step, hp["steps"], hp["lr"]) * g.get("mult", 1.0)
        if decoder_only:  # evaluation puts the whole codec back in training mode
            codec.encoder.eval()
            codec.quantizer.eval()
        x = task.batch(hp["batch_size"], dev)
        keep = draw_keep(hp, n, len(x), dev)
        if hp.get("channels_last"):
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=hp.get("bf16", False)):
            if coder_codes and decoder_only:
                y, vq_loss = codec.decoder(_coder_latent(codec, x, keep, hp)), 0.0
            else:
                y, vq_loss = model(x, keep, draw_lambda(hp, len(x), dev),
                                   codec if coder_codes else None)
        recon, parts = task.recon(y.float(), x)
        loss = recon + hp.get("vq_weight", 1.0) * vq_loss
        adv = run.disc is not None and step >= hp.get("adv_start", 0)
        if adv:
            yd, xd = _disc_window(y.float(), x, hp)
            loss = loss + _generator_terms(run, yd, xd, parts)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if zero_words:
            codec.quantizer.enforce_zero_words()
        if adv:
            _discriminator_step(run, yd.detach(), xd, parts)
        if (step % PROBE_EVERY == 0 and getattr(codec.quantizer, "weighted", False)
                and not decoder_only):
            probe_sensitivity(codec, x, run.world)
        if step % 25 == 0 and hp.get("revive", True) and not decoder_only:
            revive(codec, run)
        if run.main and (step % 50 == 0 or step == hp["steps"] - 1):
            rec = {"stage": 1, "step": step, "loss": round(loss.item(), 6), **parts,
                   **usage(codec), "sec": round(time.time() - t0, 1)}
            if step % 500 == 0 or step == hp["steps"] - 1:
                rec["val"] = task.evaluate(codec, val, dev)
            _report(run, 1, step, hp["steps"], rec)
        stop = run.cfg.stop_at is not None and run.cfg.stop_at <= step + 1 < hp["steps"]
        if (step + 1) % 500 == 0 or stop:
            run.save(1, step + 1, opt)
        if stop:
            run.log.say(f"stopped after step {step + 1} of {hp['steps']}; --resume continues")
            return False
    run.stage, run.step = 2, 0
    run.save(2, 0, run.opt2)
    task.release()
    return True


@torch.no_grad()
def _coder_latent(codec: Codec, x: torch.Tensor, keep: torch.Tensor, hp: dict) -> torch.Tensor:
    """The decoder's input as `vqcodec compress` makes it (code_search "prior"): the words the
    rate-distortion search picks under the coding prior's own bits (rdo.search_rd_groups, at
    one lam drawn for the batch), summed over each sample's first keep layers. Training used the
    light tables' choice, which spends 3-4 bits per index where the coder spends ~1.2, so the
    decoder had learnt other codes than the ones it is given."""
    with torch.autocast(x.device.type, enabled=False):
        z = codec.encoder(x).float()
        lam = float(draw_lambda(hp, 1, x.device)[0])
        codes = search_rd_groups(codec, z, lam).to(x.device)
        words = codec.quantizer.lookup(codes)  # (B, n, D, h, w)
        mask = (torch.arange(words.shape[1], device=x.device)[None] < keep[:, None]).float()
        return (words * mask[:, :, None, None, None]).sum(1)


@torch.no_grad()
def _coder_codes(codec: Codec, z: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
    """The codes (B, n, G, h, w) `vqcodec compress` would write for latents z, each sample at its
    own lam (rdo.search_rd_groups under the coding prior's bits): what the encoder, codebooks
    and decoder learn from with code_search "prior" (the light tables' choice spends 3-4 bits
    per index where the coder spends ~1.2, so at a given lam they pick other words)."""
    return search_rd_groups(codec, z, lam).to(z.device)


def _disc_window(y: torch.Tensor, x: torch.Tensor, hp: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """The part of the batch the discriminator sees: its first disc_clips clips (default 4),
    a random window of disc_seconds (default 0.5) of each; all of it where shorter."""
    n = hp.get("disc_clips", 4)
    length = min(x.shape[-1], round(hp.get("disc_seconds", 0.5) * hp["sample_rate"]))
    start = int(torch.randint(0, x.shape[-1] - length + 1, ()))
    return y[:n, ..., start:start + length], x[:n, ..., start:start + length]


def _generator_terms(run: Run, y: torch.Tensor, x: torch.Tensor, parts: dict) -> torch.Tensor:
    """adv_weight * hinge adversarial + fm_weight * feature matching (discriminator.py)."""
    from .discriminator import generator_terms

    hp = run.hp
    with torch.autocast(run.dev.type, dtype=torch.bfloat16, enabled=hp.get("bf16", False)):
        adv, fm = generator_terms(run.disc, y, x)
    parts.update(adv=round(adv.item(), 4), fm=round(fm.item(), 4))
    return hp["adv_weight"] * adv + hp.get("fm_weight", 0.0) * fm


def _discriminator_step(run: Run, fake: torch.Tensor, real: torch.Tensor, parts: dict) -> None:
    from .discriminator import discriminator_loss

    with torch.autocast(run.dev.type, dtype=torch.bfloat16, enabled=run.hp.get("bf16", False)):
        d = discriminator_loss(run.disc, fake, real)
    run.opt_d.zero_grad(set_to_none=True)
    d.backward()
    if run.world > 1:  # one discriminator across ranks: average its gradients
        for p in run.disc.parameters():
            dist.all_reduce(p.grad)
            p.grad.div_(run.world)
    run.opt_d.step()
    parts["disc"] = round(d.item(), 4)


def _freeze_codes(codec: Codec) -> None:
    """Everything that decides the codes stays as it is (train_only="decoder"): the encoder and
    the codebooks get no gradient, and the quantizer in eval mode keeps its search scale and
    usage counts; with no probes or revivals either, the parent's codes, and so its coding
    prior, fit the new model exactly."""
    for p in [*codec.encoder.parameters(), *codec.quantizer.parameters()]:
        p.requires_grad_(False)
    codec.encoder.eval()
    codec.quantizer.eval()


def usage(codec: Codec) -> dict:
    """The codebooks' use per layer, for the log: perplexity and dead words."""
    stats = codec.quantizer.stats()
    return {"perplexity": [round(s["perplexity"], 1) for s in stats],
            "dead": [s["dead"] for s in stats]}


def revive(codec: Codec, run: Run) -> None:
    """Restart dead codewords: rank 0 decides, every rank takes its codebooks."""
    if run.main:
        codec.quantizer.revive_dead()
    if run.world > 1:
        for cb in codec.quantizer.codebooks:
            dist.broadcast(cb.data, 0)


def _report(run: Run, stage: int, step: int, total: int, rec: dict) -> None:
    run.log(rec)
    if run.progress:
        run.progress(stage, step + 1, total, rec)


PROBE_EVERY = 100  # steps between probes of the decoder's sensitivity per latent group


@torch.no_grad()
def probe_sensitivity(codec: Codec, x: torch.Tensor, world: int, block: int | None = None) -> None:
    """Refresh the quantizer's per-group decoder sensitivity on one crop of the batch (the
    ranks average theirs, so every rank searches alike). `block`: the cells whose means the
    low-frequency shares are measured in (default: images, the latent's stride)."""
    q = codec.quantizer
    was = codec.training
    codec.eval()
    net = codec.decoder.net  # float32, whatever the decoder's inference precision

    def decode(z: torch.Tensor) -> torch.Tensor:
        with torch.autocast(z.device.type, enabled=False):
            return net(z.contiguous(memory_format=torch.channels_last)).float()

    if block is None:
        block = codec.stride if codec.modality == "image" else 0  # lowfreq: block means
    q.probe_sensitivity(decode, codec.encoder(x[:1]).float(), block=block)
    codec.train(was)
    if world > 1:
        for buf in (q.sens, getattr(q, "lowfreq", None)):
            if buf is not None:
                dist.all_reduce(buf)
                buf.div_(world)


def stage2(run: Run) -> torch.Tensor:
    """The prior on the codes of the frozen autoencoder; returns the validation codes."""
    hp, codec, dev, opt, seed = run.hp, run.codec, run.dev, run.opt2, run.cfg.seed
    codec.eval()
    for p in autoencoder_params(codec):
        p.requires_grad_(False)
    if hp.get("prior_codes") == "coder":
        codes, val_codes = _coder_prior_codes(run)
    else:
        codes = extract_codes(codec, run.task, run.train_files, seed + 2 + run.rank, dev)
        val_codes = extract_codes(codec, run.task, run.val_files, seed + 3, dev, val=True)
    run.log.say(f"stage 2: prior on {len(codes)} code grids {tuple(codes.shape[1:])}, "
                f"{hp['prior_steps']} steps")
    codec.prior.train()
    model = DDP(codec.prior) if run.world > 1 else codec.prior
    t0 = time.time()
    pbs = hp.get("prior_batch", max(4, hp["batch_size"] // 2))
    for step in range(run.step, hp["prior_steps"]):
        for g in opt.param_groups:
            g["lr"] = _lr(step, hp["prior_steps"], hp["lr"])
        c = codes[torch.randint(0, len(codes), (pbs,))].to(dev)
        if random.random() < 0.5:
            c = c.flip(-1)
        loss, per_layer = model(c)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if run.main and (step % 50 == 0 or step == hp["prior_steps"] - 1):
            rec = {"stage": 2, "step": step, "bits": round(loss.item(), 4),
                   "bits_per_layer": [round(b, 3) for b in per_layer],
                   "sec": round(time.time() - t0, 1)}
            _report(run, 2, step, hp["prior_steps"], rec)
        if (step + 1) % 500 == 0:
            run.save(2, step + 1, opt)
    return val_codes


def _coder_prior_codes(run: Run) -> tuple[torch.Tensor, torch.Tensor]:
    """Stage 2's training and validation codes as `vqcodec compress` writes them (prior_codes
    "coder"): the rate-distortion search under the parent's coding prior, each crop at its own
    lam, instead of the light tables' choice, which spends 3-4 bits per index where the coder
    spends ~1.2 -- so the prior fits the codes it will code. They depend on the prior they were
    searched under, which stage 2 then trains: a resumed stage 2 reads the ones it started with
    (OUT/coder_codes_RANK.pt) rather than searching again under a half-trained prior."""
    codec, dev, seed = run.codec, run.dev, run.cfg.seed
    cache = run.cfg.out / f"coder_codes_{run.rank}.pt"
    if run.step > 0 and cache.is_file():
        saved = torch.load(cache, weights_only=True)
        return saved["train"], saved["val"]
    if not (codec.groups and run.hp.get("init_prior")):
        raise ValueError('prior_codes "coder" needs a product HR-VQ and init_prior (the '
                         "parent's coding prior chooses the codes)")
    if run.step > 0:  # the cache is gone: the codes now come from the half-trained prior
        run.log.say(f"stage 2: {cache.name} is missing; searching the codes again under the "
                    f"prior of step {run.step}, not the parent's")
    codec.exact = exact_prior(run.config, codec.prior.export(), dev)
    _probe_if_new(run)
    run.log.say("stage 2: coding the prior's crops with the coder's search (minutes)")
    codes = extract_codes(codec, run.task, run.train_files, seed + 2 + run.rank, dev, coder=True)
    val_codes = extract_codes(codec, run.task, run.val_files, seed + 3, dev, val=True, coder=True)
    tmp = cache.with_suffix(".tmp")
    torch.save({"train": codes, "val": val_codes}, tmp)
    tmp.replace(cache)
    return codes, val_codes


def _probe_if_new(run: Run) -> None:
    """A low-frequency emphasis its parent did not have (lowfreq_weight > 0, lowfreq unprobed)
    is measured before the coder's search uses it: the probe of stage 1, over 16 crops."""
    q = run.codec.quantizer
    if getattr(q, "lowfreq_weight", 0) > 0 and not bool((q.lowfreq > 0).any()):
        run.task.load(run.train_files, run.cfg.seed + 7)
        for _ in range(16):
            probe_sensitivity(run.codec, run.task.batch(1, run.dev), run.world)
        run.task.release()
        run.log.say("stage 2: low-frequency emphasis probed: "
                    f"{[round(v, 3) for v in q.lowfreq.tolist()]}")


@torch.no_grad()
def extract_codes(codec: Codec, task: Task, files: list[Path], seed: int, dev: torch.device,
                  val: bool = False, coder: bool = False) -> torch.Tensor:
    """Codes (N, n, [G,] h, w) of the task's prior crops (images: prior_crop px), all layers.
    A lam-trained model's crops are coded at lam drawn as in training, so the prior learns the
    codes of every rate it will code; with coder=True by the coder's own search
    (_coder_codes, under codec.exact) rather than the quantizer's light tables."""
    pool = task.prior_inputs(files, seed, val)
    gen = torch.Generator().manual_seed(seed)
    out = []
    for i in range(0, len(pool), 32):
        x = task.to_input(pool[i:i + 32], dev)
        z = codec.encoder(x)
        if codec.groups:
            lam = draw_lambda(task.hp, len(x), dev, gen)
            c = _coder_codes(codec, z.float(), lam) if coder else codec.quantizer.search(z, None, lam)
            out.append(c.to(torch.uint8).cpu())
        else:
            out.append(codec.quantizer.search(z).to(torch.uint8).cpu())
    return torch.cat(out).long()


def export(run: Run, val_codes: torch.Tensor) -> None:
    """Integer prior, fingerprint, validation record, model folder (rank 0)."""
    codec, config, dev = run.codec, run.config, run.dev
    codec.prior.eval()
    exported = codec.prior.export() if codec.groups else export_integer(codec.prior)
    tensors = {k: v.cpu() for k, v in exported.items()}
    exact = exact_prior(config, tensors, "cpu")
    with torch.no_grad():
        _, val_bits = codec.prior.loss(val_codes[:64].to(dev))
    config["training"]["val_prior_bits_per_layer"] = [round(b, 4) for b in val_bits]
    val = run.task.val_set(run.val_files, run.cfg.seed + 1)
    key = "val_psnr_per_layers" if run.cfg.modality == "image" else "val_per_layers"
    config["training"][key] = run.task.evaluate(codec, val, dev)
    codec.config = config
    save_model(codec, run.cfg.out, tensors, exact.fingerprint())
    run.log({"event": "done", "val_prior_bits_per_layer": val_bits})
    run.log.say(f"model written to {run.cfg.out}")
