"""Speed of one 768 x 512 Kodak image (issue 3: <= 3 s per CLI call, start-up included;
<= 2 s in-process), with the default image model.

CLI: wall time of `vqcodec compress` and `vqcodec decompress` as fresh processes, 3 runs each.
In-process: api.compress / api.decompress with the model already loaded, 3 runs each.

    python training/photo-v2/speed.py [--image ../shared/data/kodak/kodim23.png] [--json F]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("VQCODEC_DATA", REPO.parent / "shared" / "data"))


def wall(args: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "vqcodec", *args], check=True, capture_output=True)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--image", type=Path, default=DATA / "kodak" / "kodim23.png")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    res: dict = {"image": a.image.name, "cpu_count": os.cpu_count()}
    with tempfile.TemporaryDirectory() as d:
        vqc, png = Path(d) / "t.vqc", Path(d) / "t.png"
        res["cli_compress_s"] = [round(wall(["compress", str(a.image), "-o", str(vqc), "--force"]), 3)
                                 for _ in range(a.runs)]
        res["cli_decompress_s"] = [round(wall(["decompress", str(vqc), "-o", str(png), "--force"]), 3)
                                   for _ in range(a.runs)]
        import numpy as np
        from PIL import Image

        from vqcodec import api
        from vqcodec.models import load_model

        model = load_model(None)
        img = np.asarray(Image.open(a.image).convert("RGB"))
        data = vqc.read_bytes()
        res["model"] = model.name
        res["bpp"] = round(8 * len(data) / (img.shape[0] * img.shape[1]), 4)
        res["api_compress_s"], res["api_decompress_s"] = [], []
        for _ in range(a.runs):
            t = time.perf_counter()
            api.compress(img, model)
            res["api_compress_s"].append(round(time.perf_counter() - t, 3))
            t = time.perf_counter()
            out = api.decompress(data, model)
            res["api_decompress_s"].append(round(time.perf_counter() - t, 3))
        res["psnr"] = round(float(10 * np.log10(255**2 / np.mean((out.astype(float) - img) ** 2))), 3)
    print(json.dumps(res, indent=1))
    if a.json:
        a.json.write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
