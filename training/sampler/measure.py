"""Issue 21's measurements of the sampling prior against the checkerboard coding prior.

    python training/sampler/measure.py --model cifar-hrvq [--model cifar-flat] \
        --data ../shared/data/cifar10/cifar10_subset.npz --out training/sampler/cifar

For each model:
  * NLL: bits per index (and per image) of the test images' codes under the sampling prior
    (with the true class and without one) and under the coding prior (its exact integer
    probabilities, what a .vqc file spends), per layer;
  * a grid of samples per class (a row per class) from the sampling prior, and a grid from
    the checkerboard prior;
  * for some samples, the nearest training image in pixel space (RMSE, 0-255), beside the
    same distance of real test images to the training set (what "new" looks like);
  * a small CNN trained on x_train (cached in OUT/classifier.pt): its accuracy on the test
    images and on their reconstructions by the model (the ceiling for samples), and how often
    samples are classified as the class asked for. The checkerboard prior cannot be asked for
    a class: its samples get the classes round-robin, so that figure is chance by construction;
    the classifier's mean confidence and the spread of predicted classes compare the two.

Writes OUT/results.json and OUT/results.md, and the PNGs named there.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vqcodec import media
from vqcodec.models import load_model
from vqcodec.prior import phase_map
from vqcodec.sample import decode, grid, sample, sample_images
from vqcodec.sampler import load_sampler
from vqcodec.sampler_data import encode, load_images
from vqcodec.train_sampler import evaluate


@torch.no_grad()
def coding_prior_bits(lm, codes: torch.Tensor, batch: int = 64) -> list[float]:
    """Bits per index of each layer under the exact integer coding prior."""
    ex, n = lm.codec.exact, lm.codec.num_layers
    h, w = codes.shape[2:]
    pm = phase_map(h, w, ex.phases)
    total = np.zeros(n)
    for i in range(0, len(codes), batch):
        c = codes[i:i + batch].long()
        for layer in range(n):
            for p in range(ex.phases):
                pr = ex.phase_probs(c, layer, p).double()
                sym = c[:, layer][:, pm == p]
                got = pr.gather(-1, sym.unsqueeze(-1)).squeeze(-1) / pr.sum(-1)
                total[layer] += float(-torch.log2(got).sum())
    return [float(v) for v in total / (len(codes) * h * w)]


class Classifier(nn.Module):
    """A small CNN: 3 stages of two 3x3 convs (32, 64, 128), batch norm, global average pool."""

    def __init__(self, in_ch: int, classes: int):
        super().__init__()
        layers, prev = [], in_ch
        for ch in (32, 64, 128):
            for _ in range(2):
                layers += [nn.Conv2d(prev, ch, 3, padding=1), nn.BatchNorm2d(ch), nn.ReLU()]
                prev = ch
            layers.append(nn.MaxPool2d(2))
        self.net = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                 nn.Dropout(0.3), nn.Linear(prev, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _tensor(imgs: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(imgs)).permute(0, 3, 1, 2).float() / 255 - 0.5


def train_classifier(x: np.ndarray, y: np.ndarray, classes: int, epochs: int, flip: bool,
                     seed: int = 0) -> Classifier:
    torch.manual_seed(seed)
    net = Classifier(x.shape[3], classes)
    opt = torch.optim.Adam(net.parameters(), 2e-3, weight_decay=5e-4)
    steps, bs = epochs * math.ceil(len(x) / 64), 64
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 2e-3, total_steps=max(steps, 1))
    g = torch.Generator().manual_seed(seed)
    net.train()
    for _ in range(steps):
        idx = torch.randint(0, len(x), (bs,), generator=g).numpy()
        xb = _tensor(x[idx])
        if flip:
            m = torch.rand(bs, generator=g) < 0.5
            xb[m] = xb[m].flip(3)
        # random shifts of up to 2 px (reflect-padded crops)
        dy, dx = (int(v) for v in torch.randint(0, 5, (2,), generator=g))
        xb = F.pad(xb, (2, 2, 2, 2), mode="reflect")[:, :, dy:dy + x.shape[1], dx:dx + x.shape[2]]
        loss = F.cross_entropy(net(xb), torch.from_numpy(y[idx]).long())
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return net.eval()


@torch.no_grad()
def predict(net: Classifier, imgs: np.ndarray) -> np.ndarray:
    return np.concatenate([F.softmax(net(_tensor(imgs[i:i + 256])), 1).numpy()
                           for i in range(0, len(imgs), 256)])


def nearest(samples: np.ndarray, train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of each sample's nearest training image and the RMSE (0-255) to it."""
    a = torch.from_numpy(samples.reshape(len(samples), -1)).double()
    b = torch.from_numpy(train.reshape(len(train), -1)).double()
    d2 = (a * a).sum(1, keepdim=True) - 2 * a @ b.T + (b * b).sum(1)
    idx = d2.argmin(1)
    rmse = (d2.gather(1, idx[:, None]).squeeze(1).clamp_min(0) / a.shape[1]).sqrt()
    return idx.numpy(), rmse.numpy()


