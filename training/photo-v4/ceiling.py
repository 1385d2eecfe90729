"""What caps the top of a photo model's curve: the PSNR of its autoencoder without quantization
(decoder(encoder(x))) against the nearest-word codes of 1, 2, 3 layers, on held-out photos.

    python training/photo-v4/heldout.py ../shared/data/photos /tmp/heldout
    python training/photo-v4/ceiling.py photo-v4-c6 /tmp/heldout/test_*.jpg

PSNR-RGB of 8-bit output, per image and the mean; one thread.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import torch

from vqcodec import media
from vqcodec.image_codec import _images_to_tensor
from vqcodec.models import load_model


def psnr(y: torch.Tensor, x: torch.Tensor, h: int, w: int) -> float:
    err = (y.clamp(0, 1)[..., :h, :w] * 255).round() - x[..., :h, :w] * 255
    return 10 * math.log10(255**2 / float(err.pow(2).mean()))


@torch.no_grad()
def ceiling(model: str, images: list[Path]) -> dict:
    codec = load_model(model, "cpu", "image").codec
    codec.eval()
    q, rows = codec.quantizer, {}
    for p in images:
        img = media.load_image(p)
        h, w = img.shape[:2]
        x = _images_to_tensor([img], codec.stride, "cpu")
        z = codec.encoder(x).float()
        r = {"unquantized": psnr(codec.decoder(z), x, h, w)}
        for k in range(1, q.n + 1):
            r[f"layers_{k}"] = psnr(codec.decoder(q.decode_codes(q.search(z, k))), x, h, w)
        rows[p.name] = {k: round(v, 3) for k, v in r.items()}
        print(p.name, rows[p.name], flush=True)
    keys = next(iter(rows.values())).keys()
    mean = {k: round(sum(r[k] for r in rows.values()) / len(rows), 3) for k in keys}
    return {"model": model, "images": len(rows), "mean": mean, "per_image": rows}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("images", nargs="+", type=Path)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    torch.set_num_threads(1)
    res = ceiling(a.model, a.images)
    print("mean", res["mean"])
    if a.json:
        a.json.write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
