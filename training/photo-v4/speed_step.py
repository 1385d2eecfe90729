"""MACs per pixel and seconds per training step of photo-v4 candidates (issue 19, item 1).

    python training/photo-v4/speed_step.py --json training/photo-v4/speed_step.json

One stage-1 step = encoder + product HR-VQ (lam drawn per sample) + decoder, forward and
backward, Adam, batch 8 of 128 px crops (random data: the cost does not depend on it), in
float32 and under bf16 autocast, channels_last and not. MACs are counted by torch's
FlopCounterMode over the encoder and decoder (the quantizer's distances are not convolutions;
they are timed, not counted).
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from vqcodec.models import Codec
from vqcodec.presets import PRESETS
from vqcodec.train import Stage1, draw_lambda
from vqcodec.train_config import SHAPE_KEYS

BASE = dict(PRESETS["photo-v4"])
CANDIDATES = {
    "v4 (96/192, 2+3 blocks)": {},
    "narrow (64/128, 2+2 blocks)": dict(channels=[64, 128], stage_blocks=[2, 2]),
    "deep decoder side (96/192, 3+4)": dict(stage_blocks=[3, 4]),
    "photo-v3 (5x5 convs at 1/2, 1/4)": "photo-v2",
}


def build(over) -> tuple[Codec, dict]:
    if isinstance(over, str):
        hp = dict(PRESETS[over])
    else:
        hp = {**BASE, **over}
    cfg = {k: hp[k] for k in ("channels", "latent_dim", "res_blocks", "codebook_size",
                              "num_layers", "prior")}
    cfg.update({k: hp[k] for k in SHAPE_KEYS if k in hp})
    cfg.update(modality="image", in_channels=3, beta=0.25)
    return Codec(cfg), hp


def macs_per_pixel(codec: Codec, size: int = 128) -> float:
    x = torch.rand(1, 3, size, size)
    with FlopCounterMode(display=False) as fc:
        codec.decoder(codec.encoder(x))
    return fc.get_total_flops() / 2 / size**2


def step_time(codec: Codec, hp: dict, bf16: bool, channels_last: bool, steps: int = 6) -> float:
    st = Stage1(codec)
    if channels_last:
        st = st.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(st.parameters(), 1e-4)
    x = torch.rand(8, 3, 128, 128)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    keep = torch.full((8,), codec.num_layers)
    times = []
    for i in range(steps):
        t = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            y, vq = st(x, keep, draw_lambda(hp, 8, x.device))
            loss = (y.float() - x).pow(2).mean() + vq
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i >= 2:  # the first steps allocate and pick kernels
            times.append(time.perf_counter() - t)
    return sum(times) / len(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", dest="json_path")
    args = ap.parse_args()
    rows = []
    for name, over in CANDIDATES.items():
        torch.manual_seed(0)
        codec, hp = build(over)
        row = {"design": name, "threads": torch.get_num_threads(),
               "macs_per_pixel": round(macs_per_pixel(codec)),
               "params_M": round(sum(p.numel() for p in codec.parameters()
                                     if p.requires_grad) / 1e6, 2)}
        for bf16 in (False, True):
            for cl in (False, True):
                key = f"s_per_step_{'bf16' if bf16 else 'fp32'}{'_cl' if cl else ''}"
                row[key] = round(step_time(codec, hp, bf16, cl), 3)
        print(json.dumps(row), flush=True)
        rows.append(row)
    if args.json_path:
        with open(args.json_path, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
