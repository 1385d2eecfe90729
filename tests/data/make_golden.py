"""Write the golden files of tests/test_golden.py: a small .vqc per shipped model, and what it
decodes to, so that every model that ships keeps decoding the files it made.

    python tests/data/make_golden.py [NAME ...]     # default: every shipped model without one

Inputs: a 64x64 crop of examples/photo.png (32x32 for models of 32 px images) and the first
second of examples/speech.flac (for a model that codes stereo as mid and side, a stereo clip
made from it: the speech left, 0.6 of it 5 ms later right, so the side is not silent). Run it
once when a model is added to weights/; never rewrite the golden file of a model that has
shipped (that is what the test guards).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from vqcodec import api, audio_codec, media
from vqcodec.models import list_models, load_model

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parents[1] / "examples"
SMALL = {"cifar-hrvq": 32}  # models trained on small images get a small crop


def golden_paths(name: str, modality: str) -> tuple[Path, Path]:
    """The .vqc and the expected decoded output of a model's golden file."""
    return HERE / f"golden-{name}.vqc", HERE / f"golden-{name}{'.flac' if modality == 'audio' else '.png'}"


def make(name: str, modality: str) -> None:
    lm = load_model(name, "cpu", modality)
    vqc, expected = golden_paths(name, modality)
    if modality == "audio":
        x, rate = sf.read(EXAMPLES / "speech.flac", dtype="float32")
        x = x[:rate]
        if lm.codec.config.get("stereo") == "mid-side":
            x = np.stack([x, 0.6 * np.roll(x, rate // 200)], 1)
        data = audio_codec.compress_audio(x, rate, lm, lm.codec.num_layers)  # every layer
        y, r = audio_codec.decompress_audio(data, lm)
        sf.write(expected, y, r, subtype="PCM_16")
    else:
        side = SMALL.get(name, 64)
        img = media.load_image(EXAMPLES / "photo.png")[160:160 + side, 240:240 + side]
        data = api.compress(np.ascontiguousarray(img), lm, lm.codec.num_layers)  # every layer
        media.save_image(api.decompress(data, lm), expected)
    vqc.write_bytes(data)
    print(f"{name}: {vqc.name} {len(data)} bytes, {expected.name}")


def main(names: list[str]) -> None:
    models = {m["name"]: m["modality"] for m in list_models()}
    for name in names or [n for n, mod in models.items() if not golden_paths(n, mod)[0].exists()]:
        make(name, models[name])


if __name__ == "__main__":
    main(sys.argv[1:])
