"""Candidates for a post-filter on photo-v5-g48 (decoder only: the codes stay the parent's).

    python training/photo-v5/speed_post.py ../ckpt/photo-v5-g48-c2 --json training/photo-v5/speed_post.json

Per candidate (post_blocks x post_width, `autoencoder.PostFilter`): the decoder's MACs per
pixel, seconds per decoder-only stage-1 step (batch 8 of 128 px, bf16 + channels_last, as the
chunk trains) and seconds to decode one 768x512 latent. Also the cost per batch of the codes
the decoder is trained on with code_search "prior" (the coder's rate-distortion search under
the model's integer prior, one lam per batch), which needs the trained model given.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "photo-v4"))
from speed_decoder import decode_time, decoder_macs, step_time  # noqa: E402
from speed_step import build  # noqa: E402

from vqcodec.models import load_model  # noqa: E402
from vqcodec.presets import PRESETS  # noqa: E402
from vqcodec.train import _coder_latent  # noqa: E402

BASE = PRESETS["photo-v5-g48"]
CANDIDATES = {"none": (0, 64), "2 x 64": (2, 64), "2 x 96": (2, 96), "4 x 64": (4, 64)}


def coder_codes_time(folder: str, lam: float, reps: int = 2) -> float:
    codec = load_model(Path(folder)).codec
    x = torch.rand(8, 3, 128, 128)
    keep = torch.full((8,), codec.num_layers)
    hp = {"lam_range": [lam, lam], "lam_zero": 0.0}
    _coder_latent(codec, x, keep, hp)
    t = time.perf_counter()
    for _ in range(reps):
        _coder_latent(codec, x, keep, hp)
    return (time.perf_counter() - t) / reps


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model", nargs="?", help="a trained photo-v5-g48 folder (for code_search)")
    ap.add_argument("--json", dest="json_path")
    args = ap.parse_args()
    rows = []
    for name, (blocks, width) in CANDIDATES.items():
        torch.manual_seed(0)
        codec, hp = build({**BASE, "post_blocks": blocks, "post_width": width})
        row = {"post": name, "threads": torch.get_num_threads(),
               "decoder_macs_per_px": round(decoder_macs(codec)),
               "s_per_step_decoder_only": round(step_time(codec, hp, True), 3),
               "decode_768x512_s": round(decode_time(codec), 3)}
        rows.append(row)
        print(row, flush=True)
    if args.model:
        for lam in (0.003, 0.03):
            row = {"code_search prior, s per batch": round(coder_codes_time(args.model, lam), 2),
                   "lam": lam, "threads": torch.get_num_threads()}
            rows.append(row)
            print(row, flush=True)
    if args.json_path:
        Path(args.json_path).write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
