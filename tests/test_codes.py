"""Codes out (vqcodec codes, encode_codes, read_codes) and VQCDataset over a folder of .vqc."""

import numpy as np
import pytest
import soundfile as sf
import torch
from PIL import Image

from tests.conftest import EXAMPLES, invoke, synthetic_image
from tests.test_cli import fails_cleanly
from vqcodec import api, codes, read_codes
from vqcodec.data import VQCDataset
from vqcodec.models import load_model


def test_codes_of_vqc_and_of_the_image_are_the_same(tiny_model, photo, tmp_path):
    vqc = tmp_path / "x.vqc"
    assert invoke("compress", photo, "-o", vqc, "--model", tiny_model).returncode == 0
    r = invoke("codes", vqc, "-o", tmp_path / "c.npz", "--model", tiny_model)
    assert r.returncode == 0, r.stderr
    r = invoke("codes", photo, "-o", tmp_path / "c2.npz", "--model", tiny_model)
    assert r.returncode == 0, r.stderr
    a, b = read_codes(tmp_path / "c.npz"), read_codes(tmp_path / "c2.npz")
    assert len(a.segments) == len(b.segments) == 1
    assert a.segments[0].dtype == np.uint16 and a.segments[0].shape == (2, 18, 23)
    assert np.array_equal(a.segments[0], b.segments[0])
    lm = load_model(tiny_model)
    assert a.model == "tiny-a" and a.model_id == lm.model_id.hex()
    assert a.geometry == {"width": 90, "height": 70, "channels": 3} and a.layers == 2
    direct = api.encode_codes(np.asarray(Image.open(photo)), lm)[0].numpy()
    assert np.array_equal(a.segments[0], direct)


def test_tiles_and_truncated_files(tiny_model, tmp_path):
    lm = load_model(tiny_model)
    img = synthetic_image(40, 72, 9)
    data = api.compress_many([img], lm, tile=32)[0]  # 2 x 3 tiles
    c = codes.encode_codes(data, lm)
    assert [s.shape for s in c.segments] == [(2, 8, 8)] * 2 + [(2, 8, 2)] + [(2, 2, 8)] * 2 + [(2, 2, 2)]
    one = codes.encode_codes(api.compress(img, lm, layers=1), lm)
    assert one.layers == 1 and one.segment_size == 0


def test_audio_codes_both_ways(tmp_path):
    src = tmp_path / "s.wav"
    x, rate = sf.read(EXAMPLES / "speech.flac")
    sf.write(src, x[:rate], rate)
    assert invoke("compress", src, "-o", tmp_path / "s.vqc").returncode == 0
    a = codes.encode_codes(src)
    b = codes.encode_codes(tmp_path / "s.vqc")
    assert a.modality == "audio" and a.geometry["sample_rate"] == rate
    assert [s.shape for s in a.segments] == [(4, 5, 100)]
    assert all(np.array_equal(p, q) for p, q in zip(a.segments, b.segments, strict=True))


def test_codes_folder(tiny_model, photo, tmp_path):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    (src / "a.png").write_bytes(photo.read_bytes())
    assert invoke("compress", photo, "-o", src / "sub" / "b.png.vqc", "--model", tiny_model
                  ).returncode == 0
    (src / "notes.txt").write_text("x")
    r = invoke("codes", src, "-o", tmp_path / "out", "--model", tiny_model, "--json")
    assert r.returncode == 0, r.stderr
    assert '"done": 2' in r.stdout and '"ignored": 1' in r.stdout
    a, b = read_codes(tmp_path / "out" / "a.png.npz"), read_codes(tmp_path / "out/sub/b.png.npz")
    assert np.array_equal(a.segments[0], b.segments[0])
    r = invoke("codes", src, "-o", tmp_path / "out", "--model", tiny_model, "--json")
    assert '"skipped": 2' in r.stdout  # a rerun keeps complete outputs


def test_codes_bad_input(tiny_model, photo, tmp_path):
    bad = tmp_path / "bad.vqc"
    bad.write_bytes(b"VQC\x1a" + b"\0" * 40)
    fails_cleanly(invoke("codes", bad, "-o", tmp_path / "c.npz"))
    fails_cleanly(invoke("codes", tmp_path / "nope.png", "-o", tmp_path / "c.npz"), "no such")
    (tmp_path / "c.npz").write_bytes(b"x")
    fails_cleanly(invoke("codes", photo, "-o", tmp_path / "c.npz", "--model", tiny_model),
                  "exists")
    with pytest.raises(api.CodecError, match="not a vqcodec codes file"):
        read_codes(tmp_path / "c.npz")


@pytest.fixture
def vqc_folder(tiny_model, tmp_path):
    lm = load_model(tiny_model)
    d = tmp_path / "vqc"
    d.mkdir()
    for i in range(4):
        (d / f"{i}.png.vqc").write_bytes(api.compress(synthetic_image(32, 48, i), lm))
    return d


@pytest.mark.filterwarnings("ignore:This DataLoader will create:UserWarning")  # 1 core under taskset
def test_dataset_with_a_two_worker_dataloader(vqc_folder, tiny_model):
    ds = VQCDataset(vqc_folder, output="codes", model=tiny_model)
    assert len(ds) == 4 and ds[0].shape == (2, 8, 12) and ds[0].dtype == torch.int64
    loader = torch.utils.data.DataLoader(ds, batch_size=2, num_workers=2)
    batches = list(loader)
    assert [b.shape for b in batches] == [(2, 2, 8, 12)] * 2
    assert torch.equal(batches[1][1], ds[3])
    images = VQCDataset(vqc_folder, output="image", model=tiny_model, layers=1)
    got = list(torch.utils.data.DataLoader(images, batch_size=None, num_workers=2))
    assert len(got) == 4 and got[0].shape == (32, 48, 3) and got[0].dtype == torch.uint8
    with pytest.raises(ValueError, match="output must be"):
        VQCDataset(vqc_folder, output="pixels")


def test_dataset_finds_the_shipped_model_each_file_names(tmp_path):
    (tmp_path / "g.vqc").write_bytes((EXAMPLES.parent / "tests/data/golden-photo-v3.vqc").read_bytes())
    ds = VQCDataset(tmp_path)
    assert ds[0].shape == (4, 16, 16) and VQCDataset(tmp_path, output="image")[0].shape == (64, 64, 3)


def test_codes_keep_a_group_axis(lowres_model):
    lm = load_model(lowres_model)
    img = synthetic_image(48, 64, 2)
    a = codes.encode_codes(img, lm)
    b = codes.encode_codes(api.compress(img, lm), lm)
    assert a.segments[0].ndim == 4 and a.segments[0].shape[:2] == (lm.codec.num_layers,
                                                                    lm.codec.groups)
    assert np.array_equal(a.segments[0], b.segments[0])
