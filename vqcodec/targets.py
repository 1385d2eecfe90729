"""Rate and quality targets: ask for bits per pixel, kbps, a PSNR or a file size, not a layer count.

::

    input --encode once, every knob at its richest--> .vqc bytes
       --candidates(): every setting the knobs allow, each with its exact bytes-->
       [Candidate(setting={"layers": 1}, data), ..., Candidate({"layers": n}, data)]
       --choose(target)--> the best one that satisfies the target (or the closest, + a warning)

The layer count costs one encode: HR-VQ is progressive, so the file of the first k layers is
the full file cut down by ``container.truncate`` (byte-identical to ``compress(layers=k)``).
A model whose quantizer has an entropy-constrained choice (a product HR-VQ) also has the
encoder's lam: one encode per lam in ``knob_settings()``, each cut into every layer count; a
ladder of more than ``BISECT_ABOVE`` lams is bisected (``bracket_candidates``), so a target
costs about log2 of its length encodes. A new
knob (the models of one family) adds its settings there; ``choose()`` only sees bytes and a
quality (PSNR, measured by decoding, for ``psnr`` and when the knobs are more than the layer
count), so the targets keep working whatever makes the candidates.

What wins: one target at a time (``Target.from_options`` refuses a mix). Rate targets (bpp,
kbps, size) give the best candidate under the limit (with layers alone, the most layers);
``psnr`` gives the smallest candidate that reaches it. An unreachable target
gives the lowest-rate (or best-quality) candidate and a TargetWarning, or a TargetError with
``strict``.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import api, container, image_codec, media, metrics
from .audio_codec import compress_audio, compress_audio_path
from .errors import reraise_as
from .files import atomic_write_bytes, check_output
from .models import LoadedModel, load_model

KINDS = ("layers", "bpp", "kbps", "psnr", "max_size")
_UNITS = {"": 1, "b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3,
          "kib": 1024, "mib": 1024**2, "gib": 1024**3, "k": 1000, "m": 1000**2}


class TargetError(ValueError):
    """A target that is malformed, for the wrong kind of input, or (strict) unreachable."""


class TargetWarning(UserWarning):
    """The target could not be met; the closest candidate was used instead."""


def parse_size(text: str) -> int:
    """Bytes from "20KB", "1.5 MiB", "300" (B, KB/MB/GB = powers of 1000, KiB/MiB/GiB of 1024)."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([a-z]*)\s*", str(text).lower())
    if not m or m.group(2) not in _UNITS:
        raise TargetError(f"bad size {text!r}: expected a number and B, KB, KiB, MB, MiB, ...")
    n = float(m.group(1)) * _UNITS[m.group(2)]
    if not 1 <= n < 2**63:
        raise TargetError(f"a size must be at least 1 byte (and finite), not {text!r}")
    return int(n)


@dataclass(frozen=True)
class Target:
    """One goal: kind in KINDS, value in its unit (layers, bits/pixel, kbit/s, dB, bytes)."""

    kind: str
    value: float

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise TargetError(f"unknown target {self.kind!r} (use one of {', '.join(KINDS)})")
        if not (math.isfinite(self.value) and self.value > 0):
            raise TargetError(f"--{self.flag} must be a positive number, not {self.value:g}")
        if self.kind == "layers" and self.value != int(self.value):
            raise TargetError(f"--layers must be a whole number, not {self.value:g}")

    @property
    def flag(self) -> str:
        return self.kind.replace("_", "-")

    @classmethod
    def from_options(cls, layers: int | str | None = None, bpp: float | str | None = None,
                     kbps: float | str | None = None, psnr: float | str | None = None,
                     max_size: str | int | None = None) -> Target | None:
        """The one target given (None when none is); a mix is refused with one clear line.
        Values may be the command line's strings."""
        given = {k: v for k, v in (("layers", layers), ("bpp", bpp), ("kbps", kbps),
                                   ("psnr", psnr), ("max_size", max_size)) if v is not None}
        if len(given) > 1:
            flags = ", ".join("--" + k.replace("_", "-") for k in given)
            raise TargetError(f"give one of --layers, --bpp, --kbps, --psnr, --max-size, not "
                              f"several ({flags})")
        if not given:
            return None
        (kind, value), = given.items()
        if kind == "max_size":
            value = parse_size(value) if isinstance(value, str) else value
        try:
            number = float(value)
        except ValueError:
            raise TargetError(f"--{kind.replace('_', '-')} must be a number, not {value!r}") from None
        return cls(kind, number)

    def check(self, modality: str) -> None:
        """Refuse a target that means nothing for this kind of input."""
        allowed = {"image": ("layers", "bpp", "psnr", "max_size"),
                   "audio": ("layers", "kbps", "max_size")}[modality]
        if self.kind not in allowed:
            hint = "--kbps or --max-size" if modality == "audio" else "--bpp, --psnr or --max-size"
            other = "an image" if modality == "image" else "audio"
            raise TargetError(f"--{self.flag} is not for {modality} input, and this input is "
                              f"{other} (use --layers, {hint})")

    def to_json(self) -> dict:
        return {"kind": self.kind, "value": self.value}


