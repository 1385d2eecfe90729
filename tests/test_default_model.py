"""The shipped default image model: listed, loads (its integer prior verifies), and codes a photo."""

import numpy as np
import pytest

from tests.conftest import SHARED, synthetic_image
from vqcodec import api
from vqcodec.models import DEFAULTS, list_models, load_model

pytestmark = pytest.mark.skipif(
    not any(m["name"] == DEFAULTS["image"] for m in list_models()),
    reason="no shipped default image model in weights/")


@pytest.fixture(scope="module")
def default_model():
    return load_model()


def test_default_is_listed_once():
    ms = [m for m in list_models() if m["modality"] == "image" and m["default"]]
    assert [m["name"] for m in ms] == [DEFAULTS["image"]]


def test_round_trip_quality(default_model):
    path = SHARED / "photos" / "bsds500" / "val"
    if path.is_dir():
        from vqcodec.media import load_image

        img = load_image(sorted(path.glob("*.jpg"))[0])[:128, :160]
    else:
        img = synthetic_image(128, 160, 5)
    data = api.compress(img, default_model)
    out = api.decompress(data, default_model)
    assert out.shape == img.shape
    mse = np.mean((img.astype(float) - out) ** 2)
    assert 10 * np.log10(255**2 / mse) > 25
    # bits per pixel, all layers, at the model's default rate (its tuned lam, not the top rate:
    # this textured crop takes 3.7 bpp at lam 0)
    assert 8 * len(data) / (128 * 160) < 3.0
    # Fewer layers: fewer bytes, lower quality, still decodable.
    small = api.compress(img, default_model, layers=1)
    assert len(small) < len(data)
    assert api.decompress(small, default_model).shape == img.shape
