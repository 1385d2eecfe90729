"""Measurement: does a look-ahead (tree) search of the product HR-VQ codes buy rate-distortion
over the coder's greedy one (vqcodec.rdo.search_rd_groups)?

The coder picks layer i's word by  distortion of the residual after layer i + lam * bits  and
only then looks at layer i + 1, as residual VQ does. Here layer i's word is scored by the best
continuation below it instead: the least  distortion after the last coded layer + lam * alpha *
light-table bits of the layers below,  over every path of the tree (m^(n-i) leaves per word, or
the next `depth` layers only), plus lam * its own bits under the coding prior, as the coder.
The decoder and the file format are untouched (any indices decode), so the bytes are real.

    python training/photo-v5/lookahead.py MODEL kodim05.png,kodim13.png --modes g,0.5:1 \
        --lams 0,0.003,0.01,0.03,0.1 --layers 2,3 --json OUT.json

A mode is g (the coder's greedy search) or ALPHA:DEPTH. Every (lam, layer count) is its own
encode (as `--layers` does), so the search knows how deep the file goes.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from vqcodec import api, image_codec, media
from vqcodec.bench_results import bd_rate, frontier
from vqcodec.metrics import psnr
from vqcodec.models import load_model
from vqcodec.prior import phase_map

KODAK = Path(__file__).resolve().parents[3] / "shared" / "data" / "kodak"


@torch.no_grad()
def leaf_tables(q, i: int, n: int):
    """Every continuation, down to layer n - 1, of every word of layer i's codebooks: the summed
    words (G, m^i, m^(n-i), d), their squared norms, and the light bits of layers i+1 .. n-1
    along them (G, m^i, m^(n-i)); leaves of word k are k * m^(n-i-1) onwards."""
    g, m, d = q.g, q.m, q.d
    vec = q.codebooks[n - 1].detach()  # (G, m^(n-1), m, d): a leaf is a word
    below = torch.zeros(vec.shape[:3])
    for j in range(n - 2, i - 1, -1):
        lb = -F.log_softmax(q.rate_logits[j + 1].detach(), -1) / math.log(2)  # (G, m^(j+1), m)
        with_own = (lb.unsqueeze(-1) + below.reshape(g, m ** (j + 1), m, -1)).reshape(
            g, m ** (j + 1), -1)
        child = vec.reshape(g, m ** j, m, -1, d)  # path p * m + k of layer j + 1 under (p, k)
        vec = (q.codebooks[j].detach().unsqueeze(3) + child).reshape(g, m ** j, -1, d)
        below = with_own.reshape(g, m ** j, -1)
    return vec, vec.pow(2).sum(-1), below


@torch.no_grad()
def future_cost(q, tables, r: torch.Tensor, path: torch.Tensor, lam: float, alpha: float):
    """(N, G, m): for each word of the layer, its best continuation's weighted distortion +
    lam * alpha * light bits (up to |r|^2, the same for every word of a vector)."""
    vec, norm, below = tables
    s = q.search_scale()
    n_vec, groups, _ = r.shape
    out = torch.empty(n_vec, groups, q.m)
    for g in range(groups):
        if vec.shape[1] == 1:  # layer 1: one codebook, so one leaf table for every vector
            c = norm[g, 0] - 2 * (r[:, g] @ vec[g, 0].t())
            c = c / s[g] + lam * alpha * below[g, 0]
        else:
            p = path[:, g]
            c = norm[g][p] - 2 * torch.einsum("nd,nld->nl", r[:, g], vec[g][p])
            c = c / s[g] + lam * alpha * below[g][p]
        out[:, g] = c.view(n_vec, q.m, -1).amin(-1)
    return out


@torch.no_grad()
def search_lookahead(codec, z: torch.Tensor, lam: float, n: int, alpha: float,
                     depth: int) -> torch.Tensor:
    """rdo.search_rd_groups with each word scored by its best continuation."""
    q, prior = codec.quantizer, codec.exact
    r, (b, h, w) = q._flatten(z)
    path = torch.zeros(r.shape[:2], dtype=torch.long)
    codes = torch.zeros(b, q.n, q.g, h, w, dtype=torch.long)
    for i in range(n):
        phases = prior.phases[i]
        pm = phase_map(h, w, phases).reshape(-1).repeat(b)
        dist, words = q.distortion(r, path, i)
        if i < n - 1:
            dist = future_cost(q, leaf_tables(q, i, min(n, i + 1 + depth)), r, path, lam, alpha)
        k = dist.argmin(-1)
        for g in range(q.g):
            for p in range(phases):
                rows = pm == p
                if lam > 0:
                    pr = prior.step_probs(codes, i, g * phases + p).double()
                    bits = -(pr / pr.sum(-1, keepdim=True)).log2().reshape(-1, q.m)
                    k[rows, g] = (dist[rows, g].double() + lam * bits).argmin(-1)
                codes[:, i, g] = k[:, g].view(b, h, w)
        r, path = q.descend(r, path, k, words)
    return codes[:, :n]


def run(model: str, images: list[str], modes: list[str], lams: list[float],
        layers: list[int]) -> list[dict]:
    lm = load_model(model, "cpu")
    greedy = image_codec._choose
    rows = []
    for name in images:
        img = media.load_image(KODAK / name)
        for mode in modes:
            if mode == "g":
                image_codec._choose = greedy
            else:
                alpha, depth = (float(v) for v in mode.split(":"))
                image_codec._choose = (lambda c, z, lam, n, probs=None, a=alpha, d=int(depth):
                                       search_lookahead(c, z, lam, n, a, d))
            for lam in lams:
                for n in layers:
                    t = time.perf_counter()
                    data = api.compress(img, lm, layers=n, rdo=lam)
                    t_enc = time.perf_counter() - t
                    rows.append({"image": name, "mode": mode, "lam": lam, "layers": n,
                                 "bpp": 8 * len(data) / (img.shape[0] * img.shape[1]),
                                 "psnr": psnr(img, api.decompress(data, lm)), "enc_s": t_enc})
                    print(json.dumps(rows[-1]), flush=True)
    image_codec._choose = greedy
    return rows


def summarize(rows: list[dict]) -> dict:
    """Per mode: the mean over images of each setting, and the BD-rate of its frontier against
    the greedy search's (PSNR)."""
    pts: dict[str, list] = {}
    for mode in dict.fromkeys(r["mode"] for r in rows):
        sets: dict[tuple, list] = {}
        for r in rows:
            if r["mode"] == mode:
                sets.setdefault((r["lam"], r["layers"]), []).append(r)
        pts[mode] = [(sum(x["bpp"] for x in v) / len(v), sum(x["psnr"] for x in v) / len(v),
                      sum(x["enc_s"] for x in v) / len(v), f"{k[1]}/lam{k[0]:g}")
                     for k, v in sets.items()]
    out = {"points": pts, "bd_rate_vs_greedy_psnr": {}}
    if "g" in pts:
        ga = frontier([(p[0], p[1]) for p in pts["g"]])
        for mode, p in pts.items():
            if mode != "g":
                fb = frontier([(x[0], x[1]) for x in p])
                out["bd_rate_vs_greedy_psnr"][mode] = bd_rate(
                    [x[0] for x in ga], [x[1] for x in ga], [x[0] for x in fb], [x[1] for x in fb])
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("images", help="comma-separated Kodak file names")
    ap.add_argument("--modes", default="g,0.5:9")
    ap.add_argument("--lams", default="0,0.003,0.01,0.03,0.1")
    ap.add_argument("--layers", default="2,3")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    rows = run(a.model, a.images.split(","), a.modes.split(","),
               [float(x) for x in a.lams.split(",")], [int(x) for x in a.layers.split(",")])
    res = {"model": a.model, **summarize(rows), "rows": rows}
    print(json.dumps(res["bd_rate_vs_greedy_psnr"]))
    if a.json:
        a.json.write_text(json.dumps(res, indent=1))
