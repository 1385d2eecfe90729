"""`vqcodec bench`: rate-distortion benchmarks of the models against classical codecs (images,
audio) and the throughput of folder jobs. The measuring is vqcodec.bench's; here are the
options and the tables."""

from __future__ import annotations

from pathlib import Path

import typer

from .cli_options import BenchJsonOpt, CpuDeviceOpt, OutJsonOpt, PlotOpt
from .cli_run import fail, out, print_json, run

bench_app = typer.Typer(no_args_is_help=True, help="Rate-distortion benchmarks (needs the `bench` "
                                                   "extra: pip install -e '.\\[bench]').")


def _need_folder(folder: Path) -> None:
    if not folder.is_dir():
        fail(f"no such folder: {folder}")


@bench_app.command("images")
def bench_images(
    folder: Path = typer.Argument(..., help="Folder of test images, e.g. ../shared/data/kodak."),
    model: list[str] | None = typer.Option(None, "--model", "-m",
                                              help="Model(s) to measure; default: all shipped "
                                                   "image models."),
    json_out: Path | None = OutJsonOpt,
    plot_out: Path | None = PlotOpt,
    as_json: bool = BenchJsonOpt,
    limit: int | None = typer.Option(None, help="Use only the first N images."),
    codecs: str = typer.Option("jpeg,webp,avif", help="Classical codecs to compare against."),
    device: str = CpuDeviceOpt,
) -> None:
    """Bits per pixel, PSNR, MS-SSIM and timings of every model rate vs JPEG/WebP/AVIF, BD-rates."""
    from rich.table import Table

    from . import bench
    from .devices import resolve_device

    _need_folder(folder)
    dev = resolve_device(device)
    res = run(lambda: bench.main(folder, model or None, json_out, plot_out, limit,
                                 tuple(c for c in codecs.split(",") if c), dev))
    if as_json:
        print_json(res)
        return
    t = Table("codec", "setting", "bpp", "PSNR", "MS-SSIM", "enc s", "dec s")
    for p in res["points"]:
        ms = "" if p["ms_ssim"] is None else f"{p['ms_ssim']:.4f}"
        t.add_row(p["codec"], p["setting"], f"{p['bpp']:.3f}", f"{p['psnr']:.2f}", ms,
                  f"{p['enc_s']:.3f}", f"{p['dec_s']:.3f}")
    out.print(t)
    for name, stats in res["layers"].items():
        for s in stats:
            out.print(f"{name} layer {s['layer']}: {s['bits_per_index_written']:.3f} bits/index "
                      f"written, cross-entropy {s['cross_entropy_bits_per_index']:.3f}, "
                      f"log2(m) = {s['log2_m']:.0f}", highlight=False)
    for k, v in res["bd_rate_percent"].items():
        out.print(f"BD-rate {k}: " + ("n/a" if v is None else f"{v:+.1f} %"), highlight=False)


@bench_app.command("audio")
def bench_audio(
    folder: Path = typer.Argument(..., help="Folder of test audio, e.g. ../shared/data/speech/test."),
    model: list[str] | None = typer.Option(None, "--model", "-m",
                                           help="Model(s) to measure; default: all shipped audio "
                                                "models."),
    json_out: Path | None = OutJsonOpt,
    plot_out: Path | None = PlotOpt,
    as_json: bool = BenchJsonOpt,
    limit: int | None = typer.Option(None, help="Use only the first N files."),
    opus_levels: str = typer.Option(",".join(map(str, (1.0, 0.99, 0.98, 0.97, 0.96, 0.95, 0.93,
                                                       0.9))),
                                    "--opus-levels", help="Opus compression levels to compare "
                                                          "against (empty: none)."),
    metrics: str = typer.Option("auto", "--metrics",
                                help="speech: PESQ-WB and STOI of the mono mix; music: ViSQOL "
                                     "(audio mode), log-mel distance and energy above 8 kHz, "
                                     "every channel coded; auto: music when a file is above "
                                     "16 kHz."),
    max_seconds: float | None = typer.Option(None, "--max-seconds", min=0.1,
                                             help="Score only the middle N seconds of each file "
                                                  "(ViSQOL is slow: ~0.5 s per second)."),
    device: str = CpuDeviceOpt,
) -> None:
    """kbps, quality scores and real-time factors of every model rate vs Opus (needs .\\[bench])."""
    from rich.table import Table

    from . import bench
    from .devices import resolve_device

    _need_folder(folder)
    try:
        levels = tuple(float(v) for v in opus_levels.split(",") if v.strip())
    except ValueError:
        fail(f"bad --opus-levels {opus_levels!r}: expected numbers between 0 and 1")
    if metrics not in ("auto", "speech", "music"):
        fail(f"bad --metrics {metrics!r}: expected auto, speech or music")
    res = run(lambda: bench.main_audio(folder, model or None, json_out, plot_out, limit,
                                       resolve_device(device), levels, metrics, max_seconds))
    if as_json:
        print_json(res)
        return

    def f(v, fmt):
        return "n/a" if v is None else format(v, fmt)

    cols = ([("pesq", "PESQ-WB", ".3f"), ("stoi", "STOI", ".3f")] if res["metrics"] == "speech"
            else [("visqol", "ViSQOL", ".3f"), ("mel_db", "mel dB", ".2f"),
                  ("hf_share", ">8 kHz", ".3%"), ("hf_share_ref", "orig >8 kHz", ".3%")])
    t = Table("codec", "setting", "kbps", *(c[1] for c in cols), "enc RTF", "dec RTF")
    for p in res["points"]:
        t.add_row(p["codec"], p["setting"], f(p["kbps"], ".2f"),
                  *(f(p[k], fmt) for k, _, fmt in cols), f(p["enc_rtf"], ".3f"),
                  f(p["dec_rtf"], ".3f"))
    out.print(t)


@bench_app.command("batch")
def bench_batch(
    folder: Path = typer.Argument(..., help="Folder of images (recursive)."),
    model: str | None = typer.Option(None, "--model", "-m", help="Model (default: shipped)."),
    limit: int | None = typer.Option(None, help="Use only the first N images."),
    batch_size: int | None = typer.Option(None, "--batch-size",
                                          help="Files per network pass (default: 8 GPU, 1 CPU)."),
    json_out: Path | None = OutJsonOpt,
    as_json: bool = BenchJsonOpt,
    device: str = typer.Option("cpu", "--device", help="cpu or cuda."),
) -> None:
    """Throughput (files/s, MB/s) of folder compression vs one-file-at-a-time loops."""
    from . import bench

    _need_folder(folder)
    res = run(lambda: bench.bench_batch(folder, model, limit, batch_size, device=device))
    bench.save_results(res, json_out, indent=2)
    if as_json:
        print_json(res)
        return
    for k in ("loop_cli", "loop_in_process", "folder_job"):
        out.print(f"{k:>16}: {res[k + '_files_per_s']:.2f} files/s, "
                  f"{res[k + '_mb_per_s']:.2f} MB/s", highlight=False)
    out.print(f"speed-up of the folder job: {res['speedup_vs_cli_loop']:.1f}x vs a CLI loop, "
              f"{res['speedup_vs_in_process_loop']:.2f}x vs an in-process loop", highlight=False)


