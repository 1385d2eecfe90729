"""Every shipped model still decodes a small file it made (tests/data/golden-NAME.vqc) to what it
decoded to when the file was made; every model that has ever been a default still ships."""

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from tests.conftest import invoke
from tests.data.make_golden import golden_paths
from vqcodec import api, audio_codec
from vqcodec.cards import model_cards
from vqcodec.models import DEFAULTS, WIDE_AUDIO, list_models

# Every model that has been a default (git log: "Ship ... as the default"). A .vqc records its
# model's identity, so dropping one of these would orphan every file it ever wrote.
EVER_DEFAULT = {"photo-small", "photo", "photo-v2", "photo-v3", "photo-v4-c5", "photo-v4-c6",
                "photo-v5-g48-c11", "photo-v5-g48-c14", "photo-v5-g48-c15", "photo-v5-g48-c18",
                "speech-small", "speech-stft", "music-stft-2"}
SHIPPED = {m["name"]: m["modality"] for m in list_models()}


def test_every_former_default_still_ships():
    assert EVER_DEFAULT | set(DEFAULTS.values()) | {WIDE_AUDIO} <= set(SHIPPED)


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_golden_file_decodes(name):
    vqc, expected = golden_paths(name, SHIPPED[name])
    assert vqc.is_file(), f"no golden file for {name}: run python tests/data/make_golden.py {name}"
    data = vqc.read_bytes()
    if SHIPPED[name] == "audio":
        want, rate = sf.read(expected, dtype="float32", always_2d=True)
        got, r = audio_codec.decompress_audio(data, api._find_model_for(api._header(data), "cpu"))
        assert r == rate and got.shape == want.shape
        assert np.abs(got - want).max() < 2e-3  # 16-bit PCM steps, and float decoder rounding
    else:
        want = np.asarray(Image.open(expected))
        got = api.decompress(data)  # finds the model by the identity the file records
        assert got.reshape(want.shape).shape == want.shape
        assert np.abs(got.reshape(want.shape).astype(int) - want).max() <= 2


def test_models_lists_what_to_pick_and_all_the_rest():
    listed = {m["name"] for m in model_cards()}
    assert set(DEFAULTS.values()) <= listed and "cifar-hrvq" in listed
    assert not listed & {"photo", "photo-small", "photo-v2"}
    everything = model_cards(include_all=True)
    assert {m["name"] for m in everything} == set(SHIPPED)
    no_card = [m["name"] for m in everything if not (m["summary"] and m["rates"])]
    assert not no_card, f"write weights/NAME/card.json (summary, rates, listed) for {no_card}"


def test_models_command():
    r = invoke("models", "--json")
    assert r.returncode == 0 and "photo-v3" in r.stdout and "photo-small" not in r.stdout
    r = invoke("models", "--all", "--json")
    assert "photo-small" in r.stdout and '"summary"' in r.stdout
