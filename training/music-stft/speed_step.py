"""MACs per second of audio and seconds per training step of music-stft candidates (issue 20).

    python training/music-stft/speed_step.py --json training/music-stft/speed_step.json

One stage-1 step = STFT encoder + HR-VQ + STFT decoder + the reconstruction losses, forward and
backward, Adam, batch 16 of 1-s crops at 24 kHz (random data: the cost does not depend on it),
in float32 and under bf16 autocast. MACs by torch's FlopCounterMode over encoder and decoder.
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from vqcodec.models import Codec
from vqcodec.presets import PRESETS
from vqcodec.train import Stage1
from vqcodec.train_audio import recon_loss

BASE = dict(PRESETS["music-stft"])
CANDIDATES = {
    "w256 b8 (music-stft)": {},
    "w192 b6 (speech-stft's trunk)": dict(channels=[192], res_blocks=6),
    "w384 b8": dict(channels=[384]),
    "w256 b8 hop 320": dict(strides=[320]),
}
KEYS = ("modality", "arch", "sample_rate", "channels", "strides", "latent_dim", "latent_rows",
        "res_blocks", "codebook_size", "num_layers", "prior")


def build(over: dict) -> tuple[Codec, dict]:
    hp = {**BASE, **over}
    return Codec({**{k: hp[k] for k in KEYS}, "in_channels": 1, "beta": 0.25}), hp


def macs_per_second(codec: Codec, rate: int) -> float:
    x = torch.rand(1, 1, rate)
    with FlopCounterMode(display=False) as fc:
        codec.decoder(codec.encoder(x))
    return fc.get_total_flops() / 2


def step_time(codec: Codec, hp: dict, bf16: bool, steps: int = 5) -> float:
    st = Stage1(codec)
    opt = torch.optim.Adam(st.parameters(), 1e-4)
    x = torch.rand(hp["batch_size"], 1, hp["sample_rate"]) - 0.5
    n = codec.num_layers
    times = []
    for _ in range(steps + 1):
        t = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            y, vq = st(x, torch.full((len(x),), n))
        loss = recon_loss(y.float(), x, hp)[0] + vq
        opt.zero_grad()
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t)
    return sorted(times[1:])[len(times[1:]) // 2]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json")
    ap.add_argument("--only", nargs="*")
    a = ap.parse_args()
    torch.set_num_threads(1)
    rows = []
    for name, over in CANDIDATES.items():
        if a.only and not any(o in name for o in a.only):
            continue
        codec, hp = build(over)
        row = {"design": name, "gmac_per_s_audio": round(macs_per_second(codec, hp["sample_rate"]) / 1e9, 3),
               "params_m": round(sum(p.numel() for p in codec.parameters()) / 1e6, 2),
               "fp32": round(step_time(codec, hp, False), 3),
               "bf16": round(step_time(codec, hp, True), 3)}
        print(row, flush=True)
        rows.append(row)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
