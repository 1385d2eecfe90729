"""What the adversarial losses cost per stage-1 step of music-stft (issue 20, item 3).

    python training/music-stft/speed_gan.py --json training/music-stft/speed_gan.json

music-stft's step (batch 16 of 1-s crops at 24 kHz, bf16 autocast, one thread) alone, and with
the multi-scale STFT discriminator (discriminator.py) of width 32 and 16 on what training shows
it (4 clips of 0.5 s): the generator's hinge + feature-matching terms in its backward, then the
discriminator's own step. MACs per second of audio of one discriminator pass by torch's
FlopCounterMode.
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from speed_step import build
from torch.utils.flop_counter import FlopCounterMode

from vqcodec.discriminator import (
    MultiScaleSTFTDiscriminator,
    discriminator_loss,
    generator_terms,
)
from vqcodec.train import Stage1
from vqcodec.train_audio import recon_loss


def step_time(width: int | None, steps: int = 5) -> float:
    codec, hp = build({})
    st = Stage1(codec)
    opt = torch.optim.Adam(st.parameters(), 1e-4)
    disc = None if width is None else MultiScaleSTFTDiscriminator(hp["sample_rate"], width)
    opt_d = None if disc is None else torch.optim.Adam(disc.parameters(), 1e-4)
    x = torch.rand(hp["batch_size"], 1, hp["sample_rate"]) - 0.5
    full = torch.full((len(x),), codec.num_layers)
    times = []
    for _ in range(steps + 1):
        t = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y, vq = st(x, full)
        loss = recon_loss(y.float(), x, hp)[0] + vq
        if disc is not None:  # what training shows it: 4 clips, 0.5 s each (train._disc_window)
            yd, xd = y.float()[:4, ..., :hp["sample_rate"] // 2], x[:4, ..., :hp["sample_rate"] // 2]
            with torch.autocast("cpu", dtype=torch.bfloat16):
                adv, fm = generator_terms(disc, yd, xd)
            loss = loss + adv + 2 * fm
        opt.zero_grad()
        loss.backward()
        opt.step()
        if disc is not None:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                d = discriminator_loss(disc, yd.detach(), xd)
            opt_d.zero_grad()
            d.backward()
            opt_d.step()
        times.append(time.perf_counter() - t)
    return sorted(times[1:])[len(times[1:]) // 2]


def disc_macs(width: int, rate: int = 24000) -> float:
    disc = MultiScaleSTFTDiscriminator(rate, width)
    with FlopCounterMode(display=False) as fc:
        disc(torch.rand(1, 1, rate))
    return fc.get_total_flops() / 2


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json")
    a = ap.parse_args()
    torch.set_num_threads(1)
    rows = []
    for width in (None, 32, 16):
        row = {"design": "music-stft" + ("" if width is None else f" + MS-STFT-D w{width}"),
               "disc_gmac_per_s_audio": None if width is None else round(disc_macs(width) / 1e9, 3),
               "bf16": round(step_time(width), 3)}
        print(row, flush=True)
        rows.append(row)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
