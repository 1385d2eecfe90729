"""Chunk 8's candidates: a grown decoder trained alone (train_only="decoder") on photo-v4-c6.

    python training/photo-v4/speed_decoder.py --json training/photo-v4/speed_decoder.json

Per candidate: the decoder's MACs per pixel, seconds per stage-1 step (batch 8 of 128 px, bf16 +
channels_last, as the chunk trains) with the encoder and codebooks frozen, and seconds to decode
one 768x512 latent (what `vqcodec decompress` adds).
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from speed_step import build
from torch.utils.flop_counter import FlopCounterMode

from vqcodec.presets import PRESETS
from vqcodec.train import Stage1, _freeze_codes, draw_lambda

C4 = PRESETS["photo-v4-c4"]
CANDIDATES = {  # decoder_blocks (1/4 stage, 1/8 stage) and whether only the decoder trains
    "c4/c6 as trained (4+5, all)": ([4, 5], False),
    "4+5, decoder only": ([4, 5], True),
    "4+9, decoder only": ([4, 9], True),
    "4+13, decoder only": ([4, 13], True),
    "6+9, decoder only": ([6, 9], True),
}


def decoder_macs(codec, size: int = 128) -> float:
    z = torch.zeros(1, codec.config["latent_dim"], size // 8, size // 8)
    with FlopCounterMode(display=False) as fc:
        codec.decoder(z)
    return fc.get_total_flops() / 2 / size**2


def step_time(codec, hp: dict, decoder_only: bool, steps: int = 8) -> float:
    st = Stage1(codec).to(memory_format=torch.channels_last)
    codec.train()
    if decoder_only:
        _freeze_codes(codec)
    opt = torch.optim.Adam([p for p in st.parameters() if p.requires_grad], 1e-4)
    x = torch.rand(8, 3, 128, 128).contiguous(memory_format=torch.channels_last)
    keep = torch.full((8,), codec.num_layers)
    times = []
    for i in range(steps):
        t = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y, vq = st(x, keep, draw_lambda(hp, 8, x.device))
            loss = (y.float() - x).pow(2).mean() + vq
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i >= 2:
            times.append(time.perf_counter() - t)
    return sum(times) / len(times)


@torch.no_grad()
def decode_time(codec) -> float:
    codec.eval()
    z = torch.randn(1, codec.config["latent_dim"], 64, 96)
    codec.decoder(z)
    t = time.perf_counter()
    codec.decoder(z)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", dest="json_path")
    args = ap.parse_args()
    rows = []
    for name, (blocks, dec_only) in CANDIDATES.items():
        torch.manual_seed(0)
        codec, hp = build({**C4, "decoder_blocks": blocks})
        row = {"design": name, "threads": torch.get_num_threads(),
               "decoder_macs_per_pixel": round(decoder_macs(codec)),
               "s_per_step_bf16_cl": round(step_time(codec, hp, dec_only), 3),
               "decode_768x512_s": round(decode_time(codec), 3)}
        print(json.dumps(row), flush=True)
        rows.append(row)
    if args.json_path:
        with open(args.json_path, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
