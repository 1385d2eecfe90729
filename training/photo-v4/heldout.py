"""Link the photos `vqcodec train --seed 0` held out of ../shared/data/photos into a folder, so
`vqcodec bench images` can measure a model on photos it never trained on that are not Kodak.

    python training/photo-v4/heldout.py ../shared/data/photos /tmp/heldout
    vqcodec bench images /tmp/heldout --model photo-v4-c1 --out-json ...

The split is the trainer's: the sorted image list shuffled by random.Random(seed), the first
5 % (at least one) held out.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from vqcodec.train_image import find_images
from vqcodec.train_run import split_files


def held_out(data: Path, seed: int = 0) -> list[Path]:
    return split_files(find_images(data), seed)[0]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for f in held_out(args.data, args.seed):
        link = args.out / f"{f.parent.name}_{f.name}"
        if not link.exists():
            link.symlink_to(f.resolve())
    print(f"{len(list(args.out.iterdir()))} held-out photos in {args.out}")


if __name__ == "__main__":
    main()
