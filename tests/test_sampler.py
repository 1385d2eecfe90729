"""The sampling prior: causality, bits, seeds, classes, files, model identity, training, CLI."""

import json
import math
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from tests.conftest import invoke, synthetic_image
from vqcodec import api
from vqcodec.models import ModelError, load_model, model_id
from vqcodec.sample import sample
from vqcodec.sampler import Sampler, class_index, load_sampler, save_sampler
from vqcodec.sampler_data import load_folder
from vqcodec.train_sampler import train_sampler

ARCH = dict(m=4, num_layers=3, grid=[5, 6], classes=["a", "b"], width=8, depth=3,
            dilations=[1, 2], cond_width=8, cond_blocks=1)


def toy(seed: int = 0, **kw) -> Sampler:
    torch.manual_seed(seed)
    s = Sampler(dict(ARCH, **kw)).eval()
    with torch.no_grad():
        for p in s.parameters():
            p.mul_(3)  # sharper distributions than the default init: draws depend on the inputs
    return s


@torch.no_grad()
def test_changing_a_later_index_never_changes_earlier_logits():
    s = toy()
    g = torch.Generator().manual_seed(0)
    codes = torch.randint(0, 4, (2, 3, 5, 6), generator=g)
    cls = s.class_ids([0, -1], 2)
    for layer in range(3):
        base = s.logits(codes, layer, cls)
        for pos in range(30):
            y, x = divmod(pos, 6)
            c = codes.clone()
            c[:, layer, y, x] = (c[:, layer, y, x] + 1) % 4
            diff = (s.logits(c, layer, cls) - base).abs().amax((0, 1)).flatten()
            assert float(diff[:pos + 1].max()) == 0.0, (layer, y, x)  # itself and all before
            if pos + 1 < 30:
                assert float(diff[pos + 1:].max()) > 0  # the network does see earlier codes
        # the layers above are known in full: a later position of them may change the logits
        if layer:
            c = codes.clone()
            c[:, 0, 1, 1] = (c[:, 0, 1, 1] + 1) % 4
            assert float((s.logits(c, layer, cls) - base)[:, :, 0, 0].abs().max()) > 0


def test_step_by_step_path_gives_the_full_network_logits():
    s = toy(1)
    codes = torch.randint(0, 4, (3, 3, 5, 6), generator=torch.Generator().manual_seed(1))
    cls = s.class_ids([0, 1, -1], 3)
    for layer in range(3):
        torch.testing.assert_close(s.raster_logits(codes, layer, cls), s.logits(codes, layer, cls),
                                   rtol=1e-5, atol=1e-5)
    greedy = s.sample_codes(3, seed=0, top_k=1, classes=[0, 1, -1])
    for layer in range(3):
        assert torch.equal(s.logits(greedy, layer, cls).argmax(1), greedy[:, layer])


def test_bits_per_index_match_a_hand_computation():
    s = Sampler(dict(ARCH, m=2, num_layers=1, classes=[]))
    with torch.no_grad():
        for p in s.parameters():
            p.zero_()
        s.nets[0].head[3].bias.copy_(torch.tensor([0.0, math.log(3)]))  # p = (1/4, 3/4)
    codes = torch.zeros(2, 1, 5, 6, dtype=torch.long)
    codes[0, 0, :2] = 1  # 12 of 60 indices are 1, the rest 0
    want = (12 * math.log2(4 / 3) + 48 * 2) / 60
    loss, per = s.loss(codes, s.class_ids(None, 2))
    assert loss.item() == pytest.approx(want, rel=1e-6) and per[0] == pytest.approx(want, rel=1e-6)
    assert s.bits(codes, s.class_ids(None, 2)).mean().item() == pytest.approx(want, rel=1e-6)


def test_seed_repeats_and_class_changes_the_samples():
    s = toy(2)
    a = s.sample_codes(4, seed=3, classes=0)
    assert a.shape == (4, 3, 5, 6) and int(a.max()) < 4
    assert torch.equal(a, s.sample_codes(4, seed=3, classes=0))
    assert not torch.equal(a, s.sample_codes(4, seed=4, classes=0))
    assert not torch.equal(a, s.sample_codes(4, seed=3, classes=1))
    assert not torch.equal(a, s.sample_codes(4, seed=3))  # no class: the unconditional row
    greedy = s.sample_codes(4, seed=9, classes=0, top_k=1)  # the seed no longer matters
    assert torch.equal(greedy, s.sample_codes(4, seed=10, classes=0, top_k=1))
    hot, cold = (s.sample_codes(64, seed=3, classes=0, temperature=t) for t in (3.0, 0.2))
    agree = [float((c == greedy[:1]).float().mean()) for c in (hot, cold)]
    assert agree[0] < agree[1]  # a low temperature stays nearer the most likely codes
    assert class_index(s, "b") == 1 and class_index(s, "0") == 0 and class_index(s, None) is None
    with pytest.raises(ValueError, match="unknown class 'c'.*0 a, 1 b"):
        class_index(s, "c")
    with pytest.raises(ValueError, match="no classes"):
        class_index(toy(classes=[]), 0)


