"""rANS streams: round trips in chunks, payload close to the cross-entropy, bad streams refused."""

import numpy as np
import pytest

from vqcodec.coding import StreamDecoder, StreamEncoder, StreamError, cross_entropy_bits


def random_chunks(seed=0, m=8, sizes=(3000, 2000, 5000)):
    rng = np.random.default_rng(seed)
    chunks = []
    for n in sizes:
        probs = rng.integers(1, 1 << 15, size=(n, m)) ** 2 // (1 << 15) + 1  # skewed integers
        cdf = np.cumsum(probs / probs.sum(1, keepdims=True), 1)
        sym = (rng.random((n, 1)) < cdf).argmax(1)
        chunks.append((sym, probs))
    return chunks


def test_round_trip_in_decoding_order():
    chunks = random_chunks()
    enc = StreamEncoder()
    for s, p in chunks:
        enc.add(s, p)
    data = enc.finish()
    dec = StreamDecoder(data)
    for s, p in chunks:
        assert np.array_equal(dec.decode(p), s)


def test_payload_within_one_percent_of_cross_entropy():
    chunks = random_chunks(seed=1, sizes=(20000,))
    enc = StreamEncoder()
    enc.add(*chunks[0])
    bits = 8 * len(enc.finish())
    ce = cross_entropy_bits(*chunks[0])
    assert ce <= bits <= 1.01 * ce


def test_empty_chunk_and_empty_stream():
    enc = StreamEncoder()
    enc.add(np.zeros(0, int), np.ones((0, 4)))
    data = enc.finish()
    assert len(data) % 4 == 0
    assert StreamDecoder(data).decode(np.ones((0, 4))).shape == (0,)


def test_bad_streams_raise_stream_error():
    with pytest.raises(StreamError):
        StreamDecoder(b"abc")
    with pytest.raises(ValueError):
        StreamEncoder().add(np.zeros(3, int), np.ones((2, 4)))
