"""Standard input and output as files: ``-`` for an input or an output of a command.

The codecs read and write paths (images by Pillow, audio block by block by soundfile, outputs
renamed into place), so a pipe is turned into a path: stdin is read whole into a private
temporary folder under a name whose extension comes from the data's first bytes, and an output
to stdout is written there first and copied out once it is complete, so a failure writes nothing
to stdout. Nothing but the output itself ever goes to stdout.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from . import container

STDIO = "-"
# --format for an output on stdout, per modality; the first is the default
FORMATS = {"image": ("png", "jpg", "webp"), "audio": ("wav", "flac", "ogg")}
MEDIA = (".png", ".jpg", ".webp", ".bmp", ".tif", ".wav", ".flac", ".ogg")  # what compress takes
_SIGNATURES = ((b"\x89PNG\r\n\x1a\n", ".png"), (b"\xff\xd8\xff", ".jpg"), (b"BM", ".bmp"),
               (b"II*\x00", ".tif"), (b"MM\x00*", ".tif"), (b"GIF8", ".png"),
               (b"fLaC", ".flac"), (b"OggS", ".ogg"), (container.MAGIC, ".vqc"))


class PipeError(ValueError):
    """A pipe that cannot be used (unknown data on stdin, a bad --format); one line."""


def is_stdio(path: Path | str | None) -> bool:
    return path is not None and str(path) == STDIO


def sniff(head: bytes) -> str | None:
    """The extension (".png", ".flac", ".vqc", ...) of data from its first bytes; None if unknown."""
    if head[:4] == b"RIFF" and head[8:12] in (b"WEBP", b"WAVE"):
        return ".webp" if head[8:12] == b"WEBP" else ".wav"
    for sig, ext in _SIGNATURES:
        if head.startswith(sig):
            return ext
    return None


def check_format(fmt: str | None, modality: str | None = None) -> str | None:
    """fmt lower-cased and checked ("jpeg" -> "jpg"); for a modality, also that it fits it."""
    if fmt is None:
        return None
    f = fmt.lower().lstrip(".")
    f = "jpg" if f == "jpeg" else f
    allowed = FORMATS[modality] if modality else FORMATS["image"] + FORMATS["audio"]
    if f not in allowed:
        if modality and f in FORMATS["audio" if modality == "image" else "image"]:
            kind = "an image" if modality == "image" else "audio"
            raise PipeError(f"--format {f} does not fit: this file is {kind} "
                            f"(use one of {', '.join(allowed)})")
        raise PipeError(f"unknown --format {fmt!r} (use one of {', '.join(allowed)})")
    return f


@contextlib.contextmanager
def stdin_path(arg: Path, want: tuple[str, ...] | None = None) -> Iterator[Path]:
    """arg itself, or for "-" a temporary file holding all of stdin, named by what it holds.

    want: the extensions the command accepts (e.g. (".vqc",)); other data is a PipeError."""
    if not is_stdio(arg):
        yield Path(arg)
        return
    data = sys.stdin.buffer.read()
    if not data:
        raise PipeError("standard input is empty")
    ext = sniff(data[:16])
    if ext is None or (want is not None and ext not in want):
        kinds = ("an image or audio file" if want == MEDIA else "a .vqc file" if want == (".vqc",)
                 else "an image, audio or .vqc file")
        raise PipeError(f"standard input is not {kinds} (unrecognised first bytes)")
    with tempfile.TemporaryDirectory(prefix="vqcodec-stdin-") as d:
        p = Path(d) / f"stdin{ext}"
        p.write_bytes(data)
        yield p


@contextlib.contextmanager
def stdout_path(arg: Path, ext: str) -> Iterator[Path]:
    """arg itself, or for "-" a temporary path ending in ext whose content, once the body has
    finished without error, is copied to stdout."""
    if not is_stdio(arg):
        yield Path(arg)
        return
    with tempfile.TemporaryDirectory(prefix="vqcodec-stdout-") as d:
        p = Path(d) / f"stdout{ext}"
        yield p
        with open(p, "rb") as fh:
            shutil.copyfileobj(fh, sys.stdout.buffer)
        sys.stdout.buffer.flush()
