"""The rate-distortion benchmark: BD-rate arithmetic and a tiny end-to-end run."""

import numpy as np
from PIL import Image

from tests.conftest import synthetic_image
from vqcodec.bench import bd_rate, bench_images, psnr


def test_bd_rate_of_a_curve_that_needs_half_the_rate():
    d = [30.0, 32.0, 34.0, 36.0]
    r = [0.2, 0.4, 0.8, 1.6]
    assert abs(bd_rate(r, d, [x / 2 for x in r], d) - (-50.0)) < 1e-6
    assert abs(bd_rate(r, d, r, d)) < 1e-9
    assert bd_rate(r, d, r, [40.0, 41.0, 42.0, 43.0]) is None  # no overlap


def test_psnr():
    a = np.zeros((4, 4, 3), np.uint8)
    b = a.copy()
    b[0, 0, 0] = 255
    assert abs(psnr(a, b) - 10 * np.log10(48)) < 1e-9


def test_bench_images_end_to_end(tiny_model, tmp_path):
    for i in range(2):
        Image.fromarray(synthetic_image(40, 56, 100 + i)).save(tmp_path / f"t{i}.png")
    res = bench_images(tmp_path, [str(tiny_model)], ("jpeg",), log=lambda s: None)
    codecs = {p["codec"] for p in res["points"]}
    assert codecs == {str(tiny_model), "jpeg"}
    ours = sorted((p for p in res["points"] if p["codec"] == str(tiny_model)),
                  key=lambda p: p["setting"])
    assert [p["setting"] for p in ours] == ["1", "2"]
    assert ours[0]["bpp"] < ours[1]["bpp"]  # more layers, more bits
    for s in res["layers"][str(tiny_model)]:
        assert s["log2_m"] == 2
        assert s["cross_entropy_bits_per_index"] <= s["bits_per_index_written"] + 0.05


def test_frontier_drops_dominated_settings():
    from vqcodec.bench import _frontier

    pts = [(0.5, 30.0), (0.4, 31.0), (0.8, 33.0), (0.9, 32.5), (0.2, 25.0)]
    assert _frontier(pts) == [(0.2, 25.0), (0.4, 31.0), (0.8, 33.0)]


def test_bench_sweeps_lambda_of_a_product_model(lowres_model, tmp_path):
    Image.fromarray(synthetic_image(40, 56, 100)).save(tmp_path / "t0.png")
    res = bench_images(tmp_path, [str(lowres_model)], (), log=lambda s: None,
                       lambdas=(0.0, 1.0))
    settings = sorted(p["setting"] for p in res["points"])
    assert settings == ["1", "1/lam1", "2", "2/lam1"]
