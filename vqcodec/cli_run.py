"""What every command of the command line shares: its two consoles (results on stdout, messages
on stderr), one-line errors and warnings, JSON output and progress bars.

The modules behind a command are imported inside these helpers and the commands, not at the
top: `vqcodec --help` and `vqcodec info` must not pay for torch's start-up."""

from __future__ import annotations

import json
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console

out = Console()
err = Console(stderr=True)

LONG_AUDIO_S = 30.0  # audio longer than this shows a progress bar

T = TypeVar("T")


def fail(msg: str, code: int = 1) -> NoReturn:
    """End the command with one line on stderr and exit code `code`."""
    err.print(f"[red]error:[/red] {msg}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def run(fn: Callable[[], T]) -> T:
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
            fail(str(e) or type(e).__name__)
        except OSError as e:
            fail(f"{e.strerror or e}: {e.filename}" if e.filename else str(e))
        except KeyboardInterrupt:
            fail("interrupted", 130)
        finally:
            for w in caught:
                if issubclass(w.category, (MediaWarning, TargetWarning)):
                    err.print(f"[yellow]warning:[/yellow] {w.message}", highlight=False,
                              soft_wrap=True)
    return result


def print_json(obj: Any, indent: int | None = None) -> None:
    """One JSON document on stdout (written directly: no console wrapping or markup)."""
    sys.stdout.write(json.dumps(obj, indent=indent) + "\n")


def emit(res: dict, line: str, as_json: bool, to_stdout: bool) -> None:
    """One JSON object on stdout, or the human line (on stderr when stdout carries the data)."""
    if as_json:
        print_json(res)
    else:
        (err if to_stdout else out).print(line, highlight=False, markup=False, soft_wrap=True)


@contextmanager
def audio_progress(enabled: bool) -> Iterator[Callable[[float, float], None]]:
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


def folder_progress(stack: ExitStack, enabled: bool) -> Callable[[int], Callable] | None:
    """For a folder job: a function that opens a files-done bar (on stderr, closed with
    `stack`) once the job knows how many files it has, and returns the bar's callback."""
    from . import batch

    if not enabled:
        return None
    return lambda total: stack.enter_context(batch.progress_bar(err, total))[1]
