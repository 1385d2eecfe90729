"""The commands on models themselves: list them (models), train one on your own data (train),
train the sampling prior of one (train-sampler) and draw new images from one (sample)."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from .cli_options import CpuDeviceOpt, DeviceOpt, ForceOpt, ModelOpt
from .cli_run import err, fail, out, print_json, run


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
        print_json(ms, indent=2)
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
    stop_at: int | None = typer.Option(None, "--stop-at", min=1,
                                       help="End stage 1 after this step with a checkpoint, so a "
                                            "long run goes in chunks: --resume continues it."),
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
        fail(f"no such folder: {data}")
    if (out_dir / "config.json").exists() and not resume:
        fail(f"{out_dir} already holds a model (use another --out, or --resume)")

    def config() -> TrainConfig:  # its errors (unknown preset, ...) are the run's, in run
        return TrainConfig.from_preset(
            data, out_dir, preset, steps=steps, prior_steps=prior_steps, batch_size=batch_size,
            modality=modality, device=device, resume=resume, name=name, seed=seed, init=init,
            stop_at=stop_at)

    if int(os.environ.get("RANK", "0")) != 0:  # under torchrun only rank 0 reports
        run(lambda: run_train(config(), echo=lambda s: None))
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

        folder = run(lambda: run_train(config(), progress=progress,
                                       echo=lambda s: bar.console.print(s, highlight=False)))
    if not (folder / "config.json").exists():  # --stop-at ended this chunk
        out.print(f"stopped at step {stop_at}; continue with --resume (checkpoint in {folder})",
                  highlight=False)
        return
    out.print(f"model written to {folder}; use it with --model {folder}", highlight=False)


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
    device: str = CpuDeviceOpt,
) -> None:
    """Train a sampling prior (autoregressive gated PixelCNN) on a model's codes, for `vqcodec
    sample`. The model itself is not changed: its identity and files stay as they are."""
    from .train_sampler import train_sampler as run_sampler

    def progress(step: int, total: int, rec: dict) -> None:
        test = f", test {rec['test_bits']:.3f}" if "test_bits" in rec else ""
        err.print(f"step {step}/{total}: {rec['bits']:.3f} bits/index{test}, "
                  f"{rec['s_per_step']:.2f} s/step", highlight=False)

    folder = run(lambda: run_sampler(model, data, out_dir, preset, steps, batch_size, resume, into,
                                     seed, not no_labels, size, limit, device,
                                     echo=lambda s: err.print(s, highlight=False),
                                     progress=progress))
    if into:
        out.print(f"sampler written to {folder} and installed in {into}; draw with `vqcodec "
                  f"sample --model {into}`", highlight=False)
    else:
        out.print(f"sampler written to {folder}; copy its sampler.json and sampler.safetensors "
                  "into the model folder (or train with --into) for `vqcodec sample`",
                  highlight=False)


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

    what = run(go)
    if what["prior"] == "sampler":
        src = "the sampling prior (autoregressive)"
        src += f", class {what['classes'][0]}" if what["classes"] else ", no class"
    else:
        src = "the checkerboard coding prior"
    out.print(f"{n} samples from {src} -> {output} ({what['seconds']:.1f} s)", highlight=False)

