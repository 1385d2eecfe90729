"""What a training run is: TrainConfig (the preset resolved with the run's overrides, and where
and how it runs), and the model config.json that such a run writes.

    TrainConfig.from_preset(data, out, "tiny", steps=30)                 # a named preset
    TrainConfig.from_preset(data, out, "tiny", overrides={"revive": False})  # a variant of one
    TrainConfig.from_preset(data, out, {...a preset's keys...})          # a preset of your own

train.train(cfg) runs one. Nothing here touches a file but detect_modality, which looks at the
names under the data folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import media
from .presets import DEFAULT_PRESET, PRESETS, preset_modality

ARCH_KEYS = ("channels", "latent_dim", "res_blocks", "codebook_size", "num_layers", "prior")
# Optional architecture keys (absent = the default): a checkpoint must agree on these too.
SHAPE_KEYS = ("strides", "base_channels", "sample_rate", "arch", "latent_rows", "shuffle", "groups",
              "stage_blocks", "decoder_blocks", "stereo", "post_blocks", "post_width",
              "synth_kernel")
# What --init must share with the new model: the architecture but the prior (trained afresh).
AE_KEYS = tuple(k for k in ARCH_KEYS if k != "prior") + ("in_channels", "modality") + SHAPE_KEYS
# Optional model keys of the quantizer, copied from the preset into config.json when present.
QUANTIZER_KEYS = ("usage_decay", "dead_usage", "codebook_update", "search_weight", "nearest",
                  "lowfreq_weight")
# Of those, what a resumed run may change (see resumed_config).
SEARCH_KEYS = ("lowfreq_weight",)
# Optional encode-time defaults, copied the same way: the default lam ("rdo") and the lams the
# rate targets try ("target_lambdas"), see image_codec and targets.
CODING_KEYS = ("rdo", "target_lambdas", "default_layers")
# Training switches for ablations (training/photo/ab_study.py), recorded in config.training:
# revive (dead-code restarts, default on), layer_dropout (random layer truncation, default on),
# keep_weights (the truncation's draw: n relative weights of keeping 1..n layers, train.draw_keep),
# loss ("mse", or "ms-ssim": 1 - MS-SSIM, which needs crops of 176 px or more), ms_ssim_weight
# (images: that much 1 - MS-SSIM added to the MSE; a 7-tap window, crops of 112 px or more), train_only
# ("decoder": stage 1 trains the decoder alone, so the codes, and the prior, stay the parent's),
# code_search ("prior": stage 1 learns from the codes the coder's rate-distortion search picks
# under the parent's coding prior, not the light tables' choice; with train_only "decoder" the
# decoder alone), prior_codes ("coder": stage 2 fits the prior to the codes that search picks,
# see train._coder_prior_codes),
# adv_weight / fm_weight / adv_start / disc_lr / disc_width / disc_clips / disc_seconds (audio:
# an STFT discriminator's hinge loss and feature matching from step adv_start on, on a window of
# a few clips of each batch; see discriminator.py).
# The codebook update rule ("loss" or "ema") is a model config key, codebook_update.
STUDY_KEYS = ("revive", "layer_dropout", "loss", "codebook_update", "lam_range", "lam_zero", "bf16",
              "channels_last", "rate_lr_mult", "train_only", "adv_weight", "fm_weight",
              "adv_start", "disc_lr", "disc_width", "disc_clips", "disc_seconds", "code_search",
              "zero_words", "prior_codes", "ms_ssim_weight", "complex_weight", "keep_weights")
# What a resumed run takes from this run rather than from its checkpoint.
RUN_KEYS = ("steps", "prior_steps", "batch_size", "device", "world_size")


def detect_modality(folder: Path) -> str:
    """"audio" when most media files under folder are audio, else "image"."""
    kinds = [media.modality_of(p) for p in folder.rglob("*") if p.is_file()]
    return "audio" if kinds.count("audio") > kinds.count("image") else "image"


@dataclass
class TrainConfig:
    """One training run. hp is what it trains with: a preset's keys with the run's overrides
    (steps, prior_steps, batch_size, ...); preset is the name recorded in config.training."""

    data: Path
    out: Path
    hp: dict
    preset: str = "custom"
    modality: str = "image"
    device: str = "auto"
    resume: bool = False
    name: str | None = None
    seed: int = 0
    init: str | Path | None = None
    stop_at: int | None = None  # end stage 1 at this step with a checkpoint (a chunk of a run)

    def __post_init__(self) -> None:
        self.data, self.out = Path(self.data), Path(self.out)
        if self.hp.get("loss", "mse") not in ("mse", "ms-ssim"):
            raise ValueError(f"unknown loss {self.hp['loss']!r} (mse or ms-ssim)")
        if self.hp.get("loss") == "ms-ssim" and self.hp["crop"] < 176:
            raise ValueError("the ms-ssim loss needs crops of at least 176 px (its 4 downsamplings)")
        if self.hp.get("ms_ssim_weight") and self.hp["crop"] < 112:
            raise ValueError("ms_ssim_weight needs crops of at least 112 px (MS-SSIM's 4 "
                             "downsamplings of a 7-tap window)")

    @classmethod
    def from_preset(cls, data: Path, out: Path, preset: str | dict | None = None, *,
                    overrides: dict | None = None, steps: int | None = None,
                    prior_steps: int | None = None, batch_size: int | None = None,
                    modality: str | None = None, device: str = "auto", resume: bool = False,
                    name: str | None = None, seed: int = 0,
                    init: str | Path | None = None, stop_at: int | None = None) -> TrainConfig:
        """The run of a preset, checked before anything is written.

        Args:
            data: folder searched recursively for images (or audio files).
            out: where checkpoints, the log and the model are written.
            preset: a name in presets.PRESETS ("tiny" for tests, "small"; audio: "tiny-audio",
                "speech-stft", "speech-small"), or a dict of a preset's keys (recorded as
                "custom"); default: the default of the modality.
            overrides: preset keys replaced for this run (ablations, tests).
            steps, prior_steps, batch_size: the schedule, where not the preset's.
            modality: "image" or "audio"; default: the preset's, else what most files in data are.
            device: "auto", "cpu", "cuda", ...; under torchrun each rank takes its LOCAL_RANK GPU.
            resume: continue from OUT/checkpoint.pt when there is one.
            name: the model's name (default: OUT's folder name); on resume it renames the model.
            init: a model (shipped name or folder) of the same architecture whose autoencoder and
                codebooks stage 1 starts from (fine-tuning, e.g. a shipped model on your own
                photos); the prior is always trained afresh.
            stop_at: end this chunk of the run after stage-1 step stop_at, with a checkpoint
                that resume continues (the learning-rate schedule is the whole run's).
        """
        if isinstance(preset, dict):
            label, base = "custom", preset
        else:
            if preset is not None and preset not in PRESETS:
                raise ValueError(f"unknown preset {preset!r} (choose from {', '.join(PRESETS)})")
            label, base = preset, PRESETS.get(preset)  # None: the modality's default, below
        if modality is None:
            modality = preset_modality(base) if base is not None else detect_modality(Path(data))
        if modality not in DEFAULT_PRESET:
            raise ValueError(f"unknown modality {modality!r} (image or audio)")
        if base is None:
            label = DEFAULT_PRESET[modality]
            base = PRESETS[label]
        if preset_modality(base) != modality:
            raise ValueError(f"preset {label!r} is not an {modality} preset")
        hp = {**base, **(overrides or {})}
        hp["steps"] = steps if steps is not None else hp["steps"]
        hp["prior_steps"] = prior_steps if prior_steps is not None else hp["prior_steps"]
        hp["batch_size"] = batch_size if batch_size is not None else hp["batch_size"]
        if stop_at is not None and stop_at < 1:
            raise ValueError(f"stop_at must be a step >= 1, not {stop_at}")
        return cls(data, out, hp, label, modality, device, resume, name, seed, init, stop_at)


def model_config(cfg: TrainConfig, hp: dict, task_keys: dict, device: str, world: int,
                 n_train: int, n_val: int) -> dict:
    """The config.json of the model a run trains: its architecture, the task's keys
    (in_channels) and a record of the run in "training"."""
    config = {k: hp[k] for k in ARCH_KEYS}
    config.update({k: hp[k] for k in QUANTIZER_KEYS + CODING_KEYS + SHAPE_KEYS if k in hp})
    config.update(task_keys)
    config.update(modality=cfg.modality, beta=0.25, name=cfg.name or cfg.out.name,
                  training={"preset": cfg.preset, "data": str(cfg.data), "steps": hp["steps"],
                            "prior_steps": hp["prior_steps"], "batch_size": hp["batch_size"],
                            "crop": hp["crop"], "device": device, "world_size": world,
                            "recon_weight": hp.get("recon_weight", 1.0),
                            **{k: hp[k] for k in STUDY_KEYS if k in hp},
                            "train_files": n_train, "val_files": n_val})
    return config


def resumed_config(ck: dict, fresh: dict, name: str | None, where: Path) -> dict:
    """The config of a run resumed from checkpoint `ck` (read from `where`): its config, with
    this run's schedule (it may change the step counts) and a record of where training was
    resumed, so the shipped config tells what was run. `fresh` is this run's own config."""
    keys = ARCH_KEYS + SHAPE_KEYS
    if {k: ck["config"].get(k) for k in keys} != {k: fresh.get(k) for k in keys}:
        raise ValueError(f"{where} was made with another architecture; drop --resume")
    run = {k: fresh["training"][k] for k in RUN_KEYS}
    # The switches too: a checkpoint copied and resumed under another preset of the same
    # architecture (a fork, e.g. with adversarial losses) trains, and says, what that one says.
    run.update({k: fresh["training"][k] for k in STUDY_KEYS if k in fresh["training"]})
    tr = ck["config"]["training"]
    resumed = tr.get("resumed", []) + [[ck["stage"], ck["step"]]]
    # The search's settings are not architecture: a fork may change them (e.g. a low-frequency
    # emphasis for the coder's codes of its stage 2).
    search = {k: fresh[k] for k in SEARCH_KEYS if k in fresh}
    config = {**ck["config"], **search, "training": {**tr, **run, "resumed": resumed}}
    if name:  # a name given on resume names the model that comes out
        config["name"] = name
    return config
