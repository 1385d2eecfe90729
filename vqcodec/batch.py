"""Folder-in, folder-out batch jobs: discovery, the plan (resume), and running it.

Generic on purpose (no torch here): the caller passes a ``process`` function that codes a group
of items. Outputs are written atomically by that function, so an existing output is either
complete or was damaged by something else; ``is_complete`` checks it either way, which is
what makes a rerun resume instead of redo.

Each output records its input's modification time as its own (``os.utime`` on the temporary
file before it is renamed into place, so an output is never complete without it; as ``cp -p``
and ``rsync -t`` do; the time taken before coding began). A rerun keeps an output
only if it is complete *and* its time still equals its input's, so an input changed (or
replaced, by an older or newer file) since it was coded is coded again and counted as
"re-coded". No manifest: every shard and machine sees the same outputs, and nothing else can go
stale. (Outputs written before this rule have a later time than their input: they are re-coded
once.)

Sharding across machines is shards.py; the results, their summary and their display are
batch_summary.py (both re-exported here).
"""

from __future__ import annotations

import contextlib
import os
import re
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from . import container
from .batch_summary import FileResult, Summary, progress_bar, render, summarize  # noqa: F401
from .errors import one_line
from .files import output_mtimes
from .media import modality_of
from .naming import DEFAULT_DECODED_EXT, VQC_EXT, output_name  # noqa: F401 (re-exported)
from .shards import parse_shard, shard  # noqa: F401 (re-exported)

# Temporary files of files.atomic_path: ".NAME.<8 hex>.tmp[.EXT]"; group 1 is NAME.
_TEMP_RE = re.compile(r"^\.(.+)\.[0-9a-f]{8}\.tmp(\.[^.]*)?$")


@dataclass
class Item:
    rel: Path  # relative to the input root
    src: Path  # absolute input path
    dst: Path  # absolute output path
    size: int  # input bytes
    mtime_ns: int | None = None  # input's modification time when planned; given to the output
    recode: bool = False  # a complete output existed but its input has changed since


def _is_temp(name: str) -> bool:
    return name.startswith(".") and (".tmp." in name or name.endswith(".tmp"))


def _wanted(name: str, compressing: bool) -> bool:
    if compressing:
        return modality_of(Path(name)) is not None
    return name.lower().endswith(VQC_EXT)


def discover(root: Path, compressing: bool, exclude: Path | None = None) -> tuple[list[Path], int]:
    """Sorted relative paths of the inputs under root, and how many other files were ignored."""
    root = Path(root)
    skip = Path(exclude).resolve() if exclude is not None else None
    found: list[Path] = []
    ignored = 0
    # os.walk does not follow symlinked folders, so a link cycle cannot make this run forever.
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        if skip is not None:
            dirnames[:] = [d for d in dirnames if (here / d).resolve() != skip]
        dirnames.sort()
        for name in filenames:
            if _is_temp(name):
                continue
            if _wanted(name, compressing):
                found.append((here / name).relative_to(root))
            else:
                ignored += 1
    found.sort(key=lambda p: p.as_posix())
    return found, ignored



def is_complete(dst: Path, compressing: bool) -> bool:
    """True if dst exists and reads back completely (a partial or corrupt output is redone)."""
    dst = Path(dst)
    if not dst.is_file():
        return False
    try:
        if compressing:
            container.unpack(dst.read_bytes())
        elif modality_of(dst) == "audio":
            import soundfile  # lazy: only decompressed audio needs it

            soundfile.read(str(dst))
        else:
            from PIL import Image

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    with Image.open(dst) as img:
                        img.load()
                except Image.DecompressionBombError:
                    # Header read fine; decoding a huge image only to check it is not worth it,
                    # and our outputs are written atomically anyway.
                    return True
    except Exception:
        return False
    return True


def is_fresh(src: Path, dst: Path) -> bool:
    """True if dst carries src's modification time (written for this very input, module doc)."""
    try:
        return Path(dst).stat().st_mtime_ns == Path(src).stat().st_mtime_ns
    except OSError:
        return False


def mark_fresh(it: Item) -> None:
    """Give it.dst the input's modification time recorded when it was planned."""
    if it.mtime_ns is not None:
        with contextlib.suppress(OSError):
            os.utime(it.dst, ns=(time.time_ns(), it.mtime_ns))


def clean_stale_temps(items: list[Item]) -> int:
    """Delete temp files left (by kill -9) beside these items' outputs; returns the count.

    Only temps whose target is one of our outputs: other shards may be writing in the same folders.
    """
    targets = {it.dst for it in items}
    removed = 0
    for folder in sorted({it.dst.parent for it in items}):
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            m = _TEMP_RE.match(name)
            if m and folder / m.group(1) in targets:
                with contextlib.suppress(OSError):
                    (folder / name).unlink()
                    removed += 1
    return removed




