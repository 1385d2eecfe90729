"""The shipped speech model: listed as the audio default, and a real test utterance (a speaker
not in training) round-trips through .vqc with its rate and length, under 6 kbps at full depth."""

import numpy as np
import pytest
import soundfile as sf
from pystoi import stoi

from tests.conftest import shared_data
from vqcodec import api
from vqcodec.models import DEFAULTS, list_models, load_model

pytestmark = pytest.mark.skipif(not any(m["name"] == DEFAULTS["audio"] for m in list_models()),
                                reason="no shipped speech model in weights/")


def test_speech_default_is_listed():
    ms = [m for m in list_models() if m["modality"] == "audio" and m["default"]]
    assert [m["name"] for m in ms] == [DEFAULTS["audio"]]


def test_real_utterance_round_trip(tmp_path):
    x, rate = sf.read(shared_data("speech", "test", "1688-142285-0000.flac"), dtype="float32")
    x = x[: 4 * rate]
    src = tmp_path / "clip.wav"
    sf.write(src, x, rate)
    api.compress_file(src, tmp_path / "clip.vqc", load_model(None, modality="audio"))
    api.decompress_file(tmp_path / "clip.vqc", tmp_path / "out.wav")
    y, rate2 = sf.read(tmp_path / "out.wav", dtype="float32")
    assert rate2 == rate and y.shape == x.shape
    kbps = (tmp_path / "clip.vqc").stat().st_size * 8 / (len(x) / rate) / 1000
    assert kbps < 6.0, kbps
    # Not silence and not a copy of the noise floor: the decoded speech follows the input's energy.
    env = lambda s: np.sqrt(np.convolve(s**2, np.ones(1600) / 1600, "valid"))[::800]  # noqa: E731
    assert np.corrcoef(env(x), env(y))[0, 1] > 0.7
    # Intelligible: STOI measured 0.892 on this clip at 5.6 kbps (the old speech-small: ~0.67).
    assert stoi(x, y, rate) > 0.85
