"""Store a model's encoder and decoder weights as float16, the codebooks staying float32: the
shipping step music-stft-2 took (40 -> 21 MB, under the 30 MB bound for shipped weights; its
bench gave the same kbps, ViSQOL and mel distance to the printed digits), written down here so
it reruns. speech-stft-3 has the same networks: 36 MB in float32.

    python training/speech-stft-3/half.py MODEL_FOLDER     # in place

Loading casts them back to the model's float32 parameters (`Codec.load_state_dict`). The
model's identity is a hash of its files, so bench and make golden files from the halved folder.
"""

from __future__ import annotations

import sys
from pathlib import Path

from vqcodec.models import model_bytes, store_float16


def half(folder: Path) -> int:
    """Cast folder/model.safetensors' float32 encoder.* and decoder.* tensors to float16; how many."""
    return len(store_float16(folder, lambda k, v: k.split(".")[0] in ("encoder", "decoder")))


if __name__ == "__main__":
    folder = Path(sys.argv[1])
    before = model_bytes(folder)
    n = half(folder)
    print(f"{folder}: {n} encoder/decoder tensors as float16; "
          f"{before / 1e6:.2f} -> {model_bytes(folder) / 1e6:.2f} MB")
