"""Does letting the caller's bf16 autocast reach the low-resolution transforms in training pay?

    OMP_NUM_THREADS=1 taskset -c 0 python training/photo-v5/speed_bf16.py

One stage-1 step of photo-v4-c4 and photo-v5 (speed_step.py's: batch 8 of 128 px,
channels_last), float32, under the preset's bf16 autocast with the old `_run_lr` (which turned
autocast off whenever gradients were on), and with the caller's autocast reaching the network
(what `_run_lr` does now). Writes speed_bf16.json beside this file.
"""
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "photo-v4"))
import speed_step as ss  # noqa: E402

from vqcodec import autoencoder as ae  # noqa: E402
from vqcodec.presets import PRESETS  # noqa: E402

patched = ae._run_lr


def orig(net, x):  # _run_lr before: no bf16 while gradients are on
    x = x.contiguous(memory_format=torch.channels_last)
    use = not torch.is_grad_enabled() and ae.fast_bf16(x.device)
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=use):
        return net(x).float()


rows = []
for preset in ("photo-v4-c4", "photo-v5"):
    for name, fn, bf16 in [("fp32", orig, False), ("bf16 preset, old _run_lr (fp32 in training)", orig, True),
                           ("bf16, _run_lr now", patched, True)]:
        ae._run_lr = fn
        torch.manual_seed(0)
        codec, hp = ss.build(dict(PRESETS[preset]))
        t = ss.step_time(codec, hp, bf16, True, steps=8)
        rows.append({"preset": preset, "variant": name, "s_per_step": round(t, 3)})
        print(rows[-1], flush=True)
(Path(__file__).parent / "speed_bf16.json").write_text(json.dumps(rows, indent=1) + "\n")