@pytest.fixture
def model_copy(tiny_model, tmp_path):
    dst = tmp_path / "model"
    shutil.copytree(tiny_model, dst)
    return dst


def _toy_for(folder) -> Sampler:
    lm = load_model(folder)
    h, w = lm.codec.latent_shape(32, 32)
    return toy(3, m=lm.codec.m, num_layers=lm.codec.num_layers, grid=[h, w]), lm


def test_save_load_round_trip_leaves_the_model_identity(model_copy, other_model):
    img = synthetic_image(32, 32, 5)
    before = model_id(model_copy)
    vqc = api.compress(img, load_model(model_copy))
    s, lm = _toy_for(model_copy)
    assert load_sampler(lm) is None
    save_sampler(s, model_copy, lm.model_id, {"image": {"height": 32, "width": 32,
                                                        "channels": 3}})
    assert model_id(model_copy) == before  # config.json and the weights are untouched
    lm2 = load_model(model_copy)
    assert lm2.model_id == before
    assert np.array_equal(api.decompress(vqc, lm2), api.decompress(vqc, lm))  # old files decode
    back, meta = load_sampler(lm2)
    assert meta["model_id"] == before.hex() and back.classes == ["a", "b"]
    assert all(torch.equal(a, b) for a, b in zip(s.state_dict().values(),
                                                 back.state_dict().values(), strict=True))
    assert torch.equal(s.sample_codes(2, seed=1, classes=1), back.sample_codes(2, seed=1, classes=1))
    imgs, what = sample(lm2, 2, seed=1, classes="b")
    assert imgs.shape == (2, 32, 32, 3) and what["prior"] == "sampler" and what["classes"] == ["b"]
    imgs2, what = sample(lm2, 2, seed=1, prior="checkerboard", size=16)
    assert imgs2.shape == (2, 16, 16, 3) and what["prior"] == "checkerboard"
    with pytest.raises(ModelError, match="another model"):
        load_sampler(load_model(other_model), model_copy)


