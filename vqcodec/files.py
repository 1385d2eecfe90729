"""Safe output files: never overwrite an input, never an existing output without force, and
never leave a partial file behind (write a temporary file in the same folder, then rename).

Temporary files are named ``.NAME.<8 hex>.tmp.EXT`` (``.NAME.<8 hex>.tmp`` when NAME has no
extension); batch.py recognises and skips leftovers of that shape, so keep the two in step.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

# Modification times to give outputs before they are renamed into place (see output_mtimes).
_MTIMES: dict[Path, int] = {}


@contextlib.contextmanager
def output_mtimes(mtimes: dict[Path, int]) -> Iterator[None]:
    """Within the block, atomic_path gives each of these outputs its time (ns) *before* the
    rename: a batch job's output carries its input's time (batch.py), and set afterwards a kill
    between the rename and the stamp would leave a complete output that looks stale."""
    _MTIMES.update({Path(k): v for k, v in mtimes.items()})
    try:
        yield
    finally:
        for k in mtimes:
            _MTIMES.pop(Path(k), None)


class OutputExistsError(FileExistsError):
    """The output exists and --force was not given, is a directory, or is the input itself."""


def _same_file(a: Path, b: Path) -> bool:
    # samefile sees through symlinks, hard links and different spellings, but needs both to exist;
    # otherwise compare the resolved paths (dst may not exist yet).
    with contextlib.suppress(OSError):
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    try:
        return a.resolve() == b.resolve()
    except (OSError, RuntimeError):  # a symlink loop (RuntimeError before Python 3.13)
        return False


def check_output(src: Path | None, dst: Path, force: bool) -> None:
    """Refuse to write dst over the input (always, even with force), over a directory, over a
    broken symbolic link or symlink loop (renaming onto it would replace the link, not write
    where it points), or over an existing file unless force. Raises OutputExistsError with a
    one-line message."""
    dst = Path(dst)
    if dst.is_symlink() and not dst.exists():
        raise OutputExistsError(f"output is a broken symbolic link or a symlink loop: {dst}")
    if src is not None and _same_file(Path(src), dst):
        raise OutputExistsError(f"refusing to overwrite the input file {dst}")
    if dst.is_dir():
        # force cannot help here: os.replace cannot put a file over a directory.
        raise OutputExistsError(f"output is a directory: {dst}")
    if dst.exists() and not force:
        raise OutputExistsError(f"output exists: {dst} (use --force to overwrite)")


def _temp_name(dst: Path) -> Path:
    # Same folder, so os.replace is an atomic rename on one filesystem; the real suffix is kept at
    # the end so writers that choose a format from the extension still work.
    return dst.with_name(f".{dst.name}.{secrets.token_hex(4)}.tmp{dst.suffix}")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)  # fsync works on a read-only descriptor on POSIX
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    # Makes the rename itself durable; best effort, as some systems cannot open a directory.
    with contextlib.suppress(OSError):
        _fsync(folder)


@contextlib.contextmanager
def atomic_path(dst: Path) -> Iterator[Path]:
    """Yield a temporary path beside dst for the caller to write. On normal exit the file is
    fsynced and renamed onto dst; on any exception it is removed and the exception re-raised.
    Creates dst's folder if missing."""
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_name(dst)
    try:
        yield tmp
        if dst in _MTIMES:
            os.utime(tmp, ns=(time.time_ns(), _MTIMES[dst]))
        _fsync(tmp)
        os.replace(tmp, dst)
    except BaseException:
        # BaseException too: Ctrl-C mid-write must not leave a half-written temp file.
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(dst.parent)


def atomic_write_bytes(dst: Path, data: bytes) -> None:
    """Write data to dst atomically. A failure such as a full disk (ENOSPC) propagates as
    OSError and leaves neither dst (if it did not exist) nor a temporary file."""
    with atomic_path(dst) as tmp:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            view = memoryview(data)
            while view:  # os.write may write less than asked
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