def class_figures(probs: np.ndarray, asked: np.ndarray | None, classes: int) -> dict:
    """How often the classifier says the class asked for (overall, per class), its mean
    confidence, and the fraction of samples predicted as each class."""
    pred = probs.argmax(1)
    hist = np.bincount(pred, minlength=classes) / len(pred)
    res = {"mean_confidence": round(float(probs.max(1).mean()), 4),
           "predicted_class_spread": [round(float(v), 3) for v in hist],
           "samples": int(len(pred))}
    if asked is not None:
        res["classified_as_asked"] = round(float((pred == asked).mean()), 4)
        res["per_class"] = [round(float((pred[asked == c] == c).mean()), 3)
                            if (asked == c).any() else None for c in range(classes)]
    return res


def draw_classes(lm, classes: int, per_class: int, seed: int, temperature: float, top_k,
                 batch: int = 50) -> tuple[np.ndarray, float]:
    """per_class samples of every class (class-major order) from the sampling prior."""
    asked = np.repeat(np.arange(classes), per_class)
    out, t = [], time.perf_counter()
    for i in range(0, len(asked), batch):
        imgs, _ = sample(lm, len(asked[i:i + batch]), seed + i, temperature, top_k,
                         [int(c) for c in asked[i:i + batch]], prior="sampler")
        out.append(imgs)
    return np.concatenate(out), time.perf_counter() - t


def measure_model(name: str, s, net, a, out: Path) -> dict:
    lm = load_model(name)
    x_te, y_te = s.x_test[: a.test_limit], None if s.y_test is None else s.y_test[: a.test_limit]
    codes = encode(lm, x_te)
    n_idx = int(np.prod(codes.shape[1:]))
    res: dict = {"model": lm.name, "test_images": len(x_te), "indices_per_image": n_idx}
    cp = coding_prior_bits(lm, codes)
    res["coding_prior"] = {"bits_per_index": round(float(np.mean(cp)), 4),
                           "bits_per_layer": [round(v, 4) for v in cp],
                           "bits_per_image": round(float(np.mean(cp)) * n_idx, 1)}
    recon = decode(lm, codes.long(), *s.size)
    recon = recon.mean(-1, keepdims=True).round().astype(np.uint8) if s.channels == 1 else recon
    if net is not None:
        res["classifier_on_reconstructions"] = round(float(
            (predict(net, recon).argmax(1) == y_te).mean()), 4)
    k = len(s.classes) or 1
    found = load_sampler(lm)
    tag = out / lm.name
    if found is not None:
        sampler, _ = found
        y_t = torch.from_numpy(y_te) if sampler.classes and y_te is not None else None
        ev = evaluate(sampler, codes, y_t)
        res["sampler"] = {key.replace("test_", ""): v for key, v in ev.items()}
        res["sampler"]["bits_per_image"] = round(ev["test_bits"] * n_idx, 1)
        res["sampler_gain_bits_per_index"] = round(res["coding_prior"]["bits_per_index"]
                                                   - ev["test_bits"], 4)
        if sampler.classes:
            imgs, sec = draw_classes(lm, k, a.per_class, a.seed, a.temperature, a.top_k)
            asked = np.repeat(np.arange(k), a.per_class)
            res["sampling_seconds_per_image"] = round(sec / len(imgs), 3)
            media.save_image(grid(imgs.reshape(k, a.per_class, *imgs.shape[1:])
                                  [:, : a.grid_cols].reshape(-1, *imgs.shape[1:]),
                                  cols=min(a.grid_cols, a.per_class)),
                             Path(f"{tag}_sampler_per_class.png"))
            if net is not None:
                res["sampler_classifier"] = class_figures(predict(net, imgs), asked, k)
            pick = np.concatenate([np.arange(c * a.per_class, c * a.per_class + a.nearest)
                                   for c in range(k)])
            res["sampler_nearest"] = _nearest_figure(imgs[pick], s.x_train,
                                                     Path(f"{tag}_sampler_nearest.png"))
        unc, _ = sample(lm, a.grid_cols ** 2, a.seed, a.temperature, a.top_k, prior="sampler")
        media.save_image(grid(unc), Path(f"{tag}_sampler_unconditional.png"))
        if net is not None:
            res["sampler_unconditional_classifier"] = class_figures(predict(net, unc), None, k)
    cb = sample_images(lm, k * a.per_class, *s.size, a.seed, a.temperature, a.top_k)
    cb = cb.mean(-1, keepdims=True).round().astype(np.uint8) if s.channels == 1 else cb
    media.save_image(grid(cb[: a.grid_cols ** 2]), Path(f"{tag}_checkerboard.png"))
    if net is not None:
        res["checkerboard_classifier"] = class_figures(predict(net, cb),
                                                       np.arange(len(cb)) % k, k)  # chance
    res["checkerboard_nearest"] = _nearest_figure(cb[: k * a.nearest], s.x_train,
                                                  Path(f"{tag}_checkerboard_nearest.png"))
    return res


