"""A folder job's results: one FileResult per input, the Summary of a run (counts, bytes, the
failures, its --json form and exit code), and how a terminal shows them (a table, a progress
bar of files done with files/s)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text


@dataclass
class FileResult:
    rel: str
    status: str  # "done" | "skipped" | "failed"
    bytes_in: int
    bytes_out: int
    seconds: float
    error: str | None = None
    recoded: bool = False  # done again because the input changed since its output was made


@dataclass
class Summary:
    files: int  # done + skipped + failed
    done: int
    skipped: int
    failed: int
    ignored: int  # not media by extension
    bytes_in: int  # of the done files only, so that the ratio describes this run's work
    bytes_out: int
    seconds: float
    failures: list[tuple[str, str]] = field(default_factory=list)
    shard: tuple[int, int] = (0, 1)
    recoded: int = 0  # of `done`: outputs redone because their input changed

    def ratio(self) -> float:
        return self.bytes_in / self.bytes_out if self.bytes_out else 0.0

    def files_per_second(self) -> float:
        return (self.done + self.failed) / self.seconds if self.seconds > 0 else 0.0

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["failures"] = [{"path": p, "error": e} for p, e in self.failures]
        d["shard"] = list(self.shard)
        d["ratio"] = self.ratio()
        d["files_per_second"] = self.files_per_second()
        d["exit_code"] = self.exit_code
        return d



def summarize(results: list[FileResult], ignored: int, seconds: float,
              shard: tuple[int, int] = (0, 1)) -> Summary:
    done = [r for r in results if r.status == "done"]
    failed = sorted((r for r in results if r.status == "failed"), key=lambda r: r.rel)
    return Summary(
        files=len(results), done=len(done), skipped=sum(r.status == "skipped" for r in results),
        failed=len(failed), ignored=ignored, bytes_in=sum(r.bytes_in for r in done),
        bytes_out=sum(r.bytes_out for r in done), seconds=seconds,
        failures=[(r.rel, r.error or "failed") for r in failed], shard=(shard[0], shard[1]),
        recoded=sum(r.recoded for r in done),
    )


def render(summary: Summary, console: Console) -> None:
    s = summary
    title = "batch" if s.shard[1] == 1 else f"batch, shard {s.shard[0]}/{s.shard[1]}"
    table = Table(title=title, show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    for name, value in (
        ("files", s.files), ("done", s.done), ("re-coded (input changed)", s.recoded),
        ("skipped", s.skipped), ("ignored", s.ignored),
        ("failed", s.failed), ("bytes in", f"{s.bytes_in:,}"), ("bytes out", f"{s.bytes_out:,}"),
        ("ratio", f"{s.ratio():.2f}"), ("seconds", f"{s.seconds:.1f}"),
        ("files/s", f"{s.files_per_second():.2f}"),
    ):
        table.add_row(name, str(value), style="red" if name == "failed" and s.failed else None)
    console.print(table)
    for rel, reason in s.failures:
        console.print(Text(f"FAILED {rel}: {reason}", style="red"))  # Text: no markup in file names


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        return Text(f"{task.speed:.1f} files/s" if task.speed else "- files/s")


@contextlib.contextmanager
def progress_bar(console: Console, total: int) -> Iterator[tuple[Progress, Callable[[FileResult], None]]]:
    """A bar of files done/total with files/s and ETA; feed the callback each FileResult."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), _RateColumn(),
               TimeRemainingColumn())
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("coding", total=total)
        failed = 0

        def advance(result: FileResult) -> None:
            nonlocal failed
            failed += result.status == "failed"
            bar.update(task, advance=1, description=f"coding ({failed} failed)" if failed else "coding")

        yield bar, advance
