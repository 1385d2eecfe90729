"""Throughput benchmark of folder jobs: files/s and MB/s of `api.folder_job` (one model load,
same-size files batched) against one-file-at-a-time loops, in one process and through the CLI.

    vqcodec bench batch ../shared/data/kodak --json
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from . import api, batch, media
from .models import load_model


def bench_batch(folder: Path, model: str | None = None, limit: int | None = None,
                batch_size: int | None = None, cli_files: int = 3, device: str = "cpu",
                log: Callable[[str], None] = print) -> dict:
    """Throughput of folder compression: batched folder job vs one-file loops.

    Three ways over the same files: `vqcodec compress` run once per file (a shell loop, start-up
    and model load each time; timed on `cli_files` files and scaled), `api.compress` called per
    file in one process, and `api.folder_job` (one model load, same-size files batched)."""
    rels, _ = batch.discover(Path(folder), True)
    rels = [r for r in rels if media.modality_of(r) == "image"][:limit]
    if not rels:
        raise ValueError(f"no images in {folder}")
    src = [Path(folder) / r for r in rels]
    mb = sum(p.stat().st_size for p in src) / 1e6
    lm = load_model(model, device)
    res: dict = {"files": len(src), "megabytes": mb, "batch_size": batch_size}
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        for p in src:
            api.compress(media.load_image(p), lm)
        res["loop_in_process_s"] = time.perf_counter() - t
        log(f"one-file loop, in process: {res['loop_in_process_s']:.1f} s")
        t = time.perf_counter()
        for p in src[:cli_files]:
            subprocess.run([sys.executable, "-m", "vqcodec", "compress", str(p), "-o",
                            str(Path(tmp) / (p.name + ".vqc")), "--device", device]
                           + (["--model", str(model)] if model else []), check=True,
                           capture_output=True)
        res["loop_cli_s"] = (time.perf_counter() - t) * len(src) / min(cli_files, len(src))
        log(f"one-file loop, a CLI call per file (scaled from {cli_files}): "
            f"{res['loop_cli_s']:.1f} s")
        subset = Path(tmp) / "in"
        for r, p in zip(rels, src, strict=True):
            (subset / r).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(p, subset / r)
        t = time.perf_counter()
        summary = api.folder_job(subset, Path(tmp) / "out", True, lm, batch_size=batch_size,
                                 device=device)
        res["folder_job_s"] = time.perf_counter() - t
        res["folder_failed"] = summary.failed
        log(f"folder job: {res['folder_job_s']:.1f} s")
    for k in ("loop_in_process", "loop_cli", "folder_job"):
        res[f"{k}_files_per_s"] = len(src) / res[f"{k}_s"]
        res[f"{k}_mb_per_s"] = mb / res[f"{k}_s"]
    res["speedup_vs_cli_loop"] = res["loop_cli_s"] / res["folder_job_s"]
    res["speedup_vs_in_process_loop"] = res["loop_in_process_s"] / res["folder_job_s"]
    res["device"] = device
    res["batch_size_used"] = batch_size or (8 if device.startswith("cuda") else 1)
    return res

