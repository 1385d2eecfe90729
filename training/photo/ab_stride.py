"""Study: a stride-16 transform with depth-to-space (shuffle 4) vs the stride-4 small architecture.

Both train stage 1 from scratch on 128 px crops of ../shared/data/photos for about the same CPU
time (500 vs 760 steps; the stride-16 transform is cheaper per pixel), one prior step, and report
validation PSNR per layer count in runs/ab{A,B}/config.json. Results are in README.md.

    python training/photo/ab_stride.py abA abB
"""

import os
import sys
import time
from pathlib import Path

from vqcodec.train import TrainConfig, train

REPO = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("VQCODEC_DATA", REPO.parent / "shared" / "data")) / "photos"
base = dict(codebook_size=8, num_layers=4, prior=dict(width=64, blocks=2, phases=2),
            crop=128, batch_size=8, prior_steps=1, prior_crop=128, lr=1e-3, crops_per_image=12)
PRESETS = {"abA": dict(base, channels=[64, 128], latent_dim=64, res_blocks=2, steps=500),
           "abB": dict(base, channels=[64, 128, 160, 160], strides=[2, 2, 2, 2], shuffle=4,
                       latent_dim=32, res_blocks=1, steps=760)}
for name in sys.argv[1:]:
    t = time.time()
    train(TrainConfig(DATA, Path(f"runs/{name}"), PRESETS[name], preset=name, device="cpu"))
    print(name, "wall", round(time.time() - t), "s", flush=True)
