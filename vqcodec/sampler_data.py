"""Labelled image sets for the sampling prior, and their HR-VQ codes.

Two kinds of --data:

  * an .npz with x_train (N, H, W[, C]) uint8 and, optionally, y_train (N,) labels, x_test /
    y_test (the held-out split) and label_names (the CIFAR-10 and MNIST subsets in
    ../shared/data have these; without label_names the classes are named "0", "1", ...);
  * a folder of images, searched recursively. When every image sits in a subfolder of it and
    there are two subfolders or more, the subfolder names are the classes. A seeded 5 % of
    the images is held out as the test split. All images must have one size, or give `size`
    (a centred square crop, resized).

::

    images --(flip: the mirrored images too)--> Encoder --HR-VQ search--> codes (N, n, h, w)
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from . import media
from .models import LoadedModel

HOLD_OUT = 0.05  # of a folder's images, for the test split


@dataclass
class ImageSet:
    """Train and test images (N, H, W, C) uint8, labels (N,) int64 or None, class names."""

    x_train: np.ndarray
    y_train: np.ndarray | None
    x_test: np.ndarray
    y_test: np.ndarray | None
    classes: list[str]
    source: str

    @property
    def channels(self) -> int:
        return int(self.x_train.shape[3])

    @property
    def size(self) -> tuple[int, int]:
        return int(self.x_train.shape[1]), int(self.x_train.shape[2])


def _hwc(x: np.ndarray, what: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[3] not in (1, 3) or x.dtype != np.uint8:
        raise ValueError(f"{what}: expected uint8 images (N, H, W) or (N, H, W, 1|3), got "
                         f"{x.dtype} {x.shape}")
    return x


def load_npz(path: Path, labels: bool = True) -> ImageSet:
    try:
        d = np.load(path)
    except (OSError, ValueError) as e:
        raise ValueError(f"cannot read {path}: {e}") from None
    if "x_train" not in d:
        raise ValueError(f"{path} has no x_train array")
    x_tr = _hwc(d["x_train"], f"{path}: x_train")
    x_te = _hwc(d["x_test"], f"{path}: x_test") if "x_test" in d else x_tr[:0]
    y_tr = d["y_train"].astype(np.int64) if labels and "y_train" in d else None
    y_te = d["y_test"].astype(np.int64) if y_tr is not None and "y_test" in d else None
    if y_tr is None:
        return ImageSet(x_tr, None, x_te, None, [], str(path))
    if len(y_tr) != len(x_tr) or (y_te is not None and len(y_te) != len(x_te)):
        raise ValueError(f"{path}: the labels do not match the images in number")
    n_cls = int(max(y_tr.max(), -1 if y_te is None else y_te.max())) + 1
    names = [str(v) for v in d["label_names"]] if "label_names" in d else []
    if len(names) != n_cls:
        names = [str(i) for i in range(n_cls)]
    return ImageSet(x_tr, y_tr, x_te, y_te, names, str(path))


def _square(img: np.ndarray, size: int) -> np.ndarray:
    h, w = img.shape[:2]
    s = min(h, w)
    y, x = (h - s) // 2, (w - s) // 2
    pil = Image.fromarray(img[y:y + s, x:x + s].squeeze(-1) if img.shape[2] == 1 else
                          img[y:y + s, x:x + s])
    return np.asarray(pil.resize((size, size), Image.BICUBIC)).reshape(size, size, -1)


def load_folder(folder: Path, labels: bool = True, size: int | None = None,
                seed: int = 0) -> ImageSet:
    files = sorted(p for p in folder.rglob("*") if p.is_file() and media.modality_of(p) == "image")
    if len(files) < 2:
        raise ValueError(f"need at least 2 images in {folder}, found {len(files)}")
    tops = [p.relative_to(folder).parts for p in files]
    classes = sorted({t[0] for t in tops}) if all(len(t) > 1 for t in tops) else []
    if not labels or len(classes) < 2:
        classes = []
    imgs, ys = [], []
    for f, t in zip(files, tops, strict=True):
        img = media.load_image(f)
        img = _square(img, size) if size else img
        if imgs and img.shape != imgs[0].shape:
            raise ValueError(f"{f} is {img.shape[1]}x{img.shape[0]}, the first image "
                             f"{imgs[0].shape[1]}x{imgs[0].shape[0]}: give --size to resize all")
        imgs.append(img)
        ys.append(classes.index(t[0]) if classes else -1)
    order = list(range(len(files)))
    random.Random(seed).shuffle(order)
    n_test = max(1, int(len(files) * HOLD_OUT))
    te, tr = sorted(order[:n_test]), sorted(order[n_test:])
    x, y = np.stack(imgs), np.asarray(ys, np.int64)
    return ImageSet(x[tr], y[tr] if classes else None, x[te], y[te] if classes else None,
                    classes, str(folder))


def load_images(data: Path, labels: bool = True, size: int | None = None) -> ImageSet:
    """An .npz or a folder as an ImageSet (see the module docstring)."""
    data = Path(data)
    if data.is_dir():
        return load_folder(data, labels, size)
    if data.suffix == ".npz" and data.is_file():
        return load_npz(data, labels)
    raise ValueError(f"no such folder or .npz file: {data}")


@torch.no_grad()
def encode(model: LoadedModel, images: np.ndarray, flip: bool = False, batch: int = 64,
           device: str | torch.device = "cpu") -> torch.Tensor:
    """HR-VQ codes (N, n, h, w) int16 of uint8 images (N, H, W, C), nearest words (as compress
    chooses them without rdo); flip=True codes the mirrored images instead."""
    codec = model.codec
    if codec.groups or codec.modality != "image":
        raise ValueError(f"model {model.name}: the sampling prior is for image models with one "
                         "HR-VQ tree (not product or audio models)")
    out = []
    for i in range(0, len(images), batch):
        x = images[i:i + batch]
        x = x[:, :, ::-1] if flip else x
        x = np.stack([media.pad_to_multiple(img, codec.stride) for img in x])
        t = torch.from_numpy(np.ascontiguousarray(x)).permute(0, 3, 1, 2).float() / 255
        t = t.expand(-1, 3, -1, -1) if t.shape[1] == 1 else t
        out.append(codec.quantizer.search(codec.encoder(t.to(device))).to(torch.int16).cpu())
    return torch.cat(out)
