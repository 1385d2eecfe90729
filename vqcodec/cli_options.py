"""The command line's shared options, defined once so that every command that takes one spells
and explains it the same way (flags, help texts). Typer only: importing this loads nothing else."""

from __future__ import annotations

import typer

ModelOpt = typer.Option(None, "--model", "-m",
                        help="Shipped model name (see `vqcodec models`) or a model folder. "
                             "Default: the shipped default for the input's kind; audio: "
                             "speech-stft up to 16 kHz, music-stft-2 (where installed) for "
                             "audio sampled above 16 kHz. Speech above 6 kbps: speech-stft-3 "
                             "(~7.5 kbps with its default 2 layers, up to ~15.5).")
DeviceOpt = typer.Option("auto", "--device", help="auto (CUDA if present), cpu or cuda.")
# Training and benchmarks run where they are told: the CPU unless asked.
CpuDeviceOpt = typer.Option("cpu", "--device", help="cpu, cuda or auto.")
ForceOpt = typer.Option(False, "--force", "-f", help="Overwrite an existing output file.")
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
                         help="Store only the first K layers: smaller, coarser. "
                              "Default: all, or the model's own default (music-stft-2: 2).")
SizeOpt = typer.Option(None, "--max-size", help="The best quality that fits in this size: 20KB, "
                                                "1.5MiB, 3000 (B; KB/MB = 1000s, KiB/MiB = "
                                                "1024s).")
FormatOpt = typer.Option(None, "--format", help="With -o -: the format written to stdout, "
                                                "png|jpg|webp (images, default png) or "
                                                "wav|flac|ogg (audio, default wav).")
QuietOpt = typer.Option(False, "--quiet", "-q", help="No progress bar (and for folders no "
                                                       "table).")

# Benchmarks. --json means JSON on stdout everywhere; a results file has its own option (it was
# --json PATH).
OutJsonOpt = typer.Option(None, "--out-json", help="Write the full results (JSON) to this file.")
BenchJsonOpt = typer.Option(False, "--json", help="Print the results as one JSON object on "
                                                  "stdout instead of the table.")
PlotOpt = typer.Option(None, "--plot", help="Write an RD plot (PNG) here.")
