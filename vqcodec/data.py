"""A folder of .vqc files as a PyTorch dataset, so a compressed dataset trains a model directly.

::

    VQCDataset(folder, output="codes")   item: the HR-VQ indices (entropy decoding only)
    VQCDataset(folder, output="image")   item: uint8 tensor (H, W, C), the decoded image
    VQCDataset(folder, output="audio")   item: float32 tensor (samples, channels)

Files are found recursively and sorted, so item i is the same file in every worker and on every
machine. Models are loaded lazily in each process (never pickled), so it works with a
multi-worker DataLoader whatever the start method.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from . import batch, image_codec
from .audio_codec import decompress_audio
from .codes import codes_of_vqc
from .models import LoadedModel, load_model
from .segments import find_model_for, read_header

OUTPUTS = ("codes", "image", "audio")


class VQCDataset(Dataset):
    """The .vqc files under a folder, decoded on access.

    Args:
        output: "codes" gives a long tensor (layers, ...) for a one-segment file (a tuple of
            them, one per tile or chunk x channel, otherwise); "image" / "audio" decode fully.
        model: a model name or folder used for every file; default: the shipped model each
            file's header names.
        layers: decode only the first `layers` stored layers.
        transform: applied to each item (e.g. to crop or convert).
    """

    def __init__(self, folder: str | Path, output: str = "codes", model: str | Path | None = None,
                 layers: int | None = None, transform: Callable | None = None,
                 device: str = "cpu"):
        if output not in OUTPUTS:
            raise ValueError(f"output must be one of {', '.join(OUTPUTS)}, not {output!r}")
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise FileNotFoundError(2, "no such folder", str(self.folder))
        rels, _ = batch.discover(self.folder, compressing=False)
        self.files = [self.folder / r for r in rels]
        self.output, self.model, self.layers = output, model, layers
        self.transform, self.device = transform, device
        self._models: dict[bytes, LoadedModel] = {}

    def __len__(self) -> int:
        return len(self.files)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_models"] = {}  # each worker loads its own
        return state

    def _model_for(self, data: bytes) -> LoadedModel:
        head = read_header(data)
        key = b"given" if self.model is not None else head.model_id
        if key not in self._models:
            self._models[key] = (load_model(self.model, self.device, head.modality)
                                 if self.model is not None
                                 else find_model_for(head, self.device))
        return self._models[key]

    def __getitem__(self, i: int):
        data = self.files[i].read_bytes()
        lm = self._model_for(data)
        if self.output == "codes":
            segs = codes_of_vqc(data, lm).segments
            if self.layers is not None:
                segs = [s[:self.layers] for s in segs]
            ts = tuple(torch.from_numpy(s.astype(np.int64)) for s in segs)
            item = ts[0] if len(ts) == 1 else ts
        elif self.output == "image":
            item = torch.from_numpy(image_codec.decompress(data, lm, self.layers))
        else:
            wave, _rate = decompress_audio(data, lm, self.layers)
            item = torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32))
        return self.transform(item) if self.transform is not None else item
