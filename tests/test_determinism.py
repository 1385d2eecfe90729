"""Exact decoding: the same bytes and the same images whatever the thread count and batch shape."""

import subprocess
import sys
import textwrap

import numpy as np

from tests.conftest import synthetic_image
from vqcodec import api
from vqcodec.models import load_model

SCRIPT = textwrap.dedent("""
    import sys, pickle, torch
    torch.set_num_threads(int(sys.argv[1]))
    from vqcodec import api
    from vqcodec.models import load_model
    mode, batch, model, path = sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
    lm = load_model(model)
    items = pickle.load(open(path, "rb"))
    if mode == "enc":
        out = []
        for i in range(0, len(items), batch):
            out += api.compress_many(items[i:i + batch], lm)
    else:
        out = []
        for i in range(0, len(items), batch):
            out += [a.tobytes() for a in api.decompress_many(items[i:i + batch], lm)]
    pickle.dump(out, open(path + "." + mode + sys.argv[1] + sys.argv[3], "wb"))
""")


def run(tmp_path, mode, threads, batch, model, items):
    import pickle

    path = tmp_path / f"in_{mode}_{threads}_{batch}.pkl"
    pickle.dump(items, open(path, "wb"))
    subprocess.run([sys.executable, "-c", SCRIPT, str(threads), mode, str(batch), str(model),
                    str(path)], check=True, capture_output=True)
    return pickle.load(open(f"{path}.{mode}{threads}{batch}", "rb"))


def test_batch_of_four_equals_one_by_one(tiny_model):
    lm = load_model(tiny_model)
    imgs = [synthetic_image(48, 64, s) for s in range(4)]
    one = [api.compress(im, lm) for im in imgs]
    assert api.compress_many(imgs, lm) == one
    dec_one = [api.decompress(d, lm) for d in one]
    dec_many = api.decompress_many(one, lm)
    assert all(np.array_equal(a, b) for a, b in zip(dec_one, dec_many, strict=True))


def test_mixed_sizes_in_one_call(tiny_model):
    lm = load_model(tiny_model)
    imgs = [synthetic_image(48, 64, 1), synthetic_image(30, 20, 2), synthetic_image(45, 61, 3)]
    assert api.compress_many(imgs, lm) == [api.compress(im, lm) for im in imgs]
    outs = api.decompress_many(api.compress_many(imgs, lm), lm)
    assert [o.shape for o in outs] == [im.shape for im in imgs]


def test_thread_and_batch_matrix(tiny_model, tmp_path):
    """Encode with (1 thread, batch 1) and (2 threads, batch 4); decode each with the other."""
    imgs = [synthetic_image(40, 56, 10 + s) for s in range(4)]
    enc_a = run(tmp_path, "enc", 1, 1, tiny_model, imgs)
    enc_b = run(tmp_path, "enc", 2, 4, tiny_model, imgs)
    assert enc_a == enc_b
    dec_a = run(tmp_path, "dec", 2, 4, tiny_model, enc_a)
    dec_b = run(tmp_path, "dec", 1, 1, tiny_model, enc_b)
    assert dec_a == dec_b


def test_large_images_are_coded_as_tiles(tiny_model):
    from vqcodec import container

    lm = load_model(tiny_model)
    img = synthetic_image(70, 90, 4)
    data = api.compress_many([img], lm, tile=32)[0]
    f = container.unpack(data)
    assert f.segment_size == 32 and len(f.segments) == 9  # 3 x 3 tiles, the last ones smaller
    assert [s.latent_shape for s in f.segments[:3]] == [(8, 8), (8, 8), (8, 7)]
    out = api.decompress(data, lm)
    assert out.shape == img.shape
    # Each tile decodes to what coding that tile alone gives.
    alone = api.decompress(api.compress(img[32:64, 64:90], lm), lm)
    assert np.array_equal(out[32:64, 64:90], alone)
    one = api.decompress(container.pack(container.truncate(f, 1)), lm)
    assert one.shape == img.shape
