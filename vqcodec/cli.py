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

from .naming import default_output, vqc_modality

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
    from .targets import TargetWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", MediaWarning)
        warnings.simplefilter("always", TargetWarning)
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
                if issubclass(w.category, (MediaWarning, TargetWarning)):
                    err.print(f"[yellow]warning:[/yellow] {w.message}", highlight=False,
                              soft_wrap=True)
    return result


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
BatchOpt = typer.Option(None, "--batch-size",  # checked by the job: one line, exit 1
                        help="Folders: files per network pass (default 8 on a GPU, 1 on CPU).")
JsonOpt = typer.Option(False, "--json", help="Print one JSON object on stdout (for a folder: "
                                               "the summary) instead of the usual line.")
StrictOpt = typer.Option(False, "--strict", help="A target the model cannot reach is an error "
                                                 "(exit 1, nothing written) instead of the "
                                                 "closest file and a warning.")
# Targets are read as text and checked by targets.Target: a bad value is one line, not a panel.
BppOpt = typer.Option(None, "--bpp", metavar="X",
                      help="Images: the best quality at most X bits per pixel.")
KbpsOpt = typer.Option(None, "--kbps", metavar="X", help="Audio: the best quality at most X "
                                                         "kbit/s.")
LayersOpt = typer.Option(None, "--layers", "-l", metavar="K",
                         help="Store only the first K layers: smaller, coarser.")
SizeOpt = typer.Option(None, "--max-size", help="The best quality that fits in this size: 20KB, "
                                                "1.5MiB, 3000 (B; KB/MB = 1000s, KiB/MiB = "
                                                "1024s).")
FormatOpt = typer.Option(None, "--format", help="With -o -: the format written to stdout, "
                                                "png|jpg|webp (images, default png) or "
                                                "wav|flac|ogg (audio, default wav).")
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
    _folder_report(summary, as_json, quiet)


def _folder_report(summary, as_json: bool, quiet: bool) -> None:
    """Print a folder job's summary (JSON, a table, or only the failures) and exit with its code."""
    from . import batch

    if as_json:
        sys.stdout.write(json.dumps(summary.to_json(), indent=2) + "\n")
    elif not quiet:
        batch.render(summary, out)
    elif summary.failed:
        for rel, why in summary.failures:
            err.print(f"FAILED {rel}: {why}", highlight=False, markup=False)
    raise typer.Exit(summary.exit_code)


def _emit(res: dict, line: str, as_json: bool, to_stdout: bool) -> None:
    """One JSON object on stdout, or the human line (on stderr when stdout carries the data)."""
    if as_json:
        sys.stdout.write(json.dumps(res) + "\n")
    else:
        (err if to_stdout else out).print(line, highlight=False, markup=False, soft_wrap=True)


def _layers(n: int) -> str:
    return f"{n} layer" + ("" if n == 1 else "s")


def _file_result(res: dict, src: Path, dst: Path, seconds: float, **extra) -> dict:
    """info() of a .vqc plus what a script wants: paths, rate, layers, elapsed_s (wall time;
    "seconds" is an audio file's duration, as in `vqcodec info`)."""
    rate = ("kbps", res["kbps"]) if "kbps" in res else ("bpp", res["bpp"])
    return dict(res, input=str(src), output=str(dst), layers=res["layers_stored"],
                rate=rate[1], rate_unit=rate[0], elapsed_s=round(seconds, 3), **extra)


def _check_pipes(input: Path, output: Path | None, as_json: bool) -> None:
    from .pipes import is_stdio

    if is_stdio(input) and output is None:
        _fail("reading standard input (-) needs -o FILE (or -o - for standard output)")
    if as_json and is_stdio(output):
        _fail("--json and -o - both write to standard output: use one of them")


def _folder_guard(output: Path | None, target) -> None:
    from .pipes import is_stdio

    if is_stdio(output):
        _fail("a folder cannot be written to standard output (-): give -o OUTPUT_FOLDER")
    if target is not None and target.kind != "layers":
        _fail(f"--{target.flag} is for one file at a time; folders take --layers")


