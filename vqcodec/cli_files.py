"""The commands on files: compress, decompress, truncate, info and codes, each for one file, a
pipe (-) or a folder (a mirrored folder out, through api.folder_job). Thin: the work is in
vqcodec.api, targets and codes; here are the options, the checks of their mix and the output."""

from __future__ import annotations

import time
from contextlib import ExitStack
from pathlib import Path

import typer

from .cli_options import (
    BatchOpt,
    BppOpt,
    DeviceOpt,
    ForceOpt,
    FormatOpt,
    JsonOpt,
    KbpsOpt,
    LayersOpt,
    ModelOpt,
    QuietOpt,
    ShardOpt,
    SizeOpt,
    StrictOpt,
)
from .cli_run import audio_progress, emit, err, fail, folder_progress, out, print_json, run
from .naming import default_output, vqc_modality


def _folder(input: Path, output: Path | None, compressing: bool, model, layers, force, shard,
            batch_size: int | None, device, as_json, quiet) -> None:
    """A folder in, a mirrored folder out; exit 1 if any file failed."""
    from . import api

    if output is None:
        fail("a folder input needs -o OUTPUT_FOLDER")
    with ExitStack() as stack:
        # The bar is opened by folder_job once it knows how many files there are to code.
        progress = folder_progress(stack, not (quiet or as_json))
        summary = run(lambda: api.folder_job(input, output, compressing, model, layers, force,
                                             shard, batch_size, device, progress))
    _folder_report(summary, as_json, quiet)


def _folder_report(summary, as_json: bool, quiet: bool) -> None:
    """Print a folder job's summary (JSON, a table, or only the failures) and exit with its code."""
    from . import batch

    if as_json:
        print_json(summary.to_json(), indent=2)
    elif not quiet:
        batch.render(summary, out)
    elif summary.failed:
        for rel, why in summary.failures:
            err.print(f"FAILED {rel}: {why}", highlight=False, markup=False)
    raise typer.Exit(summary.exit_code)


def _file_result(res: dict, src: Path, dst: Path, seconds: float, **extra) -> dict:
    """info() of a .vqc plus what a script wants: paths, rate, layers, elapsed_s (wall time;
    "seconds" is an audio file's duration, as in `vqcodec info`)."""
    rate = ("kbps", res["kbps"]) if "kbps" in res else ("bpp", res["bpp"])
    return dict(res, input=str(src), output=str(dst), layers=res["layers_stored"],
                rate=rate[1], rate_unit=rate[0], elapsed_s=round(seconds, 3), **extra)


def _layers(n: int) -> str:
    return f"{n} layer" + ("" if n == 1 else "s")


def _rate(res: dict) -> str:
    """A _file_result's rate as the human line shows it: kbps for audio, bpp for images."""
    return f"{res['rate']:.2f} kbps" if res["rate_unit"] == "kbps" else f"{res['rate']:.3f} bpp"


def _check_pipes(input: Path, output: Path | None, as_json: bool) -> None:
    from .pipes import is_stdio

    if is_stdio(input) and output is None:
        fail("reading standard input (-) needs -o FILE (or -o - for standard output)")
    if as_json and is_stdio(output):
        fail("--json and -o - both write to standard output: use one of them")


def _folder_guard(output: Path | None, target) -> None:
    from .pipes import is_stdio

    if is_stdio(output):
        fail("a folder cannot be written to standard output (-): give -o OUTPUT_FOLDER")
    if target is not None and target.kind != "layers":
        fail(f"--{target.flag} is for one file at a time; folders take --layers")


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

    target = run(lambda: targets.Target.from_options(layers, bpp, kbps, psnr, max_size))
    if not pipes.is_stdio(input) and input.is_dir():
        _folder_guard(output, target)
        _folder(input, output, True, model, None if target is None else int(target.value),
                force, shard, batch_size, device, as_json, quiet)
    _check_pipes(input, output, as_json)
    dst = output or default_output(input, True)
    t = time.time()

    def go():
        with pipes.stdin_path(input, pipes.MEDIA) as src, pipes.stdout_path(dst, ".vqc") as d, \
                audio_progress(not quiet) as progress:
            return targets.compress_file(src, d, model, target, force, device, progress, strict)

    res = _file_result(run(go), input, dst, time.time() - t)
    got = f", {res['psnr']:.2f} dB" if "psnr" in res else ""
    emit(res, f"{input} -> {dst}: {res['bytes']} bytes, {_rate(res)}{got}, {_layers(res['layers'])}, "
               f"{res['elapsed_s']:.2f} s", as_json, pipes.is_stdio(dst))


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

    run(lambda: pipes.check_format(fmt))
    if fmt is not None and not pipes.is_stdio(output):
        fail("--format is for -o - (standard output); with a file name its extension picks "
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
            with pipes.stdout_path(dst, ext) as d, audio_progress(not quiet) as progress:
                res = api.decompress_file(src, d, model, layers, force, device, progress)
                return dst, res, d.stat().st_size

    dst, res, size = run(go)
    res = _file_result(res, input, dst, time.time() - t, output_bytes=size)
    what = (f"{res['sample_rate']} Hz, {res['channels']} ch, {res['seconds']:.2f} s audio"
            if res["modality"] == "audio" else f"{res['width']}x{res['height']}")
    emit(res, f"{input} -> {dst}: {what}, {size} bytes, {time.time() - t:.2f} s", as_json,
          pipes.is_stdio(dst))


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

    target = run(lambda: targets.Target.from_options(layers, bpp, kbps, psnr, max_size))
    if target is not None and target.kind == "psnr":
        fail("--psnr needs the original image: use it with compress, not truncate")
    if target is None:
        fail("give one of --layers, --bpp, --kbps, --max-size")
    _check_pipes(input, output, as_json)
    t = time.time()

    def go():
        with pipes.stdin_path(input, (".vqc",)) as src, pipes.stdout_path(output, ".vqc") as d:
            return targets.truncate_file(src, d, target, force, strict)

    res = _file_result(run(go), input, output, time.time() - t)
    emit(res, f"{input} -> {output}: {res['bytes']} bytes, {_rate(res)}, {_layers(res['layers'])}",
          as_json, pipes.is_stdio(output))


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

    res = run(go)
    if as_json:
        print_json(dict(res, input=str(input)))
        return
    for k, v in res.items():
        out.print(f"{k:>24}: {v}", highlight=False)



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
    from . import codes as codes_mod
    from . import pipes
    from .files import check_output

    if not pipes.is_stdio(input) and input.is_dir():
        _folder_guard(output, None)
        with ExitStack() as stack:
            progress = folder_progress(stack, not (quiet or as_json))
            summary = run(lambda: codes_mod.folder_codes(input, output, model, force, device,
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

    res = run(go)
    res["elapsed_s"] = round(time.time() - t, 3)
    shapes = sorted({"x".join(map(str, sh)) for sh in res["segment_shapes"]})
    emit(res, f"{input} -> {output}: {res['segments']} segment(s) of {', '.join(shapes)} "
               f"indices ({res['model']}), {res['bytes']} bytes, {res['elapsed_s']:.2f} s", as_json,
          pipes.is_stdio(output))


