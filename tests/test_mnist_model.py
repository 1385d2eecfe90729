"""The shipped MNIST model (weights/mnist-hrvq): codes digits, and its sampling prior draws."""

import numpy as np

from vqcodec import api
from vqcodec.models import load_model
from vqcodec.sample import sample


def test_mnist_model_codes_a_digit_and_samples_repeat_with_the_seed():
    lm = load_model("mnist-hrvq")
    img = np.zeros((28, 28, 3), np.uint8)
    img[6:22, 12:16] = 255  # a "1"
    out = api.decompress(api.compress(img, lm), lm)
    assert out.shape == img.shape
    assert np.abs(out.astype(float) - img).mean() < 20  # a digit, not a blur of grey
    a, how = sample(lm, 4, seed=0, classes=[3, 3, 7, 7])
    b, _ = sample(lm, 4, seed=0, classes=[3, 3, 7, 7])
    assert how["prior"] == "sampler" and np.array_equal(a, b) and a.shape[:3] == (4, 28, 28)
    assert not np.array_equal(a, sample(lm, 4, seed=1, classes=[3, 3, 7, 7])[0])
