"""Model folders: the codec's networks, their config, identity, and the shipped-model registry.

A model is one folder::

    config.json          architecture, modality, layer sizes, prior fingerprint
    model.safetensors    encoder, decoder and HR-VQ codebooks (float32)
    prior.safetensors    the integer prior used for entropy coding
    sampler.json, sampler.safetensors   optional: the float sampling prior (sampler.py), for
                         `vqcodec sample` only; outside the identity, so adding one orphans no file

Its identity is a hash of the first three files; a `.vqc` records it, and decoding with any other
model is refused by name. Shipped models live in `weights/<name>/`; `--model` takes a name
from there or a path to a folder.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from .autoencoder import (
    Decoder1d,
    Decoder2d,
    DecoderLR,
    Encoder1d,
    Encoder2d,
    EncoderLR,
    SpecDecoder1d,
    SpecEncoder1d,
)
from .group_prior import GroupExactPrior, GroupPrior, prior_shapes
from .prior import ExactPrior, Prior
from .product_vq import ProductHRVQ
from .quantizer import DEAD_USAGE, HRVQ, USAGE_DECAY

CONFIG_VERSION = 1
FILES = ("config.json", "model.safetensors", "prior.safetensors")
DEFAULTS = {"image": "photo-v4-c5", "audio": "speech-stft"}


class ModelError(ValueError):
    """A model that cannot be found or loaded; the message is one line for the user."""


def weights_dir() -> Path:
    """Where shipped models live: $VQCODEC_WEIGHTS, else the repo's weights/ folder."""
    env = os.environ.get("VQCODEC_WEIGHTS")
    if env:
        return Path(env)
    here = Path(__file__).resolve().parent
    for cand in (here.parent / "weights", here / "weights"):
        if cand.is_dir():
            return cand
    return here.parent / "weights"


def decoder_blocks(config: dict) -> list[int]:
    """A lowres model's ConvNeXt blocks per decoder stage: the encoder's unless grown."""
    return config.get("decoder_blocks") or config["stage_blocks"]


