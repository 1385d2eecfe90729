"""Model folders: the config, identity and loading of a codec (its networks: network.py), and
the shipped-model registry.

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
import os
import platform
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from .errors import ModelError
from .group_prior import GroupExactPrior, prior_shapes
from .network import Codec, decoder_blocks  # noqa: F401 (decoder_blocks: as it was here)
from .prior import ExactPrior

CONFIG_VERSION = 1
FILES = ("config.json", "model.safetensors", "prior.safetensors")
DEFAULTS = {"image": "photo-v5-g48-c18", "audio": "speech-stft"}
# Audio sampled above SPEECH_MAX_RATE Hz gets the general-audio model instead (when shipped):
# the speech model runs at 16 kHz, so it would drop everything above 8 kHz.
WIDE_AUDIO = "music-stft-2"
SPEECH_MAX_RATE = 16000


def audio_default(rate: int | None) -> str:
    """The shipped audio model for an input sampled at `rate` Hz (None: unknown): the speech
    model up to 16 kHz, the general-audio model above it where that one is installed."""
    if (rate is not None and rate > SPEECH_MAX_RATE
            and (weights_dir() / WIDE_AUDIO / "config.json").is_file()):
        return WIDE_AUDIO
    return DEFAULTS["audio"]


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


@dataclass
class LoadedModel:
    codec: Codec
    path: Path
    model_id: bytes  # 16 bytes

    @property
    def name(self) -> str:
        return self.codec.name


def default_layers(model: LoadedModel) -> int:
    """The layers a file gets when none are asked for: the model's config "default_layers"
    (music-stft-2: 2, since its layers 3-4 buy almost nothing for 25 kbps; photo-v5-g48-c11: 2,
    since at lam > 0 its layer 3 adds 0.01-0.15 dB and 0.7 s of decoding), else all."""
    return int(model.codec.config.get("default_layers", model.codec.num_layers))


def store_float16(folder: Path, pick: Callable[[str, torch.Tensor], bool]) -> list[str]:
    """Rewrite folder/model.safetensors (atomically) with the float32 tensors `pick` chooses
    stored as float16, to ship a model smaller (loading casts them back: Codec.load_state_dict);
    their names. The model's identity changes with its files."""
    path = folder / "model.safetensors"
    state = load_file(str(path))
    names = [k for k, v in state.items() if v.dtype == torch.float32 and pick(k, v)]
    for k in names:
        state[k] = state[k].to(torch.float16)
    tmp = path.with_suffix(".tmp")
    save_file(state, str(tmp))
    tmp.replace(path)
    return names


def model_bytes(folder: Path) -> int:
    """The size of a model's own files (a training folder also holds checkpoints)."""
    return sum((folder / f).stat().st_size for f in FILES)


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
    mid = model_id(folder)
    try:
        _verify_prior(codec.exact, config["prior_fingerprint"], mid, torch.device(device))
    except (RuntimeError, KeyError) as e:
        raise ModelError(f"model {folder}: {e}") from None
    return LoadedModel(codec, folder, mid)


def _verified_marker(mid: bytes, device: torch.device) -> Path | None:
    """Where a passed prior check of this model on this kind of machine is remembered:
    $VQCODEC_CACHE (empty: nowhere), else $XDG_CACHE_HOME/vqcodec or ~/.cache/vqcodec."""
    root = os.environ.get("VQCODEC_CACHE")
    if root is None:
        root = str(Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "vqcodec")
    if not root:
        return None
    cpu = getattr(torch.backends.cpu, "get_cpu_capability", lambda: "?")()
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else ""
    what = [mid.hex(), torch.__version__, cpu, platform.machine(), device.type, gpu]
    return Path(root) / "verified" / hashlib.sha256("|".join(what).encode()).hexdigest()[:32]


def _verify_prior(exact: ExactPrior, fingerprint: str, mid: bytes, device: torch.device) -> None:
    """exact.verify(fingerprint), once per model, torch version and kind of machine: the check
    runs every step of the prior (0.5 s of the 3 s a photo-v5 decode may take), and its answer
    cannot change while none of them does. The model's identity hashes its config, so a model
    whose stored fingerprint changed is checked again."""
    marker = _verified_marker(mid, device)
    known = marker.read_text() if marker is not None and marker.is_file() else None
    if known in ("f32", "f64"):
        exact.force_f64 = known == "f64"
        return
    exact.verify(fingerprint)
    if marker is not None:
        try:  # a cache that cannot be written only costs the check next time
            marker.parent.mkdir(parents=True, exist_ok=True)
            tmp = marker.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text("f64" if exact.force_f64 else "f32")
            tmp.replace(marker)
        except OSError:
            pass


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
