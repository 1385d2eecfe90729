"""The benchmarks, in one place for a Python user (`from vqcodec.bench import bench_images`):

    image_bench    rate-distortion of images: every model rate vs JPEG/WebP/AVIF, BD-rates
    audio_bench    rate-distortion of audio: kbps, PESQ-WB, STOI, real-time factors vs Opus
    batch_bench    throughput of folder jobs vs one-file loops
    bench_results  the RD frontier, BD-rate, and writing results (JSON, plots)

Each is run by `vqcodec bench images|audio|batch`; the names below are theirs, re-exported.
"""

from __future__ import annotations

from .audio_bench import (  # noqa: F401 (re-exported)
    METRIC_RATE,
    OPUS_LEVELS,
    bench_audio,
    main_audio,
    opus,
    plot_audio,
    speech_metrics,
)
from .batch_bench import bench_batch  # noqa: F401 (re-exported)
from .bench_results import bd_rate, frontier, plot_rd, save_results  # noqa: F401 (re-exported)
from .image_bench import (  # noqa: F401 (re-exported)
    BENCH_LAMBDAS,
    QUALITIES,
    _bench_model,  # training/photo-v4/bench_shards.py runs one model per shard
    bench_images,
    classical,
    main,
    ms_ssim,
    plot,
    psnr,
    summarize,
)

_frontier = frontier  # its name before the split (tests and notebooks use it)
