"""Command line: a thin Typer layer over vqcodec.api. Errors are one line on stderr, exit code 1."""

from __future__ import annotations

import json
import os
import sys
import time
import warnings
from contextlib import ExitStack, contextmanager
from pathlib import Path

import typer
from rich.console import Console

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="vqcodec: learned compression of images and audio with HR-VQVAE, a "
                       "bit-exact PixelCNN prior and rANS. Files end in .vqc.")
out = Console()
err = Console(stderr=True)

ModelOpt = typer.Option(None, "--model", "-m",
                        help="Shipped model name (see `vqcodec models`) or a model folder. "
                             "Default: the shipped default for the input's kind.")
DeviceOpt = typer.Option("auto", "--device", help="auto (CUDA if present), cpu or cuda.")
ForceOpt = typer.Option(False, "--force", "-f", help="Overwrite an existing output file.")


def _fail(msg: str, code: int = 1) -> None:
    err.print(f"[red]error:[/red] {msg}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _run(fn):
    """Call fn, turning every expected failure into one line and a non-zero exit."""
    from .api import CodecError
    from .coding import StreamError
    from .container import ContainerError
    from .media import MediaError, MediaWarning
    from .models import ModelError

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", MediaWarning)
        try:
            result = fn()
        except (CodecError, ContainerError, MediaError, ModelError, StreamError,
                FileExistsError, FileNotFoundError, IsADirectoryError, ValueError) as e:
            _fail(str(e) or type(e).__name__)
        except OSError as e:
            _fail(f"{e.strerror or e}: {e.filename}" if e.filename else str(e))
        except KeyboardInterrupt:
            _fail("interrupted", 130)
        finally:
            for w in caught:
                if issubclass(w.category, MediaWarning):
                    err.print(f"[yellow]warning:[/yellow] {w.message}", highlight=False)
    return result


def _default_output(src: Path, compressing: bool) -> Path:
    if compressing:
        return src.with_name(src.name + ".vqc")
    name = src.name[:-4] if src.name.endswith(".vqc") else src.name
    if Path(name).suffix:
        return src.with_name(name)
    return src.with_name(name + (".wav" if _is_audio_vqc(src) else ".png"))


def _is_audio_vqc(src: Path) -> bool:
    from . import container

    try:
        with open(src, "rb") as fh:
            return container.read_header(fh.read(1 << 16)).modality == "audio"
    except (OSError, container.ContainerError):
        return False  # the decoder reports the real problem


@contextmanager
def _audio_progress(enabled: bool):
    """A progress callback (seconds done, total) that shows a bar once a file is long."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    with ExitStack() as stack:
        state: dict = {}

        def cb(done: float, total: float) -> None:
            if not enabled or total < LONG_AUDIO_S:
                return
            if "bar" not in state:
                bar = stack.enter_context(Progress(
                    TextColumn("{task.description}"), BarColumn(),
                    TextColumn("{task.completed:.0f}/{task.total:.0f} s"), TimeRemainingColumn(),
                    console=err, transient=True))
                state["bar"], state["task"] = bar, bar.add_task("coding", total=total)
            state["bar"].update(state["task"], completed=done)

        yield cb


LONG_AUDIO_S = 30.0  # audio longer than this shows a progress bar


ShardOpt = typer.Option(None, "--shard", help="Folders: process shard i/N only (deterministic, "
                                               "disjoint). Default: RANK/WORLD_SIZE if set.")
BatchOpt = typer.Option(None, "--batch-size", min=1,
                        help="Folders: files per network pass (default 8 on a GPU, 1 on CPU).")
JsonOpt = typer.Option(False, "--json", help="Folders: print the summary as JSON.")
QuietOpt = typer.Option(False, "--quiet", "-q", help="No progress bar (and for folders no "
                                                       "table).")


def _folder(input: Path, output: Path | None, compressing: bool, model, layers, force, shard,
            batch_size: int | None, device, as_json, quiet) -> None:
    """A folder in, a mirrored folder out; exit 1 if any file failed."""
    from . import api, batch

    if output is None:
        _fail("a folder input needs -o OUTPUT_FOLDER")
    with ExitStack() as stack:
        # The bar is opened by folder_job once it knows how many files there are to code.
        progress = None if quiet or as_json else (
            lambda total: stack.enter_context(batch.progress_bar(err, total))[1])
        summary = _run(lambda: api.folder_job(input, output, compressing, model, layers, force,
                                              shard, batch_size, device, progress))
    if as_json:
        sys.stdout.write(json.dumps(summary.to_json(), indent=2) + "\n")
    elif not quiet:
        batch.render(summary, out)
    elif summary.failed:
        for rel, why in summary.failures:
            err.print(f"FAILED {rel}: {why}", highlight=False, markup=False)
    raise typer.Exit(summary.exit_code)


@app.command()
def compress(
    input: Path = typer.Argument(..., help="Image file (PNG, JPEG, WebP, BMP, TIFF), audio file "
                                           "(WAV, FLAC, OGG), or a folder (recursive; each "
                                           "a/b.png becomes a/b.png.vqc)."),
    output: Path | None = typer.Option(None, "--output", "-o",
                                       help="Output .vqc file (default: INPUT.vqc), or output "
                                            "folder for a folder input."),
    model: str | None = ModelOpt,
    layers: int | None = typer.Option(None, "--layers", "-l", min=1,
                                         help="Store only the first K layers: smaller, coarser."),
    force: bool = ForceOpt,
    device: str = DeviceOpt,
    shard: str | None = ShardOpt,
    batch_size: int | None = BatchOpt,
    as_json: bool = JsonOpt,
    quiet: bool = QuietOpt,
) -> None:
    """Compress an image or audio file (or a folder of them) into .vqc files.

    Folders: complete outputs are kept (rerun to resume), failures are listed and give exit 1."""
    from . import api

    if input.is_dir():
        _folder(input, output, True, model, layers, force, shard, batch_size, device, as_json,
                quiet)
    dst = output or _default_output(input, True)
    t = time.time()
    with _audio_progress(not quiet) as progress:
        res = _run(lambda: api.compress_file(input, dst, model, layers, force, device, progress))
    rate = f"{res['kbps']:.2f} kbps" if "kbps" in res else f"{res['bpp']:.3f} bpp"
    out.print(f"{input} -> {dst}: {res['bytes']} bytes, {rate}, "
              f"{res['layers_stored']} layers, {time.time() - t:.2f} s", highlight=False)


@app.command()
def decompress(
    input: Path = typer.Argument(..., help="A .vqc file, or a folder of them."),
    output: Path | None = typer.Option(None, "--output", "-o",
                                       help="Output image or audio file; its extension picks "
                                            "the format. Default: INPUT without .vqc (or .png / "
                                            ".wav). For a folder: the output folder."),
    model: str | None = typer.Option(None, "--model", "-m",
                                        help="Model folder or name; default: the shipped model "
                                             "the file was made with."),
    layers: int | None = typer.Option(None, "--layers", "-l", min=1,
                                         help="Decode only the first K stored layers."),
    force: bool = ForceOpt,
    device: str = DeviceOpt,
    shard: str | None = ShardOpt,
    batch_size: int | None = BatchOpt,
    as_json: bool = JsonOpt,
    quiet: bool = QuietOpt,
) -> None:
    """Decompress a .vqc file (or a folder of them) back to images or audio."""
    from . import api

    if input.is_dir():
        _folder(input, output, False, model, layers, force, shard, batch_size, device, as_json,
                quiet)
    dst = output or _default_output(input, False)
    t = time.time()
    with _audio_progress(not quiet) as progress:
        res = _run(lambda: api.decompress_file(input, dst, model, layers, force, device, progress))
    what = (f"{res['sample_rate']} Hz, {res['channels']} ch, {res['seconds']:.2f} s"
            if res["modality"] == "audio" else f"{res['width']}x{res['height']}")
    out.print(f"{input} -> {dst}: {what}, {time.time() - t:.2f} s", highlight=False)


@app.command()
def info(
    input: Path = typer.Argument(..., help="A .vqc file."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show a .vqc header: model, size, layers, bytes per layer, bpp."""
    from . import api

    def go():
        if not input.is_file():
            raise FileNotFoundError(2, "no such file", str(input))
        return api.info(input.read_bytes())

    res = _run(go)
    if as_json:
        out.print_json(json.dumps(res))
        return
    for k, v in res.items():
        out.print(f"{k:>24}: {v}", highlight=False)


@app.command()
def models(as_json: bool = typer.Option(False, "--json", help="Print a JSON list.")) -> None:
    """List the shipped models."""
    from .models import list_models

    ms = list_models()
    if as_json:
        sys.stdout.write(json.dumps(ms, indent=2) + "\n")
        return
    from rich.table import Table

    t = Table("name", "modality", "layers", "m", "default", "path")
    for m in ms:
        t.add_row(m["name"], m["modality"], str(m["layers"]), str(m["codebook_size"]),
                  "yes" if m["default"] else "", m["path"])
    out.print(t)


@app.command()
def train(
    data: Path = typer.Option(..., "--data", "-d", help="Folder of training images or audio "
                                                        "files (recursive)."),
    out_dir: Path = typer.Option(..., "--out", "-o", help="Folder for the model, log and checkpoints."),
    preset: str | None = typer.Option(None, help="Architecture and schedule. Images: small "
                                                 "(default), photo (the small architecture "
                                                 "fine-tuned: use with --init photo-small), "
                                                 "tiny (seconds; for tests). Audio: "
                                                 "speech-stft (default), speech-small "
                                                 "(waveform convs), tiny-audio."),
    modality: str | None = typer.Option(None, "--modality",
                                        help="image or audio; default: what most files are."),
    steps: int | None = typer.Option(None, help="Stage 1 steps (autoencoder + quantizer)."),
    prior_steps: int | None = typer.Option(None, help="Stage 2 steps (the prior)."),
    batch_size: int | None = typer.Option(None, help="Crops per step."),
    resume: bool = typer.Option(False, "--resume", help="Continue from OUT/checkpoint.pt."),
    init: str | None = typer.Option(None, "--init", help="Start from this model's autoencoder "
                                    "and codebooks (a shipped name or a folder; same "
                                    "architecture as the preset): fine-tune it on your data."),
    name: str | None = typer.Option(None, help="Model name (default: OUT's folder name); with "
                                    "--resume it renames the model that comes out."),
    seed: int = typer.Option(0, help="Random seed."),
    device: str = DeviceOpt,
) -> None:
    """Train a codec on your own folder of images or audio; then use it with --model OUT."""
    from rich.progress import (
        BarColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from .train import train as run_train

    if not data.is_dir():
        _fail(f"no such folder: {data}")
    if (out_dir / "config.json").exists() and not resume:
        _fail(f"{out_dir} already holds a model (use another --out, or --resume)")
    if int(os.environ.get("RANK", "0")) != 0:  # under torchrun only rank 0 reports
        _run(lambda: run_train(data, out_dir, preset, steps, prior_steps, batch_size, device,
                               resume, name, seed, None, echo=lambda s: None, modality=modality,
                               init=init))
        return
    cols = [TextColumn("{task.description}"), BarColumn(),
            TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(), TimeRemainingColumn(),
            TextColumn("{task.fields[info]}")]
    with Progress(*cols, console=err, transient=False) as bar:
        tasks: dict[int, int] = {}

        def progress(stage: int, step: int, total: int, rec: dict) -> None:
            if stage not in tasks:
                label = "stage 1: autoencoder" if stage == 1 else "stage 2: prior"
                tasks[stage] = bar.add_task(label, total=total, info="")
            if stage == 1:
                quality = (f"psnr {rec['psnr_mixed']:.2f} dB" if "psnr_mixed" in rec
                           else f"mel {rec['mel']:.3f}")
                txt = (f"loss {rec['loss']:.4f}  {quality}  "
                       f"perplexity {'/'.join(str(round(p)) for p in rec['perplexity'])}")
            else:
                txt = f"{rec['bits']:.3f} bits/index"
            bar.update(tasks[stage], completed=step, info=txt)

        folder = _run(lambda: run_train(data, out_dir, preset, steps, prior_steps, batch_size,
                                        device, resume, name, seed, progress,
                                        echo=lambda s: bar.console.print(s, highlight=False),
                                        modality=modality, init=init))
    out.print(f"model written to {folder}; use it with --model {folder}", highlight=False)


@app.command()
def sample(
    output: Path = typer.Option(..., "--output", "-o", help="Image file for the grid of samples."),
    model: str | None = ModelOpt,
    n: int = typer.Option(16, "-n", min=1, max=256, help="How many samples."),
    size: int = typer.Option(128, "--size", min=8, max=2048, help="Side of each sample (px)."),
    seed: int = typer.Option(0, "--seed", help="Random seed: the same seed, the same samples."),
    temperature: float = typer.Option(1.0, "--temperature", min=0.05, max=10.0,
                                      help="Below 1: more likely codes; above 1: more varied."),
    force: bool = ForceOpt,
    device: str = DeviceOpt,
) -> None:
    """Draw new images from a model's prior (ancestral sampling) into one grid image."""
    from . import media
    from .api import resolve_device
    from .files import check_output
    from .models import load_model
    from .sample import grid, sample_images

    def go():
        check_output(None, output, force)
        if media.modality_of(output) != "image":
            raise ValueError(f"unsupported output format {output.suffix!r} (use .png, .jpg, ...)")
        lm = load_model(model, resolve_device(device))
        media.save_image(grid(sample_images(lm, n, size, size, seed, temperature)), output)

    _run(go)
    out.print(f"{n} samples from the prior -> {output}", highlight=False)


bench_app = typer.Typer(no_args_is_help=True, help="Rate-distortion benchmarks (needs the `bench` "
                                                   "extra: pip install -e '.[bench]').")
app.add_typer(bench_app, name="bench")


@bench_app.command("images")
def bench_images(
    folder: Path = typer.Argument(..., help="Folder of test images, e.g. ../shared/data/kodak."),
    model: list[str] | None = typer.Option(None, "--model", "-m",
                                              help="Model(s) to measure; default: all shipped "
                                                   "image models."),
    json_out: Path | None = typer.Option(None, "--json", help="Write the full results here."),
    plot_out: Path | None = typer.Option(None, "--plot", help="Write an RD plot (PNG) here."),
    limit: int | None = typer.Option(None, help="Use only the first N images."),
    codecs: str = typer.Option("jpeg,webp,avif", help="Classical codecs to compare against."),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda or auto."),
) -> None:
    """Bits per pixel, PSNR, MS-SSIM and timings of every model rate vs JPEG/WebP/AVIF, BD-rates."""
    from rich.table import Table

    from . import bench
    from .api import resolve_device

    if not folder.is_dir():
        _fail(f"no such folder: {folder}")
    dev = resolve_device(device)
    res = _run(lambda: bench.main(folder, model or None, json_out, plot_out, limit,
                                  tuple(c for c in codecs.split(",") if c), dev))
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
    json_out: Path | None = typer.Option(None, "--json", "--out", help="Write the results here."),
    plot_out: Path | None = typer.Option(None, "--plot", help="Write an RD plot (PNG) here."),
    limit: int | None = typer.Option(None, help="Use only the first N files."),
    opus_levels: str = typer.Option(",".join(map(str, (1.0, 0.99, 0.98, 0.97, 0.96, 0.95, 0.93,
                                                       0.9))),
                                    "--opus-levels", help="Opus compression levels to compare "
                                                          "against (empty: none)."),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda or auto."),
) -> None:
    """kbps, PESQ-WB, STOI and real-time factors of every model rate vs Opus (needs .[bench])."""
    from rich.table import Table

    from . import bench
    from .api import resolve_device

    if not folder.is_dir():
        _fail(f"no such folder: {folder}")
    try:
        levels = tuple(float(v) for v in opus_levels.split(",") if v.strip())
    except ValueError:
        _fail(f"bad --opus-levels {opus_levels!r}: expected numbers between 0 and 1")
    res = _run(lambda: bench.main_audio(folder, model or None, json_out, plot_out, limit,
                                        resolve_device(device), levels))

    def f(v, fmt):
        return "n/a" if v is None else format(v, fmt)

    t = Table("codec", "setting", "kbps", "PESQ-WB", "STOI", "enc RTF", "dec RTF")
    for p in res["points"]:
        t.add_row(p["codec"], p["setting"], f(p["kbps"], ".2f"), f(p["pesq"], ".3f"),
                  f(p["stoi"], ".3f"), f(p["enc_rtf"], ".3f"), f(p["dec_rtf"], ".3f"))
    out.print(t)


@bench_app.command("batch")
def bench_batch(
    folder: Path = typer.Argument(..., help="Folder of images (recursive)."),
    model: str | None = typer.Option(None, "--model", "-m", help="Model (default: shipped)."),
    limit: int | None = typer.Option(None, help="Use only the first N images."),
    batch_size: int | None = typer.Option(None, "--batch-size",
                                          help="Files per network pass (default: 8 GPU, 1 CPU)."),
    json_out: Path | None = typer.Option(None, "--json", help="Write the results here."),
    device: str = typer.Option("cpu", "--device", help="cpu or cuda."),
) -> None:
    """Throughput (files/s, MB/s) of folder compression vs one-file-at-a-time loops."""
    from . import bench

    if not folder.is_dir():
        _fail(f"no such folder: {folder}")
    res = _run(lambda: bench.bench_batch(folder, model, limit, batch_size, device=device))
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(res, indent=2))
    for k in ("loop_cli", "loop_in_process", "folder_job"):
        out.print(f"{k:>16}: {res[k + '_files_per_s']:.2f} files/s, "
                  f"{res[k + '_mb_per_s']:.2f} MB/s", highlight=False)
    out.print(f"speed-up of the folder job: {res['speedup_vs_cli_loop']:.1f}x vs a CLI loop, "
              f"{res['speedup_vs_in_process_loop']:.2f}x vs an in-process loop", highlight=False)


def main() -> None:
    """The `vqcodec` command. Once a command has finished (outputs written, closed and renamed
    into place), the process ends at once: letting the interpreter tear down torch's modules
    takes about 0.4 s, a quarter of a one-image decompress on a laptop core."""
    try:
        app()
    except SystemExit as e:
        code = e.code
    else:
        code = 0
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code or 0)


if __name__ == "__main__":
    main()
