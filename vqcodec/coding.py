"""rANS entropy coding with `constriction`: prior probabilities -> one stream per layer -> indices.

The prior hands over integer (unnormalised) probabilities. They are passed to constriction's
`Categorical(perfect=False)` model family as float64, which holds such integers exactly, so the
encoder and every decoder quantise the very same distributions. `perfect=False` is chosen
explicitly: it is the fast quantisation, and encoder and decoder must agree on it.

rANS is last-in-first-out. A layer is decoded in chunks (the prior's phases), each chunk's
probabilities depending on the chunks before it, so the encoder collects every chunk first and
then pushes them in reverse.
"""

from __future__ import annotations

import constriction
import numpy as np

_MODEL = constriction.stream.model.Categorical(perfect=False)
AnsCoder = constriction.stream.stack.AnsCoder


class StreamError(ValueError):
    """A stream that cannot be decoded (corrupt, truncated, or for another model)."""


def _probs(p) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(p), dtype=np.float64)


class StreamEncoder:
    """Collects (symbols, probabilities) chunks in decoding order; `finish()` returns the stream."""

    def __init__(self) -> None:
        self.chunks: list[tuple[np.ndarray, np.ndarray]] = []

    def add(self, symbols, probs) -> None:
        sym = np.ascontiguousarray(np.asarray(symbols), dtype=np.int32).reshape(-1)
        pr = _probs(probs)
        if pr.ndim != 2 or pr.shape[0] != sym.shape[0]:
            raise ValueError(f"probabilities {pr.shape} do not match {sym.shape[0]} symbols")
        self.chunks.append((sym, pr))

    def finish(self) -> bytes:
        coder = AnsCoder()
        for sym, pr in reversed(self.chunks):
            if len(sym):
                coder.encode_reverse(sym, _MODEL, pr)
        return coder.get_compressed().astype("<u4").tobytes()


class StreamDecoder:
    """Decodes chunks from one stream in the order they were added to the encoder."""

    def __init__(self, data: bytes) -> None:
        if len(data) % 4:
            raise StreamError("stream length is not a multiple of 4 bytes")
        words = np.frombuffer(data, dtype="<u4").astype(np.uint32)
        try:
            self.coder = AnsCoder(words)
        except Exception as e:  # constriction rejects some invalid streams up front
            raise StreamError(f"invalid rANS stream ({e})") from None

    def decode(self, probs) -> np.ndarray:
        pr = _probs(probs)
        if pr.shape[0] == 0:
            return np.zeros(0, dtype=np.int64)
        try:
            return self.coder.decode(_MODEL, pr).astype(np.int64)
        except Exception as e:
            raise StreamError(f"rANS decoding failed ({e})") from None


def cross_entropy_bits(symbols, probs) -> float:
    """Bits an ideal coder would spend on `symbols` under the (unnormalised) `probs`."""
    pr = _probs(probs)
    sym = np.asarray(symbols).reshape(-1)
    p = pr[np.arange(len(sym)), sym] / pr.sum(1)
    return float(-np.log2(p).sum())
