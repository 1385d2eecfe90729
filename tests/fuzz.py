"""Mutation fuzzing of .vqc files (through the full decoder) and of image input files.

Not collected by pytest (tests/test_fuzz.py runs a few hundred cases in CI); this script runs
as many as asked and reports counts, unexpected exceptions and the slowest case:

    python tests/fuzz.py --cases 10000 --model PATH_TO_A_SMALL_MODEL   # default: trains a tiny one

Every case must either decode or raise the project's own error (CodecError / MediaError)."""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
import traceback
import warnings
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import synthetic_image  # noqa: E402
from vqcodec import api, container, media  # noqa: E402


def mutate(data: bytes, rng: np.random.Generator) -> bytes:
    """One random mutation: bit flips, truncation, appended or overwritten bytes, or a header field
    changed with the header CRC fixed up so that the deeper checks are reached."""
    b = bytearray(data)
    kind = rng.integers(0, 9)
    if kind >= 6:
        return _mutate_fields(data, rng, kind)
    if kind == 0:
        for _ in range(rng.integers(1, 8)):
            i = rng.integers(0, len(b))
            b[i] ^= 1 << int(rng.integers(0, 8))
    elif kind == 1:
        b = b[: rng.integers(0, len(b))]
    elif kind == 2:
        b += rng.integers(0, 256, rng.integers(1, 64), dtype=np.uint8).tobytes()
    elif kind == 3:
        i = rng.integers(0, len(b))
        n = int(rng.integers(1, 16))
        b[i:i + n] = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
    else:
        # Overwrite bytes inside the header, then recompute its CRC.
        try:
            f = container.unpack(data)
        except container.ContainerError:
            return bytes(b)
        hlen = len(data) - f.payload_bytes
        i = int(rng.integers(0, hlen - 4))
        b[i] = int(rng.integers(0, 256))
        if kind == 5:  # also scramble a code hash / stream CRC region near the end of the header
            j = int(rng.integers(max(0, hlen - 40), hlen - 4))
            b[j] ^= 0xFF
        b[hlen - 4:hlen] = zlib.crc32(bytes(b[: hlen - 4])).to_bytes(4, "little")
    return bytes(b)


def _mutate_fields(data: bytes, rng: np.random.Generator, kind: int) -> bytes:
    """Re-pack a valid file with a changed stream or field, so checksums are valid and the
    decoder itself (rANS on garbage, index hashes, geometry checks) must refuse it."""
    import dataclasses

    f = container.unpack(data)
    seg = f.segments[0]
    i = int(rng.integers(0, len(seg.streams)))
    if kind == 6:  # garbage inside a stream, CRC recomputed by pack()
        s = bytearray(seg.streams[i])
        if s:
            for _ in range(int(rng.integers(1, 4))):
                s[int(rng.integers(0, len(s)))] = int(rng.integers(0, 256))
        seg.streams[i] = bytes(s)
    elif kind == 7:  # streams swapped or shortened (a multiple of 4 or not)
        j = int(rng.integers(0, len(seg.streams)))
        seg.streams[i], seg.streams[j] = seg.streams[j], seg.streams[i][: int(rng.integers(0, 9))]
    else:  # geometry or latent grid changed, within the container's limits
        g = f.geometry
        if rng.integers(0, 2):
            f.geometry = dataclasses.replace(g, width=int(rng.integers(1, 200)),
                                             height=int(rng.integers(1, 200)))
        else:
            seg.latent_shape = (int(rng.integers(1, 50)), int(rng.integers(1, 50)))
    try:
        return container.pack(f)
    except container.ContainerError:
        return data[:-1]


def _case(stats: dict, fn, args: tuple, refusal: type[Exception], ok: str) -> None:
    """Run one case: count it as `ok`, refused (the project's own error) or unexpected."""
    t = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fn(*args)
        stats[ok] += 1
    except refusal:
        stats["refused"] += 1
    except Exception:
        stats["unexpected"] += 1
        traceback.print_exc()
    stats["slowest_s"] = max(stats["slowest_s"], time.perf_counter() - t)
    stats["cases"] += 1


def fuzz_vqc(model, seeds: list[bytes], cases: int, rng: np.random.Generator) -> dict:
    stats = {"cases": 0, "decoded": 0, "refused": 0, "unexpected": 0, "slowest_s": 0.0}
    for _ in range(cases):
        data = mutate(seeds[int(rng.integers(0, len(seeds)))], rng)
        _case(stats, api.decompress, (data, model), api.CodecError, "decoded")
    return stats


def image_seeds() -> list[tuple[str, bytes]]:
    out = []
    img = synthetic_image(24, 32, 1)
    for fmt, ext in (("PNG", ".png"), ("JPEG", ".jpg"), ("WEBP", ".webp"), ("BMP", ".bmp"),
                     ("TIFF", ".tif"), ("GIF", ".gif")):
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, format=fmt)
        out.append((ext, buf.getvalue()))
    return out


def fuzz_images(cases: int, rng: np.random.Generator, folder: Path) -> dict:
    seeds = image_seeds()
    stats = {"cases": 0, "loaded": 0, "refused": 0, "unexpected": 0, "slowest_s": 0.0}
    for k in range(cases):
        ext, data = seeds[int(rng.integers(0, len(seeds)))]
        b = bytearray(data)
        for _ in range(rng.integers(1, 6)):
            kind = rng.integers(0, 3)
            if kind == 0 and b:
                b[rng.integers(0, len(b))] = int(rng.integers(0, 256))
            elif kind == 1 and b:
                b = b[: rng.integers(0, len(b))]
            else:
                b += rng.integers(0, 256, 8, dtype=np.uint8).tobytes()
        p = folder / f"f{k % 8}{ext}"
        p.write_bytes(bytes(b))
        _case(stats, media.load_image, (p,), media.MediaError, "loaded")
    return stats


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cases", type=int, default=10000)
    ap.add_argument("--model", help="model folder (default: train a tiny one, ~10 s)")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    from vqcodec.models import load_model
    from vqcodec.train import train

    rng = np.random.default_rng(a.seed)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model_dir = a.model
        if model_dir is None:
            (tmp / "imgs").mkdir()
            for i in range(8):
                Image.fromarray(synthetic_image(64, 80, i)).save(tmp / "imgs" / f"{i}.png")
            model_dir = train(tmp / "imgs", tmp / "model", preset="tiny", device="cpu",
                              echo=lambda s: None)
        lm = load_model(model_dir)
        seeds = [api.compress(synthetic_image(h, w, s), lm, layers=k)
                 for s, (h, w) in enumerate([(24, 32), (17, 9), (40, 40)])
                 for k in range(1, lm.codec.num_layers + 1)]
        t = time.time()
        v = fuzz_vqc(lm, seeds, a.cases, rng)
        print(f".vqc: {v} in {time.time() - t:.0f} s", flush=True)
        t = time.time()
        i = fuzz_images(a.cases, rng, tmp)
        print(f"images: {i} in {time.time() - t:.0f} s", flush=True)
    sys.exit(1 if v["unexpected"] or i["unexpected"] else 0)


if __name__ == "__main__":
    main()