@dataclass
class Candidate:
    """One setting of the knobs and the exact file it gives."""

    setting: dict  # e.g. {"layers": 2}
    data: bytes
    quality: float | None = field(default=None, compare=False)  # PSNR (dB), once measured

    @property
    def nbytes(self) -> int:
        return len(self.data)

    def rate(self) -> float:
        """bits per pixel (images) or kbit/s (audio) of the file."""
        return rate_of(container.read_header(self.data), self.nbytes)


def rate_of(f: container.VQCFile, nbytes: int) -> float:
    """bpp of an image file, kbps of an audio file, of nbytes (what `vqcodec info` reports)."""
    g = f.geometry
    if isinstance(g, container.ImageGeometry):
        return 8 * nbytes / (g.width * g.height)
    return 8 * nbytes / max(g.num_samples / g.sample_rate, 1e-9) / 1000


def candidates(data: bytes) -> list[Candidate]:
    """Every layer count of a .vqc file, each cut from it (no re-encoding), fewest first."""
    with reraise_as(TargetError, container.ContainerError):
        f = container.unpack(data)
    return [Candidate({"layers": k}, data if k == f.num_layers
                      else container.pack(container.truncate(f, k)))
            for k in range(1, f.num_layers + 1)]


# Encode-time rate weights tried on a model whose quantizer has an entropy-constrained choice
# (a product HR-VQ, e.g. photo-v4's); its config's "target_lambdas" overrides them.
LAMBDAS = (0.0, 0.03, 0.1, 0.3, 1.0)


def knob_settings(model: LoadedModel) -> list[dict]:
    """The encoder settings worth a separate encode, each then cut into every layer count: the
    lam of an entropy-constrained quantizer when the model has one, else only the default."""
    if getattr(model.codec, "groups", 0):
        return [{"rdo": float(lam)} for lam in model.codec.config.get("target_lambdas", LAMBDAS)]
    return [{}]


def setting_candidates(img: np.ndarray, model: LoadedModel, setting: dict) -> list[Candidate]:
    """Every layer count of an image at one knob setting: one encode (all layers), then cuts."""
    data = api.compress(img, model, model.codec.num_layers, rdo=setting.get("rdo"))
    return [Candidate(dict(c.setting, **setting), c.data) for c in candidates(data)]


def image_candidates(img: np.ndarray, model: LoadedModel) -> list[Candidate]:
    """Every (knob setting, layer count) of an image: one encode per setting, then cuts."""
    return [c for s in knob_settings(model) for c in setting_candidates(img, model, s)]


def _best_fit(fits: list[Candidate], quality: Callable[[Candidate], float] | None) -> Candidate:
    """The best of the candidates under a rate limit (fits, by size). With one knob (layers) the
    largest is the best; with more, the largest of each other setting is decoded and compared."""
    others = {tuple(sorted((k, v) for k, v in c.setting.items() if k != "layers")) for c in fits}
    if quality is None or len(others) < 2:
        return fits[-1]
    tops = {}
    for c in fits:  # by size, so the last of each setting has the most layers
        tops[tuple(sorted((k, v) for k, v in c.setting.items() if k != "layers"))] = c
    for c in tops.values():
        c.quality = quality(c)
    return max(tops.values(), key=lambda c: (c.quality, -c.nbytes))


def _unit(kind: str) -> str:
    return {"bpp": "bpp", "kbps": "kbps", "max_size": "bytes", "psnr": "dB", "layers": "layers"}[kind]


