"""Study: is it the quantizer or the transform that caps the top of the RD curve?

For each Kodak image: PSNR of the decoder fed the unquantized encoder output D(E(x)), and fed
the sum of the first k HR-VQ layers, k = 1..n; and the share of the latent's energy each k
leaves unquantized. Means over the images.

    python training/photo/ceiling.py --model photo
"""

import argparse
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from vqcodec.models import load_model

REPO = Path(__file__).resolve().parents[2]
KODAK = Path(os.environ.get("VQCODEC_DATA", REPO.parent / "shared" / "data")) / "kodak"


def psnr(y: torch.Tensor, x: torch.Tensor) -> float:
    y = (y.clamp(0, 1) * 255).round() / 255
    return float(10 * torch.log10(1 / (y - x).pow(2).mean()))


@torch.no_grad()
def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="photo")
    a = ap.parse_args()
    c = load_model(a.model).codec
    rows = []
    for f in sorted(KODAK.glob("*.png")):
        img = np.asarray(Image.open(f).convert("RGB"))
        x = torch.from_numpy(img.copy()).permute(2, 0, 1)[None].float() / 255
        z = c.encoder(x)
        e = c.quantizer.lookup(c.quantizer.search(z))

        zz = float(z.pow(2).sum())
        row = [psnr(c.decoder(z), x)]
        row += [psnr(c.decoder(e[:, :k].sum(1)), x) for k in range(1, c.num_layers + 1)]
        row += [float((z - e[:, :k].sum(1)).pow(2).sum()) / zz for k in range(1, c.num_layers + 1)]
        rows.append(row)
    m = np.mean(rows, 0)
    n = c.num_layers
    print(f"{len(rows)} images, model {a.model}")
    print(f"unquantized D(E(x)): {m[0]:.2f} dB")
    for k in range(1, n + 1):
        print(f"{k} layers: {m[k]:.2f} dB, latent energy left {100 * m[n + k]:.2f} %")


if __name__ == "__main__":
    main()
