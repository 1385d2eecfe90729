"""Model folders: identity, listing, and a clear ModelError for every kind of broken folder."""

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from vqcodec.models import ModelError, load_model, model_id


def broken_copy(src, tmp_path, name="m"):
    dst = tmp_path / name
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("checkpoint.pt", "*.jsonl"))
    return dst


def edit_tensors(folder, file, fn):
    t = load_file(str(folder / file))
    fn(t)
    save_file(t, str(folder / file))


def test_identity_changes_with_any_file(tiny_model, tmp_path):
    m = broken_copy(tiny_model, tmp_path)
    a = model_id(m)
    assert len(a) == 16 and a == load_model(m).model_id
    cfg = json.loads((m / "config.json").read_text())
    cfg["name"] = "renamed"
    (m / "config.json").write_text(json.dumps(cfg))
    assert model_id(m) != a


@pytest.mark.parametrize("case, words", [
    ("missing_file", "missing prior.safetensors"),
    ("missing_tensor", "missing tensor"),
    ("misshapen_tensor", "has shape"),
    ("extra_tensor", "does not describe"),
    ("missing_prior_tensor", "missing tensor"),
    ("config_key", "lacks"),
    ("config_json", "bad model config"),
    ("fingerprint", "fingerprint"),
    ("phases", "bad config.json .prior phases"),
    ("garbage_weights", "cannot read weights"),
    ("not_a_model", "not a vqcodec model"),
])
def test_broken_model_folders(tiny_model, tmp_path, case, words):
    m = broken_copy(tiny_model, tmp_path)
    cfg = json.loads((m / "config.json").read_text())
    if case == "missing_file":
        (m / "prior.safetensors").unlink()
    elif case == "missing_tensor":
        edit_tensors(m, "model.safetensors", lambda t: t.pop("decoder.net.0.weight"))
    elif case == "misshapen_tensor":
        edit_tensors(m, "model.safetensors",
                     lambda t: t.update({"quantizer.codebooks.1": torch.zeros(3, 3, 3)}))
    elif case == "extra_tensor":
        edit_tensors(m, "model.safetensors", lambda t: t.update({"surprise": torch.zeros(1)}))
    elif case == "missing_prior_tensor":
        edit_tensors(m, "prior.safetensors", lambda t: t.pop("l1.head.mult"))
    elif case == "config_key":
        del cfg["latent_dim"]
    elif case == "config_json":
        (m / "config.json").write_text("{ not json")
    elif case == "fingerprint":
        cfg["prior_fingerprint"] = "0" * 64
    elif case == "phases":  # per-layer counts are for product HR-VQ priors only
        cfg["prior"]["phases"] = [4] * cfg["num_layers"]
    elif case == "garbage_weights":
        (m / "model.safetensors").write_bytes(b"\x00" * 100)
    elif case == "not_a_model":
        cfg["format"] = "something-else"
    if case in ("config_key", "fingerprint", "not_a_model", "phases"):
        (m / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelError, match=words):
        load_model(m)


def test_prior_check_is_remembered_per_model_and_machine(tiny_model, tmp_path, monkeypatch):
    """The fingerprint check runs once per model identity (and torch, CPU, device); a model
    whose stored fingerprint changes is a new identity, so it is checked (and refused) again."""
    from vqcodec.prior import ExactPrior
    m = broken_copy(tiny_model, tmp_path)
    monkeypatch.setenv("VQCODEC_CACHE", str(tmp_path / "cache"))
    calls = []
    real = ExactPrior.verify
    monkeypatch.setattr(ExactPrior, "verify", lambda self, fp: calls.append(fp) or real(self, fp))
    a = load_model(m)
    b = load_model(m)
    assert len(calls) == 1 and b.model_id == a.model_id and not b.codec.exact.force_f64
    assert len(list((tmp_path / "cache" / "verified").iterdir())) == 1
    cfg = json.loads((m / "config.json").read_text())
    cfg["prior_fingerprint"] = "0" * 64
    (m / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelError, match="fingerprint"):
        load_model(m)
    monkeypatch.setenv("VQCODEC_CACHE", "")  # empty: remember nothing
    load_model(tiny_model)
    load_model(tiny_model)
    assert len(calls) == 4  # once for the refused one, once for each load here


def test_stride_one_steps_keep_the_grid():
    """strides=[1, 2]: the first step keeps full resolution, so the total stride is 2."""
    from vqcodec.models import Codec
    from vqcodec.presets import PRESETS

    cfg = {k: PRESETS["tiny"][k] for k in ("channels", "latent_dim", "res_blocks", "codebook_size",
                                            "num_layers", "prior")}
    cfg.update(modality="image", in_channels=3, beta=0.25, strides=[1, 2])
    codec = Codec(cfg)
    assert codec.stride == 2 and codec.latent_shape(31, 32) == (16, 16)
    x = torch.rand(1, 3, 32, 32)
    z = codec.encoder(x)
    assert z.shape[2:] == (16, 16) and codec.decoder(z).shape == x.shape
    cfg["strides"] = [1, 1]
    assert Codec(cfg).encoder(x).shape[2:] == (32, 32)


def test_shuffle_gives_a_finer_grid_than_the_transform():
    """shuffle=2 on strides [2, 2]: inputs pad to 4, the quantizer grid is at stride 2."""
    from vqcodec.models import Codec
    from vqcodec.presets import PRESETS

    cfg = {k: PRESETS["tiny"][k] for k in ("channels", "latent_dim", "res_blocks", "codebook_size",
                                            "num_layers", "prior")}
    cfg.update(modality="image", in_channels=3, beta=0.25, shuffle=2)
    codec = Codec(cfg)
    assert codec.stride == 4 and codec.latent_shape(30, 21) == (16, 12)
    x = torch.rand(1, 3, 32, 24)  # 30 x 21 padded up to the stride
    z = codec.encoder(x)
    assert z.shape[1:] == (cfg["latent_dim"], 16, 12) and codec.decoder(z).shape == x.shape


def test_store_float16_casts_what_it_picks(tmp_path):
    from safetensors.torch import load_file, save_file

    from vqcodec.models import store_float16

    save_file({"encoder.w": torch.ones(3), "quantizer.c": torch.ones(2),
               "encoder.i": torch.ones(2, dtype=torch.int64)}, str(tmp_path / "model.safetensors"))
    assert store_float16(tmp_path, lambda k, v: k.startswith("encoder.")) == ["encoder.w"]
    got = load_file(str(tmp_path / "model.safetensors"))
    assert [got[k].dtype for k in ("encoder.w", "quantizer.c", "encoder.i")] == \
        [torch.float16, torch.float32, torch.int64]
    assert not (tmp_path / "model.tmp").exists()