@app.command()
def compress(
    input: Path = typer.Argument(..., help="Image file (PNG, JPEG, WebP, BMP, TIFF), audio file "
                                           "(WAV, FLAC, OGG), a folder (recursive; each "
                                           "a/b.png becomes a/b.png.vqc), or - for stdin."),
    output: Path | None = typer.Option(None, "--output", "-o",
                                       help="Output .vqc file (default: INPUT.vqc), - for "
                                            "stdout, or the output folder for a folder input."),
    model: str | None = ModelOpt,
    layers: str | None = LayersOpt,
    bpp: str | None = BppOpt,
    kbps: str | None = KbpsOpt,
    psnr: str | None = typer.Option(None, "--psnr", metavar="X", help="Images: the smallest file "
                                    "whose decoded PSNR reaches X dB (the encoder decodes to "
                                    "check)."),
    max_size: str | None = SizeOpt,
    strict: bool = StrictOpt,
    force: bool = ForceOpt,
    device: str = DeviceOpt,
    shard: str | None = ShardOpt,
    batch_size: int | None = BatchOpt,
    as_json: bool = JsonOpt,
    quiet: bool = QuietOpt,
) -> None:
    """Compress an image or audio file (or a folder of them) into .vqc files.

    Rate and quality: give at most one of --layers, --bpp, --kbps, --psnr, --max-size (a mix is
    refused). Below the lowest rate (or above the best PSNR) the model has, the closest file is
    written with a warning (--strict: an error). Folders: complete outputs are kept (rerun to
    resume), failures are listed and give exit 1."""
    from . import pipes, targets

    target = _run(lambda: targets.Target.from_options(layers, bpp, kbps, psnr, max_size))
    if not pipes.is_stdio(input) and input.is_dir():
        _folder_guard(output, target)
        _folder(input, output, True, model, None if target is None else int(target.value),
                force, shard, batch_size, device, as_json, quiet)
    _check_pipes(input, output, as_json)
    dst = output or default_output(input, True)
    t = time.time()

    def go():
        with pipes.stdin_path(input, pipes.MEDIA) as src, pipes.stdout_path(dst, ".vqc") as d, \
                _audio_progress(not quiet) as progress:
            return targets.compress_file(src, d, model, target, force, device, progress, strict)

    res = _file_result(_run(go), input, dst, time.time() - t)
    rate = f"{res['rate']:.2f} kbps" if res["rate_unit"] == "kbps" else f"{res['rate']:.3f} bpp"
    got = f", {res['psnr']:.2f} dB" if "psnr" in res else ""
    _emit(res, f"{input} -> {dst}: {res['bytes']} bytes, {rate}{got}, {_layers(res['layers'])}, "
               f"{res['elapsed_s']:.2f} s", as_json, pipes.is_stdio(dst))


@app.command()
def decompress(
    input: Path = typer.Argument(..., help="A .vqc file, a folder of them, or - for stdin."),
    output: Path | None = typer.Option(None, "--output", "-o",
                                       help="Output image or audio file; its extension picks "
                                            "the format. Default: INPUT without .vqc (or .png / "
                                            ".wav). - for stdout (see --format). For a folder: "
                                            "the output folder."),
    model: str | None = typer.Option(None, "--model", "-m",
                                        help="Model folder or name; default: the shipped model "
                                             "the file was made with."),
    layers: int | None = typer.Option(None, "--layers", "-l",
                                         help="Decode only the first K stored layers."),
    fmt: str | None = FormatOpt,
    force: bool = ForceOpt,
    device: str = DeviceOpt,
    shard: str | None = ShardOpt,
    batch_size: int | None = BatchOpt,
    as_json: bool = JsonOpt,
    quiet: bool = QuietOpt,
) -> None:
    """Decompress a .vqc file (or a folder of them) back to images or audio."""
    from . import api, pipes

    _run(lambda: pipes.check_format(fmt))
    if fmt is not None and not pipes.is_stdio(output):
        _fail("--format is for -o - (standard output); with a file name its extension picks "
              "the format")
    if not pipes.is_stdio(input) and input.is_dir():
        _folder_guard(output, None)
        _folder(input, output, False, model, layers, force, shard, batch_size, device, as_json,
                quiet)
    _check_pipes(input, output, as_json)
    t = time.time()

    def go():
        with pipes.stdin_path(input, (".vqc",)) as src:
            audio = vqc_modality(src, True) == "audio"
            ext = "." + (pipes.check_format(fmt, "audio" if audio else "image")
                         or ("wav" if audio else "png"))
            dst = output or default_output(input, False)
            with pipes.stdout_path(dst, ext) as d, _audio_progress(not quiet) as progress:
                res = api.decompress_file(src, d, model, layers, force, device, progress)
                return dst, res, d.stat().st_size

    dst, res, size = _run(go)
    res = _file_result(res, input, dst, time.time() - t, output_bytes=size)
    what = (f"{res['sample_rate']} Hz, {res['channels']} ch, {res['seconds']:.2f} s audio"
            if res["modality"] == "audio" else f"{res['width']}x{res['height']}")
    _emit(res, f"{input} -> {dst}: {what}, {size} bytes, {time.time() - t:.2f} s", as_json,
          pipes.is_stdio(dst))


