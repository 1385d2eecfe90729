"""Rate-distortion optimised codeword choice: lam = 0 is the nearest-word search; lam > 0 trades
distortion for fewer bits under the model's own prior, and such files decode unchanged."""

import numpy as np
import torch
from PIL import Image

from vqcodec import api
from vqcodec.coding import cross_entropy_bits
from vqcodec.models import load_model
from vqcodec.prior import phase_map
from vqcodec.rdo import search_rd


def _bits(codec, codes) -> float:
    ex = codec.exact
    pm = phase_map(*codes.shape[2:], ex.phases)
    return sum(cross_entropy_bits(codes[0, i][pm == p].numpy(), ex.phase_probs(codes, i, p)[0])
               for i in range(codes.shape[1]) for p in range(ex.phases))


@torch.no_grad()
def test_rdo_trades_distortion_for_rate(tiny_model, photo):
    model = load_model(tiny_model)
    codec = model.codec
    img = np.asarray(Image.open(photo).convert("RGB"))
    x = api._images_to_tensor([img], codec.stride, "cpu")
    z = codec.encoder(x)
    plain = codec.quantizer.search(z)
    assert torch.equal(search_rd(codec, z, 0.0), plain)
    err = lambda c: float((z - codec.quantizer.decode_codes(c)).pow(2).sum())  # noqa: E731
    lam = 10 * err(plain) / z[0, 0].numel()  # big enough to move many choices
    rd = search_rd(codec, z, lam)
    assert not torch.equal(rd, plain)
    assert _bits(codec, rd) < _bits(codec, plain)
    assert err(rd) >= err(plain)
    # The same container and decoder read it: compress with rdo, decompress as usual.
    data = api.compress(img, model, rdo=lam)
    assert len(data) < len(api.compress(img, model))
    out = api.decompress(data, model)
    assert out.shape == img.shape
    # A model's config may carry its tuned lam: compress() then uses it by default.
    model.codec.config["rdo"] = lam
    try:
        assert api.compress(img, model) == data
        assert torch.equal(api.encode_codes(img, model), rd)
    finally:
        del model.codec.config["rdo"]