def folder_roots(src_root: Path, dst_root: Path) -> tuple[Path, Path]:
    """A folder job's input and output roots, absolute; checked that the input is a folder and
    that the output is another one (a job writing into its own input would find its outputs)."""
    src_root, dst_root = Path(src_root).absolute(), Path(dst_root).absolute()
    if not src_root.is_dir():
        raise ValueError(f"input folder not found: {src_root}")
    if src_root.resolve() == dst_root.resolve():
        raise ValueError("output folder must differ from the input folder")
    return src_root, dst_root


def plan(src_root: Path, dst_root: Path, compressing: bool, force: bool = False,
         shard_spec: str | None = None) -> tuple[list[Item], list[FileResult], int]:
    """Items to code, results for outputs already complete (skipped) or unusable, ignored count."""
    src_root, dst_root = folder_roots(src_root, dst_root)
    index, count = parse_shard(shard_spec)
    rels, ignored = discover(src_root, compressing, exclude=dst_root)
    # Name clashes (a/x.vqc and a/x.png.vqc) are found on the full list so every shard agrees.
    outs = {rel: output_name(rel, compressing, src_root / rel) for rel in rels}
    owner: dict[Path, Path] = {}
    for rel in rels:
        owner.setdefault(outs[rel], rel)
    items: list[Item] = []
    results: list[FileResult] = []
    for rel in shard(rels, index, count):
        try:
            st = (src_root / rel).stat()
            size, mtime = st.st_size, st.st_mtime_ns
        except OSError:
            size, mtime = 0, None  # e.g. a broken symlink; process() will report the real error
        out = outs[rel]
        if owner[out] != rel:
            results.append(FileResult(rel.as_posix(), "failed", size, 0, 0.0,
                                      f"output {out.as_posix()} is also the output of "
                                      f"{owner[out].as_posix()}; rename one of them"))
            continue
        items.append(Item(rel, src_root / rel, dst_root / out, size, mtime))
    clean_stale_temps(items)
    todo: list[Item] = []
    for it in items:
        if not force and is_complete(it.dst, compressing):
            if is_fresh(it.src, it.dst):
                results.append(FileResult(it.rel.as_posix(), "skipped", it.size,
                                          it.dst.stat().st_size, 0.0))
                continue
            it.recode = True
        todo.append(it)
    return todo, results, ignored




def _groups(items: list[Item], group_key: Callable[[Item], object] | None,
            batch_size: int) -> Iterator[list[Item]]:
    buckets: dict[object, list[Item]] = {}
    for it in items:
        try:
            key = group_key(it) if group_key is not None else None
        except Exception:
            key = object()  # alone in its group: process() will report why it is unreadable
        buckets.setdefault(key, []).append(it)
    for bucket in buckets.values():
        for i in range(0, len(bucket), batch_size):
            yield bucket[i : i + batch_size]


def run(items: list[Item], process: Callable[[list[Item]], list[tuple[int, str | None]]],
        group_key: Callable[[Item], object] | None = None, batch_size: int = 8,
        progress: Callable[[FileResult], None] | None = None) -> list[FileResult]:
    """Code items in groups of at most batch_size; failures are recorded, never fatal.

    If process() raises for a group, each item of it is retried alone, so one bad file does not
    fail its neighbours. KeyboardInterrupt is not caught (outputs are atomic).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    results: list[FileResult] = []

    def record(it: Item, out: int, err: str | None, seconds: float) -> None:
        r = FileResult(it.rel.as_posix(), "failed" if err is not None else "done", it.size,
                       0 if err is not None else int(out), seconds, err,
                       recoded=it.recode and err is None)
        if err is None:  # already stamped where process() wrote through files.atomic_path
            mark_fresh(it)  # (all of vqcodec's writers); this covers any other writer
        results.append(r)
        if progress is not None:
            progress(r)

    def attempt(group: list[Item]) -> None:
        t0 = time.perf_counter()
        try:
            outs = process(group)
            if len(outs) != len(group):
                raise RuntimeError(f"process returned {len(outs)} results for {len(group)} items")
        except Exception as e:
            if len(group) > 1:
                for it in group:
                    attempt([it])
            else:
                record(group[0], 0, one_line(e), time.perf_counter() - t0)
            return
        each = (time.perf_counter() - t0) / len(group)
        for it, (out, err) in zip(group, outs, strict=True):
            record(it, out, None if err is None else (" ".join(str(err).split()) or "failed"), each)

    with output_mtimes({it.dst: it.mtime_ns for it in items if it.mtime_ns is not None}):
        for group in _groups(items, group_key, batch_size):
            attempt(group)
    return results