@app.command()
def truncate(
    input: Path = typer.Argument(..., help="A .vqc file, or - for stdin."),
    output: Path = typer.Option(..., "--output", "-o", help="The cut .vqc file, or - for stdout."),
    layers: str | None = typer.Option(None, "--layers", "-l", metavar="K",
                                      help="Keep the first K layers."),
    bpp: str | None = BppOpt,
    kbps: str | None = KbpsOpt,
    max_size: str | None = SizeOpt,
    psnr: str | None = typer.Option(None, "--psnr", hidden=True),  # refused in one line
    strict: bool = StrictOpt,
    force: bool = ForceOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Cut a .vqc file down to fewer layers, without re-encoding (no model needed).

    The result is byte-identical to `compress --layers K` of the same input. Give one of
    --layers, --bpp, --kbps, --max-size."""
    from . import pipes, targets

    target = _run(lambda: targets.Target.from_options(layers, bpp, kbps, psnr, max_size))
    if target is not None and target.kind == "psnr":
        _fail("--psnr needs the original image: use it with compress, not truncate")
    if target is None:
        _fail("give one of --layers, --bpp, --kbps, --max-size")
    _check_pipes(input, output, as_json)
    t = time.time()

    def go():
        with pipes.stdin_path(input, (".vqc",)) as src, pipes.stdout_path(output, ".vqc") as d:
            return targets.truncate_file(src, d, target, force, strict)

    res = _file_result(_run(go), input, output, time.time() - t)
    rate = f"{res['rate']:.2f} kbps" if res["rate_unit"] == "kbps" else f"{res['rate']:.3f} bpp"
    _emit(res, f"{input} -> {output}: {res['bytes']} bytes, {rate}, {_layers(res['layers'])}",
          as_json, pipes.is_stdio(output))


@app.command()
def info(
    input: Path = typer.Argument(..., help="A .vqc file, or - for stdin."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
) -> None:
    """Show a .vqc header: model, size, layers, bytes per layer, bpp."""
    from . import api, pipes

    def go():
        with pipes.stdin_path(input, (".vqc",)) as src:
            api.check_vqc_input(src)  # /dev/zero, a FIFO, a link loop: the reason, not "no such"
            return api.info(src.read_bytes())

    res = _run(go)
    if as_json:
        sys.stdout.write(json.dumps(dict(res, input=str(input))) + "\n")
        return
    for k, v in res.items():
        out.print(f"{k:>24}: {v}", highlight=False)


@app.command()
def models(as_json: bool = typer.Option(False, "--json", help="Print a JSON list."),
           show_all: bool = typer.Option(False, "--all", help="Also the models kept only so that "
                                         "old files decode (earlier defaults, training parents).")
           ) -> None:
    """The models to pick from: the default per kind of input and the models useful on their own.

    Every model that has ever been a default keeps shipping (so every .vqc ever made decodes);
    --all lists those too."""
    from .cards import model_cards

    ms = model_cards(show_all)
    if as_json:
        sys.stdout.write(json.dumps(ms, indent=2) + "\n")
        return
    from rich.table import Table

    t = Table("name", "modality", "default", "rates", "what it is for")
    for m in ms:
        t.add_row(m["name"], m["modality"], "yes" if m["default"] else "", m["rates"],
                  m["summary"])
    out.print(t)
    if not show_all:
        out.print("(--all also lists the earlier models kept so that their files decode)",
                  highlight=False, markup=False)


@app.command()
def codes(
    input: Path = typer.Argument(..., help="An image or audio file (encoder + quantizer), a .vqc "
                                           "file (entropy decoding only), a folder of them, or "
                                           "- for stdin."),
    output: Path = typer.Option(..., "--output", "-o", help="Output .npz (- for stdout), or the "
                                "output folder (a/b.png and a/b.png.vqc give a/b.png.npz)."),
    model: str | None = ModelOpt,
    force: bool = ForceOpt,
    device: str = DeviceOpt,
    as_json: bool = JsonOpt,
    quiet: bool = QuietOpt,
) -> None:
    """Write the HR-VQ indices (uint16, per segment: layers x h x w) with the model and geometry.

    Read them with vqcodec.read_codes(path); vqcodec.data.VQCDataset trains on .vqc folders."""
    from . import batch, pipes
    from . import codes as codes_mod
    from .files import check_output

    if not pipes.is_stdio(input) and input.is_dir():
        _folder_guard(output, None)
        with ExitStack() as stack:
            progress = None if quiet or as_json else (
                lambda total: stack.enter_context(batch.progress_bar(err, total))[1])
            summary = _run(lambda: codes_mod.folder_codes(input, output, model, force, device,
                                                          progress))
        _folder_report(summary, as_json, quiet)
    _check_pipes(input, output, as_json)
    t = time.time()

    def go():
        with pipes.stdin_path(input) as src, pipes.stdout_path(output, ".npz") as d:
            check_output(src, d, force)
            c = codes_mod.codes_of_file(src, model, device)
            codes_mod.write_codes(c, d)
            return dict(c.meta(), input=str(input), output=str(output), bytes=d.stat().st_size)

    res = _run(go)
    res["elapsed_s"] = round(time.time() - t, 3)
    shapes = sorted({"x".join(map(str, sh)) for sh in res["segment_shapes"]})
    _emit(res, f"{input} -> {output}: {res['segments']} segment(s) of {', '.join(shapes)} "
               f"indices ({res['model']}), {res['bytes']} bytes, {res['elapsed_s']:.2f} s", as_json,
          pipes.is_stdio(output))


@app.command()
def train(
    data: Path = typer.Option(..., "--data", "-d", help="Folder of training images or audio "
                                                        "files (recursive)."),
    out_dir: Path = typer.Option(..., "--out", "-o", help="Folder for the model, log and checkpoints."),
    preset: str | None = typer.Option(None, help="Architecture and schedule. Images: small "
                                                 "(default), photo (the small architecture "
                                                 "fine-tuned: use with --init photo-small), "
                                                 "cifar, cifar-flat, mnist (32x32 / 28x28 "
                                                 "sets), tiny (seconds; for tests). Audio: "
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
    """Train a codec on your own folder of images or audio; then use it with --model OUT.

    For samples that look like the data, train a sampling prior on the model afterwards:
    `vqcodec train-sampler --model OUT ...`."""
    from rich.progress import (
        BarColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from .train import TrainConfig
    from .train import train as run_train

    if not data.is_dir():
        _fail(f"no such folder: {data}")
    if (out_dir / "config.json").exists() and not resume:
        _fail(f"{out_dir} already holds a model (use another --out, or --resume)")

    def config() -> TrainConfig:  # its errors (unknown preset, ...) are the run's, in _run
        return TrainConfig.from_preset(
            data, out_dir, preset, steps=steps, prior_steps=prior_steps, batch_size=batch_size,
            modality=modality, device=device, resume=resume, name=name, seed=seed, init=init)

    if int(os.environ.get("RANK", "0")) != 0:  # under torchrun only rank 0 reports
        _run(lambda: run_train(config(), echo=lambda s: None))
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

        folder = _run(lambda: run_train(config(), progress=progress,
                                        echo=lambda s: bar.console.print(s, highlight=False)))
    out.print(f"model written to {folder}; use it with --model {folder}", highlight=False)


@app.command("train-sampler")
def train_sampler(
    model: str = typer.Option(..., "--model", "-m", help="The model whose codes the sampler "
                              "learns (a shipped name or a folder)."),
    data: Path = typer.Option(..., "--data", "-d", help="An .npz (x_train, y_train, x_test, "
                              "y_test, label_names: the labels are the classes) or a folder "
                              "of images (subfolder names are the classes; 5 % held out)."),
    out_dir: Path = typer.Option(..., "--out", "-o", help="Run folder: codes, checkpoints, "
                                 "train_log.jsonl and the finished sampler."),
    into: Path | None = typer.Option(None, "--into", help="When done, install the sampler in "
                                     "this model folder (the --model's own), where `vqcodec "
                                     "sample` finds it."),
    preset: str = typer.Option("cifar", help="Architecture and schedule: cifar (3 layers of "
                               "32x32 codes), cifar-flat (one layer of 512 words), mnist (14x14, "
                               "no mirrored images), tiny (seconds; for tests)."),
    steps: int | None = typer.Option(None, help="Training steps (default: the preset's)."),
    batch_size: int | None = typer.Option(None, help="Code grids per step."),
    resume: bool = typer.Option(False, "--resume", help="Continue from OUT/checkpoint.pt "
                                "(the step count goes on; --steps may raise the total)."),
    no_labels: bool = typer.Option(False, "--no-labels", help="Ignore the data's classes."),
    size: int | None = typer.Option(None, "--size", min=8, max=512, help="Folders: centre-crop "
                                    "and resize every image to this side."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="Only the first N train and "
                                     "test images (smoke runs)."),
    seed: int = typer.Option(0, help="Random seed."),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda or auto."),
) -> None:
    """Train a sampling prior (autoregressive gated PixelCNN) on a model's codes, for `vqcodec
    sample`. The model itself is not changed: its identity and files stay as they are."""
    from .train_sampler import train_sampler as run

    def progress(step: int, total: int, rec: dict) -> None:
        test = f", test {rec['test_bits']:.3f}" if "test_bits" in rec else ""
        err.print(f"step {step}/{total}: {rec['bits']:.3f} bits/index{test}, "
                  f"{rec['s_per_step']:.2f} s/step", highlight=False)

    folder = _run(lambda: run(model, data, out_dir, preset, steps, batch_size, resume, into, seed,
                              not no_labels, size, limit, device,
                              echo=lambda s: err.print(s, highlight=False), progress=progress))
    if into:
        out.print(f"sampler written to {folder} and installed in {into}; draw with `vqcodec "
                  f"sample --model {into}`", highlight=False)
    else:
        out.print(f"sampler written to {folder}; copy its sampler.json and sampler.safetensors "
                  "into the model folder (or train with --into) for `vqcodec sample`",
                  highlight=False)