class Codec(nn.Module):
    """Encoder + HR-VQ + decoder (+ the prior while training). Built from a config dict."""

    def __init__(self, config: dict):
        super().__init__()
        self.config = config
        c = config
        st = c.get("strides")
        if c["modality"] == "image" and c.get("arch") == "lowres":
            # Pixel-unshuffle stems and ConvNeXt stages at 1/4, 1/8, ... (stage_blocks each).
            args = (c["in_channels"], c["channels"], c["stage_blocks"], c["latent_dim"])
            self.encoder = EncoderLR(*args)
            self.decoder = DecoderLR(c["in_channels"], c["channels"], decoder_blocks(c),
                                     c["latent_dim"])
        elif c["modality"] == "image":
            args = (c["in_channels"], c["channels"], c["latent_dim"], c["res_blocks"], st, self.shuffle)
            self.encoder, self.decoder = Encoder2d(*args), Decoder2d(*args)
        elif c["modality"] == "audio" and c.get("arch") == "stft":
            # STFT frames: hop = strides[0], width = channels[0], res_blocks ConvNeXt blocks.
            args = (st[0], c["channels"][0], c["res_blocks"], c["latent_dim"], self.rows)
            self.encoder, self.decoder = SpecEncoder1d(*args), SpecDecoder1d(*args)
        elif c["modality"] == "audio":
            # One channel at a time (a stereo file is coded as two mono signals), at sample_rate.
            args = (1, c["channels"], c["latent_dim"], c["res_blocks"], st, c["base_channels"])
            self.encoder, self.decoder = Encoder1d(*args), Decoder1d(*args)
        else:
            raise ModelError(f"unsupported modality {c['modality']!r}")
        usage = (c.get("usage_decay", USAGE_DECAY), c.get("dead_usage", DEAD_USAGE))
        p = c["prior"]
        if c.get("search_weight") not in (None, "decoder"):
            raise ValueError(f"unknown search_weight {c['search_weight']!r} (decoder, or none)")
        if self.groups:  # product HR-VQ: one tree per channel group, a prior per (layer, group)
            self.quantizer = ProductHRVQ(c["latent_dim"], c["groups"], c["codebook_size"],
                                         c["num_layers"], c["beta"], *usage,
                                         weighted=c.get("search_weight") == "decoder")
            self.prior = GroupPrior(c["codebook_size"], c["num_layers"], c["groups"], p["width"],
                                    p["blocks"], p["phases"])
        else:
            self.quantizer = HRVQ(c["latent_dim"], c["codebook_size"], c["num_layers"], c["beta"],
                                  *usage, c.get("codebook_update", "loss"),
                                  c.get("nearest", "gather"))
            self.prior = Prior(c["codebook_size"], c["num_layers"], p["width"], p["blocks"],
                               p["phases"])
        self.exact: ExactPrior | None = None

    @property
    def rows(self) -> int:
        """Audio: latent vectors per frame (the latent grid's height)."""
        return int(self.config.get("latent_rows", 1))

    @property
    def shuffle(self) -> int:
        """Images: latent vectors per side of each deepest-stride position (depth-to-space)."""
        return int(self.config.get("shuffle", 1))

    @property
    def groups(self) -> int:
        """Channel groups of a product HR-VQ (0: one plain HR-VQ tree; codes then lack the axis)."""
        return int(self.config.get("groups", 0))

    @property
    def stride(self) -> int:
        """What inputs are padded to a multiple of: the transform's total stride."""
        if self.config.get("arch") == "lowres":
            return 4 * 2 ** (len(self.config["channels"]) - 1)
        return math.prod(self.config.get("strides") or [2] * len(self.config["channels"]))

    def latent_shape(self, height: int, width: int) -> tuple[int, int]:
        """The latent grid of an image of this size (padded up to the stride); audio: (rows,
        frames) of a clip of `width` samples."""
        if self.modality == "audio":
            return self.rows, -(-width // self.stride)
        f = self.shuffle
        return -(-height // self.stride) * f, -(-width // self.stride) * f

    @property
    def modality(self) -> str:
        return self.config["modality"]

    @property
    def sample_rate(self) -> int:
        """Audio models: the rate the networks run at (inputs are resampled to it)."""
        return int(self.config["sample_rate"])

    @property
    def m(self) -> int:
        return self.config["codebook_size"]

    @property
    def num_layers(self) -> int:
        return self.config["num_layers"]

    @property
    def name(self) -> str:
        return self.config.get("name", "unnamed")

    def autoencoder_state(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()
                if not k.startswith("prior.")}


@dataclass
class LoadedModel:
    codec: Codec
    path: Path
    model_id: bytes  # 16 bytes

    @property
    def name(self) -> str:
        return self.codec.name


def model_id(folder: Path) -> bytes:
    h = hashlib.sha256()
    for f in FILES:
        h.update((folder / f).read_bytes())
    return h.digest()[:16]


def save_model(codec: Codec, folder: Path, prior_tensors: dict[str, torch.Tensor],
               fingerprint: str) -> bytes:
    """Write a model folder; returns its identity."""
    folder.mkdir(parents=True, exist_ok=True)
    cfg = dict(codec.config, format="vqcodec-model", config_version=CONFIG_VERSION,
               prior_fingerprint=fingerprint)
    save_file(codec.autoencoder_state(), str(folder / "model.safetensors"))
    save_file({k: v.contiguous() for k, v in prior_tensors.items()},
              str(folder / "prior.safetensors"))
    (folder / "config.json").write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
    return model_id(folder)


def resolve(name_or_path: str | Path | None, modality: str = "image") -> Path:
    """A model folder from a shipped name or a path; the modality's default when None."""
    if name_or_path is None or name_or_path == "default":
        name_or_path = DEFAULTS[modality]
        if not (weights_dir() / name_or_path / "config.json").is_file():
            raise ModelError(f"no {modality} model installed (the default {name_or_path!r} is not in "
                             f"{weights_dir()}); train one with `vqcodec train --data DIR` and pass "
                             "it with --model")
    p = Path(name_or_path)
    if (p / "config.json").is_file():
        return p
    cand = weights_dir() / str(name_or_path)
    if (cand / "config.json").is_file():
        return cand
    names = ", ".join(m["name"] for m in list_models()) or "none"
    raise ModelError(f"no model {str(name_or_path)!r} (shipped models: {names}; or give a folder)")


def load_model(name_or_path: str | Path | None = None, device: str | torch.device = "cpu",
               modality: str = "image") -> LoadedModel:
    """Load a model folder for coding: autoencoder weights + verified integer prior."""
    folder = resolve(name_or_path, modality)
    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ModelError(f"bad model config in {folder}: {e}") from None
    if config.get("format") != "vqcodec-model":
        raise ModelError(f"{folder} is not a vqcodec model folder")
    for f in FILES[1:]:
        if not (folder / f).is_file():
            raise ModelError(f"model {folder} is missing {f}")
    try:
        codec = Codec(config)
    except KeyError as e:
        raise ModelError(f"model {folder}: config.json lacks {e}") from None
    except (TypeError, ValueError) as e:
        raise ModelError(f"model {folder}: bad config.json ({e})") from None
    try:
        state = load_file(str(folder / "model.safetensors"))
        prior_t = load_file(str(folder / "prior.safetensors"))
    except Exception as e:  # safetensors raises its own error types for damaged files
        raise ModelError(f"model {folder}: cannot read weights ({e})") from None
    expected = {k: v for k, v in codec.state_dict().items() if not k.startswith("prior.")}
    _check_tensors(folder / "model.safetensors", state, {k: tuple(v.shape) for k, v in expected.items()})
    _check_tensors(folder / "prior.safetensors", prior_t, _prior_shapes(config), exact_names=False)
    codec.load_state_dict(state, strict=False)
    codec.prior = None  # the float prior is only for training; coding uses the integer one
    codec.eval().to(device)
    codec.exact = exact_prior(config, prior_t, device)
    try:
        codec.exact.verify(config["prior_fingerprint"])
    except (RuntimeError, KeyError) as e:
        raise ModelError(f"model {folder}: {e}") from None
    return LoadedModel(codec, folder, model_id(folder))


def exact_prior(config: dict, tensors: dict[str, torch.Tensor],
                device: str | torch.device = "cpu") -> ExactPrior:
    """The integer prior a model config describes, over its integer tensors."""
    m, n, p = config["codebook_size"], config["num_layers"], config["prior"]
    if config.get("groups"):
        return GroupExactPrior(tensors, m, n, config["groups"], p["blocks"], p["phases"], device)
    return ExactPrior(tensors, m, n, p["blocks"], p["phases"], device)


def _check_tensors(path: Path, got: dict, want: dict[str, tuple], exact_names: bool = True) -> None:
    """Refuse a weights file with a missing, extra or misshapen tensor, naming the first one."""
    for k, shape in want.items():
        if k not in got:
            raise ModelError(f"{path} is missing tensor {k!r}")
        if shape is not None and tuple(got[k].shape) != shape:
            raise ModelError(f"{path}: tensor {k!r} has shape {tuple(got[k].shape)}, the config "
                             f"needs {shape}")
    extra = sorted(set(got) - set(want))
    if extra and exact_names:
        raise ModelError(f"{path} has a tensor the config does not describe: {extra[0]!r}")


def _prior_shapes(config: dict) -> dict[str, tuple | None]:
    """Names and shapes of the integer prior's tensors, from the config."""
    if config.get("groups"):
        return prior_shapes(config)
    m, n, p = config["codebook_size"], config["num_layers"], config["prior"]
    w = p["width"]
    out: dict[str, tuple | None] = {"exp_table": None}
    for i in range(n):
        convs = {"stem": (w, (i + 1) * m + 1, 5, 5), "mix": (w, w, 1, 1), "head": (m, w, 1, 1)}
        for j in range(p["blocks"]):
            convs[f"b{j}a"] = convs[f"b{j}b"] = (w, w, 3, 3)
        for name, shape in convs.items():
            out[f"l{i}.{name}.w"] = shape
            out[f"l{i}.{name}.mult"] = (shape[0],)
            out[f"l{i}.{name}.bias"] = (shape[0],)
    return out


def list_models() -> list[dict]:
    """Shipped models: name, modality, layers, default, path."""
    out = []
    root = weights_dir()
    if not root.is_dir():
        return out
    for cfg_path in sorted(root.glob("*/config.json")):
        try:
            c = json.loads(cfg_path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        name = cfg_path.parent.name
        mod = c.get("modality", "?")
        out.append({"name": name, "modality": mod, "layers": int(c.get("num_layers", 0)),
                    "codebook_size": int(c.get("codebook_size", 0)),
                    "default": DEFAULTS.get(mod) == name, "path": str(cfg_path.parent)})
    return out
