"""Store a model's largest tensors that need no float32 precision as float16, so a model with a
5x5 synthesis (photo-v5-g48-c14: 31.2 MB in float32) ships within the issue's 30 MB.

    python training/photo-v5/slim.py MODEL_FOLDER

Which: the deepest layer's codebooks (`quantizer.codebooks.N-1`: 786,432 values, the residual of
the residual; in photo-v5-g48-c11 their median size is 0.008 and float16 moves them by 3e-6 on
average, 5e-4 at most) and the light rate tables
(`quantizer.rate_logits.*`, read only by training's search). Loading casts them back to the
model's float32 parameters (`Codec.load_state_dict`), so nothing else changes; the model's
identity (a hash of its files) is that of the slimmed files, so bench the slimmed folder.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from vqcodec.models import model_bytes, store_float16


def slim(folder: Path) -> list[str]:
    """Cast the tensors named above to float16 in folder/model.safetensors; their names."""
    n = json.loads((folder / "config.json").read_text())["num_layers"]
    return store_float16(folder, lambda k, v: k == f"quantizer.codebooks.{n - 1}" or
                         k.startswith("quantizer.rate_logits."))


if __name__ == "__main__":
    folder = Path(sys.argv[1])
    before = model_bytes(folder)
    names = slim(folder)
    after = model_bytes(folder)
    print(f"{folder}: {', '.join(names)} as float16; {before / 1e6:.2f} -> {after / 1e6:.2f} MB")
