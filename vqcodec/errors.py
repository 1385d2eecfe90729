"""The codecs' error types and the one-line message helpers every layer shares (no imports)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class CodecError(ValueError):
    """Compression or decompression failed; the message is one line for the user."""


class ModelError(ValueError):
    """A model that cannot be found or loaded; the message is one line for the user."""


def one_line(e: BaseException) -> str:
    """An exception's message on one line (its type's name when it has none)."""
    return " ".join(str(e).split()) or type(e).__name__


@contextmanager
def reraise_as(error: type[Exception], *caught: type[Exception]) -> Iterator[None]:
    """Turn the `caught` errors raised inside the block into `error` with the same message
    (no chained traceback): how a container or limits error becomes a CodecError."""
    try:
        yield
    except caught as e:
        raise error(str(e)) from None