@pytest.fixture(scope="module")
def labelled_npz(tmp_path_factory):
    """Two classes of 32 x 32 images: bright ones and dark ones."""
    def images(seeds, dark):
        return np.stack([synthetic_image(32, 32, s) // (3 if dark else 1) for s in seeds])

    x_tr = np.concatenate([images(range(8), False), images(range(8, 16), True)])
    x_te = np.concatenate([images(range(20, 23), False), images(range(23, 26), True)])
    p = tmp_path_factory.mktemp("npz") / "set.npz"
    np.savez(p, x_train=x_tr, y_train=np.repeat([0, 1], 8), x_test=x_te,
             y_test=np.repeat([0, 1], 3), label_names=np.array(["light", "dark"]))
    return p


def test_resume_continues_the_step_count_and_matches_an_unbroken_run(tiny_model, labelled_npz,
                                                                     tmp_path):
    whole = train_sampler(tiny_model, labelled_npz, tmp_path / "whole", "tiny", echo=lambda s: None)

    def stop(step, total, rec):
        if step == 15:  # after the checkpoint of step 10: the run dies between two
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_sampler(tiny_model, labelled_npz, tmp_path / "cut", "tiny", echo=lambda s: None,
                      progress=stop)
    with pytest.raises(ValueError, match="--resume"):
        train_sampler(tiny_model, labelled_npz, tmp_path / "cut", "tiny", echo=lambda s: None)
    train_sampler(tiny_model, labelled_npz, tmp_path / "cut", "tiny", resume=True,
                  echo=lambda s: None)
    log = [json.loads(x) for x in (tmp_path / "cut" / "train_log.jsonl").read_text().splitlines()]
    i = next(k for k, r in enumerate(log) if r.get("event") == "resume")
    assert log[i]["step"] == 10 and [r["step"] for r in log[i + 1:] if "bits" in r] == [15, 20]
    assert log[-1]["event"] == "done" and "test_bits" in log[-1] and "test_bits_uncond" in log[-1]
    a = torch.load(whole / "checkpoint.pt", weights_only=False)
    b = torch.load(tmp_path / "cut" / "checkpoint.pt", weights_only=False)
    assert a["step"] == b["step"] == 20
    assert all(torch.equal(a["state"][k], b["state"][k]) for k in a["state"])


def test_folder_classes_are_its_subfolders(tmp_path):
    for c in ("cats", "dogs"):
        (tmp_path / c).mkdir()
        for i in range(10):
            Image.fromarray(synthetic_image(20, 24, i)).save(tmp_path / c / f"{i}.png")
    s = load_folder(tmp_path)
    assert s.classes == ["cats", "dogs"] and len(s.x_train) == 19 and len(s.x_test) == 1
    assert sorted(set(s.y_train.tolist())) == [0, 1] and s.x_train.shape[1:] == (20, 24, 3)
    assert load_folder(tmp_path, size=16).x_train.shape[1:] == (16, 16, 3)
    assert load_folder(tmp_path, labels=False).classes == []


def _one_line_error(r, *words):
    assert r.returncode == 1
    lines = [ln for ln in r.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    for w in words:
        assert w in r.stderr, r.stderr


def test_cli_train_sampler_then_sample_by_class_and_the_errors(model_copy, labelled_npz, tmp_path):
    out = tmp_path / "grid.png"
    r = invoke("sample", "--model", model_copy, "--class", "dark", "-n", "2", "-o", out)
    _one_line_error(r, "--class needs a sampling prior", "train-sampler")
    r = invoke("train-sampler", "--model", model_copy, "--data", labelled_npz, "--out",
               tmp_path / "run", "--preset", "tiny", "--steps", "4", "--into", model_copy)
    assert r.returncode == 0, r.stderr
    assert (model_copy / "sampler.json").is_file() and (model_copy / "sampler.safetensors").is_file()
    r = invoke("sample", "--model", model_copy, "--class", "dark", "-n", "2", "-o", out,
               "--seed", "4")
    assert r.returncode == 0 and "sampling prior" in r.stdout and "dark" in r.stdout, r.stderr
    assert Image.open(out).size == (2 * 32 + 2, 32)
    r = invoke("sample", "--model", model_copy, "--class", "1", "-n", "2", "-o",
               tmp_path / "g2.png", "--seed", "4")
    assert r.returncode == 0 and out.read_bytes() == (tmp_path / "g2.png").read_bytes()
    r = invoke("sample", "--model", model_copy, "-n", "2", "--prior", "checkerboard", "--size",
               "16", "-o", tmp_path / "cb.png")
    assert r.returncode == 0 and "checkerboard" in r.stdout
    _one_line_error(invoke("sample", "--model", model_copy, "--class", "cat", "-n", "2", "-o",
                           tmp_path / "x.png"), "unknown class 'cat'", "0 light, 1 dark")
    _one_line_error(invoke("sample", "--model", model_copy, "--size", "64", "-n", "2", "-o",
                           tmp_path / "x.png"), "draws 32x32")
    _one_line_error(invoke("sample", "--model", model_copy, "--prior", "checkerboard", "--class",
                           "1", "-n", "2", "-o", tmp_path / "x.png"), "no classes")
    _one_line_error(invoke("train-sampler", "--model", model_copy, "--data", labelled_npz,
                           "--out", tmp_path / "run", "--preset", "tiny"), "--resume")
    _one_line_error(invoke("train-sampler", "--model", model_copy, "--data", tmp_path / "no.npz",
                           "--out", tmp_path / "r2", "--preset", "tiny"), "no such folder")
    r = invoke("train-sampler", "--model", model_copy, "--data", labelled_npz, "--out",
               tmp_path / "r3", "--preset", "tiny", "--steps", "2", "--no-labels", "--into",
               model_copy)
    assert r.returncode == 0, r.stderr
    _one_line_error(invoke("sample", "--model", model_copy, "--class", "1", "-n", "2", "-o",
                           tmp_path / "x.png"), "no classes")


def test_a_nan_loss_stops_training_at_once(tiny_model, labelled_npz, tmp_path, monkeypatch):
    real = Sampler.loss

    def nan_loss(self, codes, cls):
        loss, per = real(self, codes, cls)
        return loss * float("nan"), per

    monkeypatch.setattr(Sampler, "loss", nan_loss)
    with pytest.raises(ValueError, match="not finite at step 0"):
        train_sampler(tiny_model, labelled_npz, tmp_path / "nan", "tiny", echo=lambda s: None)
    assert not (tmp_path / "nan" / "checkpoint.pt").exists()