def choose(cands: list[Candidate], target: Target,
           quality: Callable[[Candidate], float] | None = None,
           strict: bool = False) -> tuple[Candidate, str | None]:
    """The candidate that best meets target, and a warning when none meets it (see the module
    docstring). quality(c) (PSNR) is called, smallest first, for psnr targets, and for rate
    targets only when candidates differ in more than the layer count."""
    by_size = sorted(cands, key=lambda c: c.nbytes)
    note = None
    if target.kind == "layers":
        hits = [c for c in by_size if c.setting.get("layers") == int(target.value)]
        if not hits:
            raise TargetError(f"--layers {int(target.value)}: the input has "
                              f"{max(c.setting['layers'] for c in cands)} layers")
        return hits[0], None
    if target.kind == "psnr":
        if quality is None:
            raise TargetError("--psnr needs the original to compare with (compress, not truncate)")
        for c in by_size:
            c.quality = quality(c)
            if c.quality >= target.value:
                return c, None
        best = max(by_size, key=lambda c: c.quality)
        note = (f"--psnr {target.value:g} dB is out of reach: the best this model does is "
                f"{best.quality:.2f} dB ({_describe(best)})")
    else:
        measure = (lambda c: c.nbytes) if target.kind == "max_size" else (lambda c: c.rate())
        fits = [c for c in by_size if measure(c) <= target.value]
        if fits:
            return _best_fit(fits, quality), None
        best = by_size[0]
        got = measure(best)
        want = f"{target.value:g}" + (" bytes" if target.kind == "max_size" else "")
        note = (f"--{target.flag} {want} is below the lowest rate this model has: "
                f"{got:.4g} {_unit(target.kind)} ({_describe(best)})")
    if strict:
        raise TargetError(note)
    return best, note + "; wrote that"


def _describe(c: Candidate) -> str:
    return ", ".join(f"{k} {v}" for k, v in c.setting.items())


psnr = metrics.psnr  # PSNR (dB) of two uint8 images; inf when they are equal


# -- compressing to a target ---------------------------------------------------------------------
def compress_to_target(img: np.ndarray, model: LoadedModel, target: Target | None,
                       strict: bool = False) -> tuple[bytes, str | None]:
    """.vqc bytes of a uint8 image (H, W, C) that meet target, and a warning if none could."""
    if target is None or target.kind == "layers":
        return api.compress(img, model, None if target is None else int(target.value)), None
    best, note = _image_choice(img, model, target, strict)
    return best.data, note


def _image_choice(img: np.ndarray, model: LoadedModel, target: Target,
                  strict: bool) -> tuple[Candidate, str | None]:
    target.check("image")
    ref = image_codec.check_image(img)
    seen: dict[bytes, float] = {}

    def quality(c: Candidate) -> float:  # each file decoded once, however often it is asked
        if c.data not in seen:
            seen[c.data] = psnr(ref, api.decompress(c.data, model))
        return seen[c.data]

    if len(knob_settings(model)) > BISECT_ABOVE:
        return choose(bracket_candidates(img, model, target, quality), target, quality, strict)
    return choose(image_candidates(img, model), target, quality, strict)


# A lam ladder longer than this is bisected (photo-v5-g48-c14 has 12 lams: 5 encodes instead of
# 12, each 1-2 s for a Kodak photo on 2 cores); shorter ones (photo-v5-g48-c11: 10) are tried in
# full, as before, which finds the best candidate even where bytes are not monotone in lam.
BISECT_ABOVE = 10


