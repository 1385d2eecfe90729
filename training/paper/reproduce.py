"""Reproduce HR-VQVAE's claims (Adiban et al., BMVC 2022) with vqcodec's own code.

Trains the same conv autoencoder with three quantizers on equal latent grids and compares test
reconstruction MSE, codebook usage and search time:

    hrvq     HR-VQ, 3 layers of m = 8 (8 / 64 / 512 codewords, 512 leaves: 9 bits per position)
    vq       flat VQ-VAE, one codebook of 512 (9 bits per position)
    rvq      plain residual VQ, one shared codebook per layer of 8 / 64 / 512 words: the same
             584 codewords as HR-VQ, but 18 bits per position
    rvq-8x3  plain residual VQ at HR-VQ's rate: 3 shared codebooks of 8 (9 bits per position)

    python training/paper/reproduce.py main  --data ../shared/data   # Table 1 + 2 (both sets)
    python training/paper/reproduce.py sweep --data ../shared/data   # Fig. 6 (CIFAR-10)
    python training/paper/reproduce.py report                        # tables + plot from results

Each run writes runs/paper/<name>.json, so an interrupted recipe resumes where it stopped.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from vqcodec.autoencoder import Decoder2d, Encoder2d
from vqcodec.quantizer import HRVQ, ResidualVQ

HERE = Path(__file__).resolve().parent
RUNS = Path("runs/paper")
# The paper's Table 1 (test MSE on [0, 1] pixels).
PAPER_MSE = {"cifar10": {"vq": 0.00092, "vqvae2": 0.00068, "hrvq": 0.00041},
             "mnist": {"vq": 0.00041, "vqvae2": 0.00025, "hrvq": 0.00011}}
ARCH = dict(channels=[32], strides=[1], latent_dim=16, res_blocks=1)  # a latent vector per pixel


def make_quantizer(kind: str, m: int, dim: int):
    if kind == "hrvq":
        return HRVQ(dim, m, 3)
    if kind == "vq":
        return ResidualVQ(dim, [m**3])  # one layer of m^3 words: a flat codebook
    if kind == "rvq":
        return ResidualVQ(dim, [m, m**2, m**3])
    if kind == "rvq-8x3":
        return ResidualVQ(dim, [m, m, m])
    raise ValueError(kind)


def load(data: Path, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    d = np.load(data / name / f"{name}_subset.npz")
    def t(a):
        a = torch.from_numpy(a)
        return (a.unsqueeze(1) if a.ndim == 3 else a.permute(0, 3, 1, 2)).contiguous()
    return t(d["x_train"]), t(d["x_test"])


class Net(torch.nn.Module):
    def __init__(self, in_ch: int, quantizer):
        super().__init__()
        a = ARCH
        self.encoder = Encoder2d(in_ch, a["channels"], a["latent_dim"], a["res_blocks"], a["strides"])
        self.decoder = Decoder2d(in_ch, a["channels"], a["latent_dim"], a["res_blocks"], a["strides"])
        self.quantizer = quantizer

    def forward(self, x):
        zq, vq_loss, codes = self.quantizer(self.encoder(x))
        return self.decoder(zq), vq_loss, codes


@torch.no_grad()
def test_mse(net: Net, x_test: torch.Tensor, layers: int | None = None) -> float:
    """MSE on [0, 1] of the reconstruction rounded to 8 bits, as a decoded file would be."""
    net.eval()
    se, n = 0.0, 0
    for i in range(0, len(x_test), 128):
        x = x_test[i:i + 128].float() / 255
        codes = net.quantizer.search(net.encoder(x), layers)
        y = (net.decoder(net.quantizer.decode_codes(codes)).clamp(0, 1) * 255).round() / 255
        se += float((y - x).pow(2).sum())
        n += x.numel()
    net.train()
    return se / n


@torch.no_grad()
def usage(net: Net, x_test: torch.Tensor) -> list[dict]:
    """Per layer: codewords used at least once on the test set, and their perplexity."""
    net.eval()
    codes = torch.cat([net.quantizer.search(net.encoder(x_test[i:i + 128].float() / 255))
                       for i in range(0, len(x_test), 128)])
    net.train()
    out = []
    q = net.quantizer
    path = torch.zeros_like(codes[:, 0])
    for i in range(q.n):
        k = codes[:, i]
        leaf = (path * q.codebooks[i].shape[1] + k).flatten()
        total = q.codebooks[i].shape[0] * q.codebooks[i].shape[1]
        cnt = torch.bincount(leaf, minlength=total).float()
        p = cnt / cnt.sum()
        out.append({"layer": i + 1, "codewords": total, "used": int((cnt > 0).sum()),
                    "perplexity": round(float((-(p * p.clamp_min(1e-12).log()).sum()).exp()), 1)})
        path = q._route(path, k, i)
    return out


@torch.no_grad()
def search_bench(images: int = 10_000, grid: int = 32 * 32, dim: int = ARCH["latent_dim"],
                 reps: int = 2) -> dict:
    """Search time of each quantizer alone, in one process and interleaved, so that all of them
    see the same machine load: random codebooks of the trained shapes (search cost does not
    depend on the values), the latents of `images` CIFAR-10-sized images."""
    torch.manual_seed(0)
    qs = {k: make_quantizer(k, 8, dim) for k in ("hrvq", "vq", "rvq", "rvq-8x3")}
    z = torch.randn(100, dim, 32, grid // 32)
    best = {k: float("inf") for k in qs}
    for _ in range(reps):
        for k, q in qs.items():
            t0 = time.perf_counter()
            for _ in range(images // 100):
                q.search(z)
            best[k] = min(best[k], time.perf_counter() - t0)
    return {"images": images, "vectors": images * grid, "dim": dim, "threads": torch.get_num_threads(),
            "seconds": {k: round(v, 2) for k, v in best.items()},
            "distances_per_vector": {k: sum(cb.shape[1] for cb in q.codebooks) for k, q in qs.items()}}


def run(data: Path, dataset: str, kind: str, m: int, steps: int, batch: int, seed: int = 0,
        revive: bool = True, tag: str = "") -> dict:
    name = f"{dataset}-{kind}-m{m}-s{steps}{'-norevive' if not revive else ''}{tag}"
    out = RUNS / f"{name}.json"
    if out.is_file():
        return json.loads(out.read_text())
    torch.manual_seed(seed)
    x_train, x_test = load(data, dataset)
    net = Net(x_train.shape[1], make_quantizer(kind, m, ARCH["latent_dim"]))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    log = []
    t0 = time.time()
    for step in range(steps):
        lr = 1e-3 * min(1, (step + 1) / 100) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * step / steps)))
        for g in opt.param_groups:
            g["lr"] = lr
        x = x_train[torch.randint(0, len(x_train), (batch,))].float() / 255
        if dataset == "cifar10" and torch.rand(()) < 0.5:
            x = x.flip(3)
        y, vq_loss, _ = net(x)
        mse = F.mse_loss(y, x)
        loss = 10 * mse + vq_loss  # x10: see presets.py's tiny preset (collapse at weight 1 on small data)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if revive and step % 25 == 0:
            net.quantizer.revive_dead()
        if step % 500 == 0 or step == steps - 1:
            rec = {"step": step, "train_mse": round(mse.item(), 6), "sec": round(time.time() - t0, 1)}
            log.append(rec)
            print(name, rec, flush=True)
    res = {"name": name, "tag": tag, "dataset": dataset, "quantizer": kind, "m": m, "steps": steps,
           "batch": batch, "revive": revive, "arch": ARCH, "seed": seed,
           "latent_grid": list(net.encoder(x_test[:1].float() / 255).shape[2:]),
           "bits_per_position": round(net.quantizer.bits_per_index() * net.quantizer.n, 2),
           "total_codewords": sum(cb.shape[0] * cb.shape[1] for cb in net.quantizer.codebooks),
           "distances_per_position": sum(cb.shape[1] for cb in net.quantizer.codebooks),
           "test_mse": test_mse(net, x_test),
           "test_mse_per_layers": [test_mse(net, x_test, k) for k in range(1, net.quantizer.n + 1)],
           "usage": usage(net, x_test),
           "train_seconds": round(time.time() - t0, 1), "log": log, "torch_threads": torch.get_num_threads()}
    RUNS.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1))
    print(name, {k: res[k] for k in ("test_mse", "train_seconds")}, flush=True)
    return res


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["main", "sweep", "search", "one", "report"])
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--dataset", default="cifar10")
    ap.add_argument("--kind", default="hrvq")
    ap.add_argument("--m", type=int, default=8)
    ap.add_argument("--no-revive", action="store_true")
    a = ap.parse_args(argv)
    if a.what == "one":
        run(a.data, a.dataset, a.kind, a.m, a.steps, a.batch, revive=not a.no_revive)
    elif a.what == "main":
        for ds in ("cifar10", "mnist"):
            for kind in ("hrvq", "vq", "rvq", "rvq-8x3"):
                run(a.data, ds, kind, 8, a.steps, a.batch)
        # The collapse claim: the same runs without dead-codeword restarts (CIFAR-10).
        for kind in ("hrvq", "vq"):
            run(a.data, "cifar10", kind, 8, a.steps, a.batch, revive=False)
    elif a.what == "search":
        RUNS.mkdir(parents=True, exist_ok=True)
        res = search_bench()
        (RUNS / "search_bench.json").write_text(json.dumps(res, indent=1))
        print(res)
    elif a.what == "sweep":
        for m in (4, 8, 16):
            for kind in ("hrvq", "vq", "rvq"):
                run(a.data, "cifar10", kind, m, a.steps, a.batch, tag="-sweep")
    else:
        from report import report  # training/paper/report.py
        report(RUNS, HERE)


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    main()
