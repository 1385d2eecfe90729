"""Which torch device to run on: --device auto/cpu/cuda[:N]/mps, checked before any work."""

from __future__ import annotations

import torch

from .errors import CodecError


def resolve_device(device: str) -> str:
    """"auto" -> "cuda" when a GPU is present, else "cpu"; "cpu", "cuda[:N]" and "mps" are kept
    once they are known to exist here, anything else is a CodecError (one line, no traceback
    from deep inside torch)."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError, TypeError):
        raise CodecError(f"unknown device {device!r} (use auto, cpu or cuda)") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise CodecError(f"--device {device}: no CUDA GPU here (this torch "
                             f"{'has no CUDA support' if torch.version.cuda is None else 'sees no GPU'}"
                             "); use --device cpu or auto")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise CodecError(f"--device {device}: there are {torch.cuda.device_count()} CUDA GPUs")
    elif dev.type == "mps":
        if not torch.backends.mps.is_available():
            raise CodecError(f"--device {device}: MPS is not available here; use --device cpu")
    elif dev.type != "cpu":
        raise CodecError(f"unsupported device {device!r} (use auto, cpu or cuda)")
    return device
