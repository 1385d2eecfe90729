"""A few hundred mutation cases in CI; tests/fuzz.py runs as many as asked (issue: >= 10,000)."""

import numpy as np
import pytest

from tests.conftest import synthetic_image
from tests.fuzz import fuzz_images, fuzz_vqc
from vqcodec import api
from vqcodec.models import load_model


def test_mutated_vqc_files_decode_or_raise_codec_error(tiny_model):
    lm = load_model(tiny_model)
    seeds = [api.compress(synthetic_image(24, 32, 0), lm),
             api.compress(synthetic_image(17, 9, 1), lm, layers=1)]
    stats = fuzz_vqc(lm, seeds, 300, np.random.default_rng(1))
    assert stats["unexpected"] == 0
    assert stats["refused"] > 200  # most mutations must be caught
    assert stats["slowest_s"] < 2.0


def test_mutated_image_files_load_or_raise_media_error(tmp_path):
    stats = fuzz_images(300, np.random.default_rng(2), tmp_path)
    assert stats["unexpected"] == 0 and stats["refused"] > 0
    assert stats["slowest_s"] < 2.0


def test_prior_drift_is_detected_not_decoded_wrong(tiny_model, monkeypatch):
    """If the decoder's probabilities differed from the encoder's, the index hash catches it."""
    lm = load_model(tiny_model)
    data = api.compress(synthetic_image(24, 32, 3), lm)
    real = lm.codec.exact.probs

    def drifted(logits):
        p = real(logits).clone()
        p[..., 0] += 5000  # a slightly different distribution, as another machine might compute
        return p

    monkeypatch.setattr(lm.codec.exact, "probs", drifted)
    with pytest.raises(api.CodecError, match="different indices"):
        api.decompress(data, lm)
