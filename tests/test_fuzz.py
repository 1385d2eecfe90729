"""Fuzzing in CI: a few hundred random mutations (tests/fuzz.py) and a few seconds of each
coverage-guided atheris target (tests/fuzz_atheris.py runs the long ones)."""

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


@pytest.mark.parametrize("target", ["container", "decode", "image", "audio"])
def test_coverage_guided_fuzz_briefly(target, tiny_model, tiny_audio, tmp_path, monkeypatch):
    """A few seconds of each atheris target (tests/fuzz_atheris.py runs the long ones): no crash,
    no input over 1 s, memory under the limit."""
    pytest.importorskip("atheris")
    from tests.fuzz_atheris import run

    monkeypatch.setenv("VQCODEC_FUZZ_IMAGE_MODEL", str(tiny_model))
    monkeypatch.setenv("VQCODEC_FUZZ_AUDIO_MODEL", str(tiny_audio.path))
    res = run(target, 100000, tmp_path, rss_mb=1536, timeout_s=1, extra=[], max_time=3,
              report=False)
    assert not res["crashed"], res.get("tail")
    assert res["executions"] > 50 and res["findings"] == []