@app.command()
def sample(
    output: Path = typer.Option(..., "--output", "-o", help="Image file for the grid of samples."),
    model: str | None = ModelOpt,
    n: int = typer.Option(16, "-n", min=1, max=256, help="How many samples."),
    size: int | None = typer.Option(None, "--size", min=8, max=2048, help="Checkerboard prior: "
                                    "the side of each sample (px, default 128). The sampling "
                                    "prior draws the size it was trained on."),
    seed: int = typer.Option(0, "--seed", help="Random seed: the same seed, the same samples."),
    temperature: float = typer.Option(1.0, "--temperature", min=0.05, max=10.0,
                                      help="Below 1: more likely codes; above 1: more varied."),
    top_k: int | None = typer.Option(None, "--top-k", min=1, help="Draw each index from its K "
                                     "most likely words only."),
    cls: str | None = typer.Option(None, "--class", help="Sampling prior: the class to draw "
                                   "(a name or a number; see the error for the list). Default: "
                                   "no class."),
    prior: str = typer.Option("auto", "--prior", help="auto (the sampling prior when the model "
                              "has one, else the checkerboard coding prior), sampler or "
                              "checkerboard."),
    force: bool = ForceOpt,
    device: str = DeviceOpt,
) -> None:
    """Draw new images into one grid image: from the model's sampling prior (autoregressive,
    `vqcodec train-sampler`) when it has one, else from its checkerboard coding prior."""
    from . import media
    from .devices import resolve_device
    from .files import check_output
    from .models import load_model
    from .sample import grid
    from .sample import sample as draw

    def go():
        check_output(None, output, force)
        if media.modality_of(output) != "image":
            raise ValueError(f"unsupported output format {output.suffix!r} (use .png, .jpg, ...)")
        lm = load_model(model, resolve_device(device))
        if lm.codec.modality != "image":
            raise ValueError(f"model {lm.name!r} is an {lm.codec.modality} model; sample draws "
                             "images (pass an image model with --model)")
        imgs, what = draw(lm, n, seed, temperature, top_k, cls, size, prior)
        media.save_image(grid(imgs), output)
        return what

    what = _run(go)
    if what["prior"] == "sampler":
        src = "the sampling prior (autoregressive)"
        src += f", class {what['classes'][0]}" if what["classes"] else ", no class"
    else:
        src = "the checkerboard coding prior"
    out.print(f"{n} samples from {src} -> {output} ({what['seconds']:.1f} s)", highlight=False)


