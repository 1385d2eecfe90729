"""Command line: a thin Typer layer over vqcodec.api. Errors are one line on stderr, exit code 1.

This module is the app and the entry point (`vqcodec = vqcodec.cli:main`); the commands live by
what they work on, and the options and helpers they share have one home each::

    cli_files    compress, decompress, truncate, info, codes (files, pipes and folders)
    cli_models   models, train, train-sampler, sample
    cli_bench    the `bench` group: images, audio, batch
    cli_options  the options several commands take;  cli_run  consoles, one-line errors, JSON
"""

from __future__ import annotations

import os
import sys

import typer

from .cli_bench import bench_app
from .cli_files import codes, compress, decompress, info, truncate
from .cli_models import models, sample, train, train_sampler
from .cli_run import err, out  # noqa: F401 (the consoles, as they were here)

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="vqcodec: learned compression of images and audio with HR-VQVAE, a "
                       "bit-exact PixelCNN prior and rANS. Files end in .vqc.")
# Registered here, in this order, so that `vqcodec --help` lists them as it always has.
app.command()(compress)
app.command()(decompress)
app.command()(truncate)
app.command()(info)
app.command()(models)
app.command()(codes)
app.command()(train)
app.command("train-sampler")(train_sampler)
app.command()(sample)
app.add_typer(bench_app, name="bench")


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
