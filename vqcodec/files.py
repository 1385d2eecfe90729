"""Safe output files: never overwrite an input, never an existing output without force, and
never leave a partial file (write to a temporary file in the same folder, then rename)."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path


class OutputExistsError(FileExistsError):
    """The output exists and --force was not given, or it is the input itself."""


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def check_output(src: Path | None, dst: Path, force: bool) -> None:
    """Refuse to write dst over the input (always) or over an existing file (unless force)."""
    dst = Path(dst)
    if src is not None and _same_file(Path(src), dst):
        raise OutputExistsError(f"refusing to overwrite the input file {dst}")
    if dst.is_dir():
        raise OutputExistsError(f"output is a directory: {dst}")
    if dst.exists() and not force:
        raise OutputExistsError(f"output exists: {dst} (use --force to overwrite)")


@contextlib.contextmanager
def atomic_path(dst: Path) -> Iterator[Path]:
    """Yield a temporary path beside dst; on success it is renamed onto dst, on error removed.

    The temporary name keeps dst's suffix so writers that pick a format by extension work."""
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.{secrets.token_hex(4)}.tmp{dst.suffix}")
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, dst)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def atomic_write_bytes(dst: Path, data: bytes) -> None:
    """Write data to dst atomically; a failure (e.g. a full disk) leaves neither dst nor a temp."""
    with atomic_path(dst) as tmp, open(tmp, "wb") as f:
        f.write(data)
