"""Study: rate-distortion optimised codeword choice (vqcodec/rdo.py) on a trained model.

For each lam, every Kodak image is encoded with search_rd (lam = 0: nearest word), and for
1..n layers we measure the bits the integer prior spends on the chosen indices (the ideal code
length; the rANS stream is within a few bytes of it) and the PSNR of the decoded image. The
RD curve of each lam is compared with lam = 0 by BD-rate. Encoder only: files decode with
the unchanged decoder.

    python training/photo/rdo_sweep.py --model photo --images 6 --lams 0,0.05,0.1,0.2
"""

import argparse
import json
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from vqcodec.bench import bd_rate
from vqcodec.models import load_model
from vqcodec.prior import phase_map
from vqcodec.rdo import search_rd

REPO = Path(__file__).resolve().parents[2]
KODAK = Path(os.environ.get("VQCODEC_DATA", REPO.parent / "shared" / "data")) / "kodak"


@torch.no_grad()
def bits_of(codec, codes: torch.Tensor) -> list[float]:
    """Ideal code length (bits) of each layer's indices under the integer prior."""
    prior = codec.exact
    h, w = codes.shape[2:]
    pm = phase_map(h, w, prior.phases)
    out = []
    for i in range(codes.shape[1]):
        tot = 0.0
        for p in range(prior.phases):
            pr = prior.phase_probs(codes, i, p)[0].double()
            sym = codes[0, i][pm == p]
            tot += float(-(pr[torch.arange(len(sym)), sym] / pr.sum(-1)).log2().sum())
        out.append(tot)
    return out


@torch.no_grad()
def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="photo")
    ap.add_argument("--images", type=int, default=24)
    ap.add_argument("--lams", default="0,0.05,0.1,0.2")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    codec = load_model(a.model).codec
    n = codec.num_layers
    lams = [float(v) for v in a.lams.split(",")]
    files = sorted(KODAK.glob("*.png"))[: a.images]
    acc = {lam: np.zeros((n, 2)) for lam in lams}  # per layer count: bits, squared error
    pixels = 0
    for f in files:
        img = np.asarray(Image.open(f).convert("RGB"))
        x = torch.from_numpy(img.copy()).permute(2, 0, 1)[None].float() / 255
        z = codec.encoder(x)
        pixels += img.shape[0] * img.shape[1]
        for lam in lams:
            codes = search_rd(codec, z, lam)
            bits = np.cumsum(bits_of(codec, codes))
            e = codec.quantizer.lookup(codes)
            for k in range(1, n + 1):
                y = (codec.decoder(e[:, :k].sum(1)).clamp(0, 1) * 255).round() / 255
                acc[lam][k - 1] += [bits[k - 1], float((y - x).pow(2).sum()) / 3]
        print(f.name, flush=True)
    res = {}
    for lam in lams:
        bpp = acc[lam][:, 0] / pixels
        psnr = 10 * np.log10(1 / (acc[lam][:, 1] / pixels))
        res[lam] = {"bpp": bpp.round(4).tolist(), "psnr": psnr.round(3).tolist()}
    base = res[lams[0]]
    for lam in lams:
        r = res[lam]
        r["bd_rate_vs_first"] = bd_rate(base["bpp"], base["psnr"], r["bpp"], r["psnr"])
        print(f"lam {lam}: bpp {r['bpp']} psnr {r['psnr']} BD-rate {r['bd_rate_vs_first']}")
    if a.json:
        a.json.write_text(json.dumps({"model": a.model, "images": len(files), "results": res},
                                     indent=1))


if __name__ == "__main__":
    main()
