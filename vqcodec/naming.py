"""Output names and .vqc sniffing, in one place (numpy + the container only, no torch).

::

    a/b.png  --compress-->  a/b.png.vqc  --decompress-->  a/b.png
    a/b.vqc  (no media name inside)       --decompress-->  a/b.png, or a/b.flac (folders) /
                                                           a/b.wav (one file) if the header says audio
    a/b.png, a/b.png.vqc  --codes-->  a/b.png.npz

A single file without a media name decodes to .wav, the format `-o -` writes by default;
folder jobs pick .flac, which keeps a dataset of decoded audio small. Both rules live here.
"""

from __future__ import annotations

from pathlib import Path

from . import container
from .media import modality_of

VQC_EXT = ".vqc"
DEFAULT_DECODED_EXT = {"image": ".png", "audio": ".flac"}  # folders: a .vqc without a media name
SINGLE_DECODED_EXT = {"image": ".png", "audio": ".wav"}  # one file: the stdout formats' defaults


def vqc_modality(path: Path, whole_header: bool = False) -> str | None:
    """The modality a .vqc file's header declares (its first bytes; the whole header checked
    when whole_header); None if it is not readable as one (the decoder reports the real problem)."""
    try:
        with open(path, "rb") as fh:
            if whole_header:
                return container.read_header_file(fh).modality
            return container.peek_modality(fh.read(64))
    except (OSError, container.ContainerError):
        return None


def _strip_vqc(name: str) -> str:
    """NAME.vqc (any case) -> NAME; other names unchanged."""
    return name[: -len(VQC_EXT)] if name.lower().endswith(VQC_EXT) else name


def _decoded(name: str, src: Path | None, exts: dict[str, str], whole_header: bool) -> str:
    """NAME.vqc -> NAME when NAME has a media extension, else NAME + the modality's default."""
    stem = _strip_vqc(name)
    if not stem or modality_of(Path(stem)) is None:
        stem += exts[(src is not None and vqc_modality(src, whole_header)) or "image"]
    return stem


def output_name(rel: Path, compressing: bool, src: Path | None = None) -> Path:
    """Folder jobs: a/b.png <-> a/b.png.vqc; a .vqc without a media name inside decodes to
    NAME.png, or to NAME.flac if the header of `src` (the .vqc itself, only read then) says audio."""
    rel = Path(rel)
    if compressing:
        return rel.with_name(rel.name + VQC_EXT)
    return rel.with_name(_decoded(rel.name, src, DEFAULT_DECODED_EXT, False))


def default_output(src: Path, compressing: bool) -> Path:
    """One file (the CLI without -o): INPUT.vqc, or INPUT without .vqc (NAME.png / NAME.wav)."""
    if compressing:
        return src.with_name(src.name + VQC_EXT)
    name = src.name[:-4] if src.name.endswith(VQC_EXT) else src.name
    if Path(name).suffix:
        return src.with_name(name)
    return src.with_name(name + SINGLE_DECODED_EXT["audio" if vqc_modality(src, True) == "audio"
                                                   else "image"])


def codes_output_name(rel: Path) -> Path:
    """a/b.png -> a/b.png.npz, a/b.png.vqc -> a/b.png.npz (the codes of the same image)."""
    return rel.with_name(_strip_vqc(rel.name) + ".npz")