def _nearest_figure(imgs: np.ndarray, train: np.ndarray, path: Path) -> dict:
    """Pairs (sample, its nearest training image) side by side, and the distances."""
    idx, rmse = nearest(imgs, train)
    pairs = np.stack([imgs, train[idx]], 1).reshape(-1, *imgs.shape[1:])
    media.save_image(grid(pairs, cols=2 * min(5, len(imgs))), path)
    return {"figure": str(path), "rmse_median": round(float(np.median(rmse)), 2),
            "rmse_min": round(float(rmse.min()), 2), "train_index": idx.tolist()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append", required=True)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--per-class", type=int, default=20, help="Samples per class (classifier).")
    ap.add_argument("--grid-cols", type=int, default=10, help="Samples per row of the grids.")
    ap.add_argument("--nearest", type=int, default=2, help="Samples per class shown beside "
                                                           "their nearest training image.")
    ap.add_argument("--classifier-epochs", type=int, default=15)
    ap.add_argument("--no-flip", action="store_true", help="No mirrored images for the "
                                                           "classifier (digits).")
    ap.add_argument("--test-limit", type=int, help="Only the first N test images.")
    ap.add_argument("--train-limit", type=int, help="Only the first N train images (smoke runs).")
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--top-k", type=int)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    s = load_images(a.data)
    s.x_train = s.x_train[: a.train_limit]
    s.y_train = None if s.y_train is None else s.y_train[: a.train_limit]
    res: dict = {"data": str(a.data), "train_images": len(s.x_train), "classes": s.classes,
                 "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(a).items()
                              if k not in ("model", "out")}}
    net = None
    if s.classes:
        cache = a.out / "classifier.pt"
        key = [str(a.data), a.train_limit, a.classifier_epochs, not a.no_flip]
        if cache.is_file() and torch.load(cache, weights_only=False)["key"] == key:
            net = Classifier(s.channels, len(s.classes))
            net.load_state_dict(torch.load(cache, weights_only=False)["state"])
            net.eval()
        else:
            t = time.perf_counter()
            net = train_classifier(s.x_train, s.y_train, len(s.classes), a.classifier_epochs,
                                   not a.no_flip)
            torch.save({"key": key, "state": net.state_dict()}, cache)
            res["classifier_train_seconds"] = round(time.perf_counter() - t, 1)
        x_te = s.x_test[: a.test_limit]
        res["classifier_test_accuracy"] = round(float(
            (predict(net, x_te).argmax(1) == s.y_test[: a.test_limit]).mean()), 4)
    _, te_rmse = nearest(s.x_test[:200], s.x_train)
    res["test_images_nearest_train_rmse_median"] = round(float(np.median(te_rmse)), 2)
    res["models"] = [measure_model(m, s, net, a, a.out) for m in a.model]
    (a.out / "results.json").write_text(json.dumps(res, indent=1) + "\n")
    (a.out / "results.md").write_text(report(res))
    print(report(res))


def report(res: dict) -> str:
    """The NLL and classifier tables in markdown."""
    lines = ["| model | prior | bits/index | per layer | bits/image |", "|---|---|---|---|---|"]
    for m in res["models"]:
        c = m["coding_prior"]
        lines.append(f"| {m['model']} | coding (checkerboard, exact) | {c['bits_per_index']:.4f} | "
                     f"{' / '.join(f'{v:.3f}' for v in c['bits_per_layer'])} | "
                     f"{c['bits_per_image']:.0f} |")
        for key, what in (("", "sampling, true class"), ("_uncond", "sampling, no class")):
            sp = m.get("sampler", {})
            if f"bits{key}" in sp:
                bits = sp[f"bits{key}"]
                lines.append(f"| {m['model']} | {what} | {bits:.4f} | "
                             f"{' / '.join(f'{v:.3f}' for v in sp[f'bits_per_layer{key}'])} | "
                             f"{bits * m['indices_per_image']:.0f} |")
    lines += ["", f"classifier test accuracy: {res.get('classifier_test_accuracy')}; test images' "
              f"nearest-train RMSE median {res['test_images_nearest_train_rmse_median']}", "",
              "| model | samples | classified as asked | mean confidence | nearest-train RMSE "
              "median |", "|---|---|---|---|---|"]
    for m in res["models"]:
        for key, near, what in (("sampler_classifier", "sampler_nearest", "sampling prior"),
                                ("checkerboard_classifier", "checkerboard_nearest",
                                 "checkerboard (classes round-robin: chance)")):
            if key in m:
                f = m[key]
                lines.append(f"| {m['model']} | {what} | {f['classified_as_asked']:.3f} | "
                             f"{f['mean_confidence']:.3f} | {m[near]['rmse_median']} |")
        if "classifier_on_reconstructions" in m:
            lines.append(f"| {m['model']} | test reconstructions (ceiling) | "
                         f"{m['classifier_on_reconstructions']:.3f} | | |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
