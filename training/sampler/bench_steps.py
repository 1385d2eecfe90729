"""Seconds per training step and per sample of a sampler preset, on this machine.

    OMP_NUM_THREADS=1 taskset -c 1 python training/sampler/bench_steps.py --preset cifar \
        --grid 32 32 --layers 3 --m 8 --classes 10 --steps 20

The step is train_sampler's (the same loss, autocast and optimizer) on random codes (the
speed does not depend on their values). Wall and process CPU seconds are both given: when
another job shares the core, the CPU seconds are what a free core would take.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from vqcodec.sampler import Sampler, macs_per_index
from vqcodec.train_sampler import ARCH, PRESETS


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="cifar")
    ap.add_argument("--grid", type=int, nargs=2, default=[32, 32])
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--m", type=int, default=8)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--samples", type=int, default=16, help="Samples to time (0: none).")
    ap.add_argument("--fp32", action="store_true", help="No bf16 autocast (to compare).")
    a = ap.parse_args()
    hp = dict(PRESETS[a.preset], **({"bf16": False} if a.fp32 else {}))
    torch.manual_seed(0)
    s = Sampler(dict(m=a.m, num_layers=a.layers, grid=a.grid,
                     classes=[str(i) for i in range(a.classes)], **{k: hp[k] for k in ARCH}))
    opt = torch.optim.Adam(s.parameters(), hp["lr"])
    bs = hp["batch_size"]
    codes = torch.randint(0, a.m, (bs, a.layers, *a.grid))
    cls = torch.randint(0, a.classes + 1, (bs,))
    walls, cpus = [], []
    for _ in range(a.steps + 2):  # the first two warm the kernels up
        t, c = time.perf_counter(), time.process_time()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=hp["bf16"]):
            loss, _ = s.loss(codes, cls)
        opt.zero_grad()
        loss.backward()
        opt.step()
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    res = {"preset": a.preset, "grid": a.grid, "layers": a.layers, "m": a.m, "batch_size": bs,
           "bf16": hp["bf16"], "params": sum(p.numel() for p in s.parameters()),
           "macs_per_index": macs_per_index(s),
           "macs_per_image_pass": sum(macs_per_index(s)) * a.grid[0] * a.grid[1],
           "s_per_step_wall": round(sum(walls[2:]) / a.steps, 3),
           "s_per_step_cpu": round(sum(cpus[2:]) / a.steps, 3)}
    if a.samples:
        s.eval()
        t, c = time.perf_counter(), time.process_time()
        s.sample_codes(a.samples, seed=0, classes=0)
        res[f"sample_{a.samples}_wall_s"] = round(time.perf_counter() - t, 2)
        res[f"sample_{a.samples}_cpu_s"] = round(time.process_time() - c, 2)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
