"""The shipped CIFAR-10 HR-VQVAE model (issue 7): loads by name and reconstructs real CIFAR-10
test images through .vqc bytes at the paper's VQ-VAE-2 level of MSE."""

import numpy as np
import pytest

from tests.conftest import shared_data
from vqcodec import api
from vqcodec.models import list_models, load_model

pytestmark = pytest.mark.skipif(not any(m["name"] == "cifar-hrvq" for m in list_models()),
                                reason="no cifar-hrvq model in weights/")


def test_cifar_test_images_through_vqc():
    npz = shared_data("cifar10", "cifar10_subset.npz")
    lm = load_model("cifar-hrvq")
    x = np.load(npz)["x_test"][:40]
    se, nbytes = 0.0, 0
    for img in x:
        data = api.compress(img, lm)
        nbytes += len(data)
        y = api.decompress(data, lm)
        assert y.shape == img.shape and y.dtype == np.uint8
        se += float((((y.astype(np.float64) - img) / 255) ** 2).sum())
    mse = se / x.size
    # 500 images measure 0.00055 (training/cifar/eval_vqc_500.json); 40 images vary a little.
    assert mse < 0.00068, mse
    assert nbytes * 8 / (len(x) * 32 * 32) < 9.0  # the prior codes below the 9 raw bits per pixel


def test_the_shipped_sampler_draws_and_repeats_with_the_seed():
    from vqcodec.sample import sample

    lm = load_model("cifar-hrvq")
    a, how = sample(lm, 2, seed=0, classes=[3, 3])
    b, _ = sample(lm, 2, seed=0, classes=[3, 3])
    assert how["prior"] == "sampler" and np.array_equal(a, b) and a.shape[:3] == (2, 32, 32)
    assert not np.array_equal(a, sample(lm, 2, seed=1, classes=[3, 3])[0])
    assert a.std() > 10  # pictures, not a flat grey