bench_app = typer.Typer(no_args_is_help=True, help="Rate-distortion benchmarks (needs the `bench` "
                                                   "extra: pip install -e '.\\[bench]').")
app.add_typer(bench_app, name="bench")
# --json means JSON on stdout everywhere; a results file has its own option (it was --json PATH).
OutJsonOpt = typer.Option(None, "--out-json", help="Write the full results (JSON) to this file.")
BenchJsonOpt = typer.Option(False, "--json", help="Print the results as one JSON object on "
                                                  "stdout instead of the table.")


@bench_app.command("images")
def bench_images(
    folder: Path = typer.Argument(..., help="Folder of test images, e.g. ../shared/data/kodak."),
    model: list[str] | None = typer.Option(None, "--model", "-m",
                                              help="Model(s) to measure; default: all shipped "
                                                   "image models."),
    json_out: Path | None = OutJsonOpt,
    plot_out: Path | None = typer.Option(None, "--plot", help="Write an RD plot (PNG) here."),
    as_json: bool = BenchJsonOpt,
    limit: int | None = typer.Option(None, help="Use only the first N images."),
    codecs: str = typer.Option("jpeg,webp,avif", help="Classical codecs to compare against."),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda or auto."),
) -> None:
    """Bits per pixel, PSNR, MS-SSIM and timings of every model rate vs JPEG/WebP/AVIF, BD-rates."""
    from rich.table import Table

    from . import bench
    from .devices import resolve_device

    if not folder.is_dir():
        _fail(f"no such folder: {folder}")
    dev = resolve_device(device)
    res = _run(lambda: bench.main(folder, model or None, json_out, plot_out, limit,
                                  tuple(c for c in codecs.split(",") if c), dev))
    if as_json:
        sys.stdout.write(json.dumps(res) + "\n")
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
    plot_out: Path | None = typer.Option(None, "--plot", help="Write an RD plot (PNG) here."),
    as_json: bool = BenchJsonOpt,
    limit: int | None = typer.Option(None, help="Use only the first N files."),
    opus_levels: str = typer.Option(",".join(map(str, (1.0, 0.99, 0.98, 0.97, 0.96, 0.95, 0.93,
                                                       0.9))),
                                    "--opus-levels", help="Opus compression levels to compare "
                                                          "against (empty: none)."),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda or auto."),
) -> None:
    """kbps, PESQ-WB, STOI and real-time factors of every model rate vs Opus (needs .\\[bench])."""
    from rich.table import Table

    from . import bench
    from .devices import resolve_device

    if not folder.is_dir():
        _fail(f"no such folder: {folder}")
    try:
        levels = tuple(float(v) for v in opus_levels.split(",") if v.strip())
    except ValueError:
        _fail(f"bad --opus-levels {opus_levels!r}: expected numbers between 0 and 1")
    res = _run(lambda: bench.main_audio(folder, model or None, json_out, plot_out, limit,
                                        resolve_device(device), levels))
    if as_json:
        sys.stdout.write(json.dumps(res) + "\n")
        return

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
    json_out: Path | None = OutJsonOpt,
    as_json: bool = BenchJsonOpt,
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
    if as_json:
        sys.stdout.write(json.dumps(res) + "\n")
        return
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
