"""CIFAR-10 as PNG folders for `vqcodec train`, and the .vqc round trip of the test images.

    python training/cifar/cifar_vqc.py export --data ../shared/data --out runs/cifar-png
    python training/cifar/cifar_vqc.py eval --model weights/cifar-hrvq --data ../shared/data -n 500

`eval` writes each test image as a .vqc file with the model, decodes the file, and reports MSE
on [0, 1] pixels against the original, with the real file sizes.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image


def export(data: Path, out: Path) -> None:
    d = np.load(data / "cifar10" / "cifar10_subset.npz")
    for split in ("train", "test"):
        folder = out / split
        folder.mkdir(parents=True, exist_ok=True)
        for i, img in enumerate(d[f"x_{split}"]):
            Image.fromarray(img).save(folder / f"{i:05d}.png")
        print(f"{len(d[f'x_{split}'])} images in {folder}")


def evaluate(model: str, data: Path, n: int, out: Path | None) -> dict:
    from vqcodec import api
    from vqcodec.models import load_model

    lm = load_model(model)
    x = np.load(data / "cifar10" / "cifar10_subset.npz")["x_test"][:n]
    se, nbytes, t_enc, t_dec = 0.0, 0, 0.0, 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for i, img in enumerate(x):
            path = Path(tmp) / f"{i}.vqc"
            t0 = time.perf_counter()
            path.write_bytes(api.compress(img, lm))
            t1 = time.perf_counter()
            y = api.decompress(path.read_bytes(), lm)
            t_dec += time.perf_counter() - t1
            t_enc += t1 - t0
            nbytes += path.stat().st_size
            se += float((((y.astype(np.float64) - img) / 255) ** 2).sum())
    res = {"model": lm.name, "images": int(len(x)), "mse": se / x.size,
           "psnr": 10 * np.log10(1 / (se / x.size)), "bpp": nbytes * 8 / (len(x) * 32 * 32),
           "mean_bytes": nbytes / len(x), "encode_s_per_image": t_enc / len(x),
           "decode_s_per_image": t_dec / len(x)}
    print(json.dumps(res, indent=1))
    if out:
        out.write_text(json.dumps(res, indent=1) + "\n")
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["export", "eval"])
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--out", type=Path)
    ap.add_argument("--model", default="cifar-hrvq")
    ap.add_argument("-n", type=int, default=500)
    a = ap.parse_args()
    if a.what == "export":
        export(a.data, a.out or Path("runs/cifar-png"))
    else:
        evaluate(a.model, a.data, a.n, a.out)


if __name__ == "__main__":
    main()
