"""What caps speech-stft's quality: PESQ-WB of its autoencoder without quantization against the
nearest-word codes of 1..n layers, on speech test files (the `bench` extra's pesq).

    python training/speech-stft/ceiling.py speech-stft ../shared/data/speech/test/*.flac --json ...
    python training/speech-stft/ceiling.py ../ckpt/RUN/checkpoint.pt ...   # a run mid-way

No entropy coding: this is the transform's and the quantizer's ceiling, not a rate point.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from vqcodec.audio import load_audio, resample
from vqcodec.audio_bench import speech_metrics
from vqcodec.models import Codec, load_model


def autoencoder(model: str) -> Codec:
    """A model's codec (name or folder), or a training checkpoint's (a .pt file: a run that
    stopped at --stop-at has no model folder yet; its learning curve is measured from these)."""
    if model.endswith(".pt"):
        ckpt = torch.load(model, map_location="cpu", weights_only=False)
        codec = Codec(ckpt["config"])
        codec.load_state_dict(ckpt["model"])
        return codec.eval()
    return load_model(model, "cpu", "audio").codec.eval()


def joint_search(q, z: torch.Tensor, k: int) -> torch.Tensor:
    """HR-VQ codes whose first two layers are the best pair (all m^2 leaves of the two-layer
    tree, nearest by distance), the layers below greedy as `search`: any indices decode, so
    this is an encoder-only choice. Greedy picks layer 1's nearest word and then the best word
    under it, which need not be the best sum."""
    r, shape = q._flatten(z)
    leaves = (q.codebooks[0][0][:, None] + q.codebooks[1]).reshape(-1, q.dim)  # (m*m, D)
    best = (leaves.pow(2).sum(1) - 2 * r @ leaves.t()).argmin(-1)
    codes, path = [best // q.m, best % q.m], best
    r = r - leaves[best]
    for i in range(2, k):
        j = q._nearest(r, path, i)
        r, path = r - q.codebooks[i][path, j], q._route(path, j, i)
        codes.append(j)
    return torch.stack(codes, 1).reshape(shape[0], *shape[1:], k).movedim(-1, 1)


@torch.no_grad()
def ceiling(model: str, files: list[Path], joint: bool = False) -> dict:
    codec = autoencoder(model)
    rate, q, rows = codec.sample_rate, codec.quantizer, {}
    for f in files:
        x, r = load_audio(f)
        x = resample(x.mean(1), r, rate).astype(np.float32)
        n = len(x) // codec.stride * codec.stride
        x = x[:n]
        z = codec.encoder(torch.from_numpy(x)[None, None])
        outs = {"unquantized": codec.decoder(z)}
        for k in range(1, q.n + 1):
            outs[f"layers_{k}"] = codec.decoder(q.decode_codes(q.search(z, k)))
            if joint and k >= 2:
                outs[f"joint_{k}"] = codec.decoder(q.decode_codes(joint_search(q, z, k)))
        rows[f.name] = {k: round(speech_metrics(x, y[0, 0].clamp(-1, 1).numpy(), rate)[0], 3)
                        for k, y in outs.items()}
        print(f.name, rows[f.name], flush=True)
    keys = next(iter(rows.values())).keys()
    mean = {k: round(float(np.mean([r[k] for r in rows.values()])), 3) for k in keys}
    return {"model": model, "metric": "pesq-wb", "files": len(rows), "mean": mean,
            "per_file": rows}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--joint", action="store_true",
                    help="also the codes of joint_search (the best two-layer pair)")
    a = ap.parse_args()
    torch.set_num_threads(1)
    res = ceiling(a.model, a.files, a.joint)
    print("mean", res["mean"])
    if a.json:
        a.json.write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