def bracket_candidates(img: np.ndarray, model: LoadedModel, target: Target,
                       quality: Callable[[Candidate], float]) -> list[Candidate]:
    """The candidates (every layer count) of the two lams of the model's ladder around the
    target, found by bisection: the file of all layers shrinks, and decodes worse, as lam
    grows. Rate targets: the smallest lam whose whole file fits, and the lam below it (its
    shorter cuts may fit with more quality); psnr: the largest lam whose whole file reaches it,
    and the lam below it (its shorter cuts may reach it in fewer bytes)."""
    lams = sorted(float(s["rdo"]) for s in knob_settings(model))
    cache: dict[int, list[Candidate]] = {}

    def cuts(j: int) -> list[Candidate]:
        if j not in cache:
            cache[j] = setting_candidates(img, model, {"rdo": lams[j]})
        return cache[j]

    def meets(j: int) -> bool:  # lam j's whole file; rate: True from some j on, psnr: up to one
        full = cuts(j)[-1]
        if target.kind == "psnr":
            return quality(full) >= target.value
        return (full.nbytes if target.kind == "max_size" else full.rate()) <= target.value

    # Along the ladder, "fits" (rate) and "falls short" (psnr) are False, then True: find where.
    rate = target.kind != "psnr"
    lo, hi = -1, len(lams)  # False at -1 and True at len(lams), by convention
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if meets(mid) == rate:
            hi = mid
        else:
            lo = mid
    j = min(hi, len(lams) - 1) if rate else max(hi - 1, 0)  # none fits: the last; none reaches: 0
    return [c for k in (j - 1, j) if k >= 0 for c in cuts(k)]


def compress_audio_to_target(wave: np.ndarray, rate: int, model: LoadedModel,
                             target: Target | None, strict: bool = False) -> tuple[bytes, str | None]:
    """.vqc bytes of float audio (samples[, channels]) at `rate` that meet target (+ warning)."""
    if target is None or target.kind == "layers":
        return compress_audio(wave, rate, model, None if target is None else int(target.value)), None
    target.check("audio")
    full = compress_audio(wave, rate, model, model.codec.num_layers)  # every layer: cut below
    best, note = choose(candidates(full), target, None, strict)
    return best.data, note


def compress_file(src: Path, dst: Path, model: str | Path | LoadedModel | None = None,
                  target: Target | None = None, force: bool = False, device: str = "auto",
                  progress=None, strict: bool = False) -> dict:
    """api.compress_file with a target: info() of the file written, plus "target" and, when it
    was out of reach, "warning" (also given as a TargetWarning)."""
    src, dst = Path(src), Path(dst)
    if target is None or target.kind == "layers":
        layers = None if target is None else int(target.value)
        return api.compress_file(src, dst, model, layers, force, device, progress)
    check_output(src, dst, force)
    modality = media.modality_of(src) or "image"
    target.check(modality)
    lm = (api.audio_model(src, model, device) if modality == "audio" else
          model if isinstance(model, LoadedModel) else
          load_model(model, api.resolve_device(device), modality))
    if modality == "audio":
        data = compress_audio_path(src, lm, lm.codec.num_layers, progress)  # every layer: cut below
        best, note = choose(candidates(data), target, None, strict)
    else:
        best, note = _image_choice(media.load_image(src), lm, target, strict)
    atomic_write_bytes(dst, best.data)
    return _report(best, target, note)


def _report(best: Candidate, target: Target, note: str | None) -> dict:
    """info() of the chosen file, the target, its setting, the PSNR if measured, a warning."""
    res = dict(api.info(best.data), target=target.to_json(), setting=best.setting)
    if best.quality is not None:
        res["psnr"] = round(best.quality, 3)
    if note:
        warnings.warn(note, TargetWarning, stacklevel=3)
        res["warning"] = note
    return res


def truncate_bytes(data: bytes, target: Target, strict: bool = False) -> tuple[bytes, str | None]:
    """A .vqc file cut to the layers that meet target (no model, no re-encoding), + warning."""
    with reraise_as(TargetError, container.ContainerError):
        head = container.read_header(data)
    target.check(head.modality)
    if target.kind == "psnr":
        raise TargetError("--psnr needs the original image: use it with compress, not truncate")
    if target.kind == "layers" and target.value > head.num_layers:
        raise TargetError(f"--layers {int(target.value)}: the file stores only {head.num_layers} "
                          "layers")
    best, note = choose(candidates(data), target, None, strict)
    return best.data, note


def truncate_file(src: Path, dst: Path, target: Target, force: bool = False,
                  strict: bool = False) -> dict:
    """Write src cut down to target into dst (atomically); info() of the result + "target"."""
    src, dst = Path(src), Path(dst)
    media.check_regular_file(src, "a .vqc file")
    check_output(src, dst, force)
    data, note = truncate_bytes(src.read_bytes(), target, strict)
    atomic_write_bytes(dst, data)
    return _report(Candidate({"layers": container.read_header(data).num_layers}, data), target,
                   note)
