"""Product HR-VQ (G trees over channel groups, entropy-constrained choice) and its (layer,
group) prior: shapes, the lam knob, exactness, and a tiny low-resolution model end to end."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tests.conftest import synthetic_image
from vqcodec import api, container
from vqcodec.group_prior import GroupExactPrior, GroupPrior, step_map
from vqcodec.models import load_model
from vqcodec.product_vq import ProductHRVQ


def _vq(seed: int = 0) -> ProductHRVQ:
    torch.manual_seed(seed)
    return ProductHRVQ(dim=12, groups=3, codebook_size=4, num_layers=3)


def test_search_matches_forward_and_lookup_sums_layers():
    q = _vq().eval()
    z = torch.randn(2, 12, 5, 6) * 0.5
    codes = q.search(z)
    assert codes.shape == (2, 3, 3, 5, 6) and int(codes.max()) < 4
    zq, _, codes_f = q(z)
    assert torch.equal(codes, codes_f)
    assert torch.allclose(zq, q.decode_codes(codes), atol=1e-6)
    assert torch.allclose(q.lookup(codes).sum(1), q.decode_codes(codes))
    # Fewer layers: a coarser sum of the same words, and the residual shrinks with depth.
    err = [float((z - q.decode_codes(codes[:, :k])).pow(2).mean().detach()) for k in (1, 2, 3)]
    assert err[0] >= err[1] >= err[2]


def test_groups_are_independent_trees():
    q = _vq().eval()
    z = torch.randn(1, 12, 4, 4)
    codes = q.search(z)
    z2 = z.clone()
    z2[:, 4:8] += 3.0  # change group 1 only
    codes2 = q.search(z2)
    assert torch.equal(codes[:, :, 0], codes2[:, :, 0]) and torch.equal(codes[:, :, 2], codes2[:, :, 2])


def test_lambda_trades_distortion_for_light_bits():
    q = _vq().eval()
    with torch.no_grad():  # a skewed entropy model: word 0 cheap, the rest dear
        for t in q.rate_logits:
            t[..., 0] = 4.0
    z = torch.randn(4, 12, 8, 8) * 0.5
    bits, dist = [], []
    for lam in (0.0, 0.05, 1.0):
        c = q.search(z, lam=lam)
        bits.append(float(q.light_bits(c).sum()))
        dist.append(float((z - q.decode_codes(c)).pow(2).mean().detach()))
    assert bits[0] > bits[1] > bits[2] and dist[0] <= dist[1] <= dist[2]
    assert torch.equal(q.search(z, lam=0.0), q.search(z))  # lam = 0: the nearest words


def test_revival_restarts_dead_words():
    q = _vq()
    z = torch.randn(2, 12, 8, 8)
    q(z)
    assert sum(q.revive_dead()) > 0  # usage starts at zero: everything unvisited is restarted
    q.mark_used()
    assert all(s["dead"] == 0 for s in q.stats())


def _exact(seed: int = 0, phases=2) -> tuple[GroupPrior, GroupExactPrior]:
    torch.manual_seed(seed)
    pr = GroupPrior(4, 2, 3, width=8, blocks=1, phases=phases).eval()
    return pr, GroupExactPrior(pr.export(), 4, 2, 3, blocks=1, phases=phases)


def test_step_map_orders_groups_then_phases():
    sm = step_map(3, 4, 4, 2)
    assert sm.shape == (3, 4, 4) and sorted(sm.unique().tolist()) == list(range(6))
    assert bool((sm[1] >= 2).all() and (sm[1] <= 3).all())


@pytest.mark.parametrize("phases", [2, [4, 2]])
def test_exact_prior_agrees_with_float_and_ignores_unknown_codes(phases):
    pr, ex = _exact(phases=phases)
    codes = torch.randint(0, 4, (2, 2, 3, 6, 7))
    # The integer net reproduces the fake-quantized float net's most likely words closely.
    nll_float = pr.loss(codes)[0].item()
    bits = 0.0
    for i in range(2):
        for t in range(ex.layer_steps(i)):
            p = ex.step_probs(codes, i, t).double()
            sym = codes[:, i][ex.step_map(6, 7, i).expand(2, -1, -1, -1) == t].view(2, -1)
            bits -= float((p / p.sum(-1, keepdim=True)).gather(-1, sym[..., None]).log2().sum())
    assert abs(bits / codes.numel() - nll_float) < 0.05
    # Probabilities of a step do not depend on indices decoded after it.
    later = codes.clone()
    later[:, 1] = (later[:, 1] + 1) % 4
    assert torch.equal(ex.step_probs(codes, 0, 3), ex.step_probs(later, 0, 3))
    other = codes.clone()
    other[:, 0, 2] = (other[:, 0, 2] + 1) % 4  # group 2 of layer 0 comes after group 1's steps
    assert torch.equal(ex.step_probs(codes, 0, 2), ex.step_probs(other, 0, 2))


def test_per_layer_phases_decode_in_order_and_round_trip():
    """4 phases on layer 1, 2 on layer 2: each step sees only the steps before it, and the
    stream coder walks each layer in its own steps."""
    from types import SimpleNamespace

    from vqcodec.segments import decode_streams, encode_streams

    _, ex = _exact(2, phases=[4, 2])
    assert [ex.layer_steps(i) for i in range(2)] == [12, 6]
    codes = torch.randint(0, 4, (2, 2, 3, 6, 7))
    sm = ex.step_map(6, 7, 0)
    assert sorted(sm.unique().tolist()) == list(range(12))
    for t in range(12):
        later, after = codes.clone(), (sm >= t).expand(2, -1, -1, -1)
        later[:, 0][after] = 3 - later[:, 0][after]
        later[:, 1] = (later[:, 1] + 1) % 4
        assert torch.equal(ex.step_probs(codes, 0, t), ex.step_probs(later, 0, t))
    with pytest.raises(ValueError, match="one per layer"):
        GroupExactPrior(ex.t, 4, 2, 3, blocks=1, phases=[4, 2, 2])
    codec = SimpleNamespace(exact=ex, groups=3)
    segs = encode_streams(codes, codec, 2)
    assert torch.equal(decode_streams(segs, codec, 2), codes)


def test_exact_prior_is_batch_invariant():
    _, ex = _exact(1)
    codes = torch.randint(0, 4, (3, 2, 3, 9, 5))
    full = ex.step_probs(codes, 1, 4)
    assert all(torch.equal(full[b:b + 1], ex.step_probs(codes[b:b + 1], 1, 4)) for b in range(3))


def test_lowres_model_round_trip_and_truncation(lowres_model):
    lm = load_model(lowres_model)
    img = synthetic_image(50, 70, 5)
    data = api.compress(img, lm)
    f = container.unpack(data)
    assert f.num_layers == 2 and f.segments[0].latent_shape == (7, 9)  # stride 8, padded
    codes = api.encode_codes(img, lm)
    assert codes.shape == (1, 2, 4, 7, 9)
    assert torch.equal(api.decode_streams(f.segments, lm.codec, 2), codes)
    out = api.decompress(data, lm)
    assert out.shape == img.shape
    one = api.compress(img, lm, layers=1)
    assert container.pack(container.truncate(f, 1)) == one
    assert api.decompress(one, lm).shape == img.shape


def test_lowres_lambda_is_a_rate_knob(lowres_model):
    lm = load_model(lowres_model)
    img = synthetic_image(64, 64, 6)
    sizes = [len(api.compress(img, lm, rdo=lam)) for lam in (0.0, 1.0)]
    assert sizes[1] < sizes[0]


def test_lowres_bytes_do_not_depend_on_threads(lowres_model, tmp_path):
    img = synthetic_image(40, 56, 7)
    np.save(tmp_path / "img.npy", img)
    script = ("import sys, torch; torch.set_num_threads(int(sys.argv[1])); import numpy as np;"
              "from vqcodec import api; from vqcodec.models import load_model;"
              "lm = load_model(sys.argv[2]); img = np.load(sys.argv[3]);"
              "sys.stdout.buffer.write(api.compress(img, lm))")
    outs = [subprocess.run([sys.executable, "-c", script, t, str(lowres_model),
                            str(tmp_path / "img.npy")], check=True, capture_output=True).stdout
            for t in ("1", "2")]
    assert outs[0] == outs[1]
    lm = load_model(lowres_model)
    assert api.decompress(outs[0], lm).shape == img.shape


def test_exact_stem_lookup_equals_the_conv_of_one_hots():
    from vqcodec.group_prior import stream_inputs

    _, ex = _exact(2)
    codes = torch.randint(0, 4, (2, 2, 3, 6, 7))
    known = torch.rand(6, 7) < 0.5
    for s in (0, 4):
        above, cur = stream_inputs(codes, s, known, 4)
        ref = F.conv2d(cur, ex.t[f"l{s}.stem_c.w"].float(), padding=2)
        if above is not None:
            ref = ref + F.conv2d(above, ex.t[f"l{s}.stem_a.w"].float())
        assert torch.equal(ex.stem_acc(codes, s, known), ref)


def test_exact_stem_reuses_the_sum_above_only_while_it_holds():
    _, ex = _exact(3)
    fresh = _exact(3)[1]
    codes = torch.randint(0, 4, (2, 2, 3, 6, 7))
    first = ex.step_probs(codes, 1, 2)  # layer 1, group 1 (stream 4), phase 0
    kept = ex._above_kept
    assert torch.equal(ex.step_probs(codes, 1, 3), fresh.step_probs(codes, 1, 3))  # phase 1
    assert ex._above_kept is kept  # streams 0-3 unchanged: their sum reused
    changed = codes.clone()
    changed[:, 0, 1] = (changed[:, 0, 1] + 1) % 4  # a stream above stream 4 changes
    assert torch.equal(ex.step_probs(changed, 1, 2), fresh.step_probs(changed, 1, 2))
    assert ex._above_kept is not kept
    assert not torch.equal(ex.step_probs(changed, 1, 2), first)
    assert torch.equal(ex.step_probs(codes, 1, 2), first)


def test_split_groups_keeps_the_parent_quantizer():
    from vqcodec.product_vq import ProductHRVQ, split_groups

    torch.manual_seed(0)
    q, q2 = ProductHRVQ(16, 2, 4, 2), ProductHRVQ(16, 4, 4, 2)
    state = split_groups({"quantizer." + k: v for k, v in q.state_dict().items()}, 2)
    q2.load_state_dict({k.removeprefix("quantizer."): v for k, v in state.items()})
    z = torch.randn(2, 16, 5, 5)
    codes = q.search(z)
    # the parent's codes, each index repeated for both halves, decode to the same latent ...
    assert torch.equal(q2.decode_codes(codes.repeat_interleave(2, 2)), q.decode_codes(codes))
    # ... and the split search, free to pick each half, is at least as near
    err = (z - q.decode_codes(codes)).pow(2).mean()
    assert (z - q2.decode_codes(q2.search(z))).pow(2).mean() <= err


def test_init_splits_a_parent_with_fewer_groups(lowres_model, image_folder, tmp_path):
    from vqcodec.train import TrainConfig, train

    def run(out, overrides, **kw):
        return train(TrainConfig.from_preset(image_folder, out, "tiny-lowres", overrides=overrides,
                                             steps=0, init=lowres_model, device="cpu", **kw),
                     echo=lambda s: None)

    out = run(tmp_path / "split", {"groups": 8}, prior_steps=5)
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["groups"] == 8 and cfg["training"]["init"]["name"] == "tiny-lr"
    img = np.random.default_rng(0).integers(0, 256, (40, 48, 3), dtype=np.uint8)
    lm = load_model(out)
    assert api.decompress(api.compress(img, lm), lm).shape == img.shape
    with pytest.raises(ValueError, match="another architecture"):
        run(tmp_path / "bad", {"groups": 6, "latent_dim": 18}, prior_steps=1)


def test_probe_measures_a_linear_decoders_gain_per_group():
    torch.manual_seed(0)
    q = ProductHRVQ(dim=12, groups=3, codebook_size=4, num_layers=2, weighted=True)
    gains = torch.tensor([1.0, 3.0, 0.5])  # the image scales group g's dims by gains[g]

    def decode(z):
        return z * gains.repeat_interleave(4).view(1, -1, 1, 1)

    z = torch.randn(2, 12, 6, 6)
    assert torch.equal(q.search_scale(), q.scale)  # not probed yet: per-group energy, as before
    q.probe_sensitivity(decode, z)
    assert torch.allclose(q.sens, gains**2, rtol=1e-4)
    q.scale.copy_(torch.tensor([1.0, 2.0, 4.0]))
    s = q.search_scale()  # error weights sens/mean(sens*scale): group 1 counts 36x group 2
    assert torch.allclose(1 / s, gains**2 / (gains**2 * q.scale).mean())


def test_weighted_search_spends_the_rate_where_the_decoder_looks():
    torch.manual_seed(1)
    q = ProductHRVQ(dim=8, groups=2, codebook_size=4, num_layers=1, weighted=True).eval()
    with torch.no_grad():
        q.rate_logits[0][..., 0] = 4.0  # word 0 cheap, the others dear
        q.sens.copy_(torch.tensor([100.0, 0.01]))  # group 0 matters, group 1 hardly
    z = torch.randn(4, 8, 8, 8) * 0.5

    def busy() -> list[float]:  # how often each group pays for a dear word
        c = q.search(z, lam=0.5)
        return [float((c[:, 0, g] != 0).float().mean()) for g in range(2)]

    b = busy()
    assert b[0] > 0.15 and b[1] < 0.05
    q.sens.copy_(q.sens.flip(0))
    b = busy()
    assert b[1] > 0.15 and b[0] < 0.05
    assert torch.equal(q.search(z, lam=0.0), q.search(z))  # lam = 0 ignores the weights


def test_weighted_model_trains_saves_and_codes(image_folder, tmp_path, lowres_model):
    from vqcodec.train import TrainConfig, train

    cfg = TrainConfig.from_preset(image_folder, tmp_path / "w", "tiny-lowres", steps=3,
                                  prior_steps=2, init=lowres_model, device="cpu",
                                  overrides={"search_weight": "decoder"})
    out = train(cfg, echo=lambda s: None)
    assert json.loads((out / "config.json").read_text())["search_weight"] == "decoder"
    lm = load_model(out)
    sens = lm.codec.quantizer.sens
    assert sens.shape == (4,) and bool((sens > 0).all())  # probed at step 0, saved with the weights
    img = np.random.default_rng(0).integers(0, 256, (40, 48, 3), dtype=np.uint8)
    assert api.decompress(api.compress(img, lm, rdo=0.3), lm).shape == img.shape


def test_init_grows_the_decoder_and_starts_where_the_parent_was(lowres_model, image_folder,
                                                                tmp_path):
    from vqcodec.train import TrainConfig, train

    out = train(TrainConfig.from_preset(image_folder, tmp_path / "grown", "tiny-lowres",
                                        overrides={"decoder_blocks": [3, 2]}, steps=0,
                                        prior_steps=1, init=lowres_model, device="cpu"),
                echo=lambda s: None)
    parent, grown = load_model(lowres_model), load_model(out)
    assert len(grown.codec.decoder.net) == len(parent.codec.decoder.net) + 3
    z = torch.randn(1, grown.codec.config["latent_dim"], 3, 4)
    with torch.no_grad():  # the added blocks are identities until trained
        assert torch.equal(grown.codec.decoder(z), parent.codec.decoder(z))
    with pytest.raises(ValueError, match="cannot grow"):
        train(TrainConfig.from_preset(image_folder, tmp_path / "shrunk", "tiny-lowres",
                                      overrides={"decoder_blocks": [0, 1]}, steps=0,
                                      prior_steps=1, init=lowres_model, device="cpu"),
              echo=lambda s: None)


@torch.no_grad()
def test_prior_search_pays_less_than_the_light_tables_choice(lowres_model):
    from vqcodec.rdo import search_rd_groups
    from vqcodec.segments import encode_streams

    lm = load_model(lowres_model)
    codec, img = lm.codec, synthetic_image(48, 64, 8)
    z = codec.encoder(api._images_to_tensor([img], codec.stride, "cpu"))
    q, ex = codec.quantizer, codec.exact
    assert torch.equal(search_rd_groups(codec, z, 0.0), q.search(z))
    lam = 1.0
    probs: dict = {}
    rd, light = search_rd_groups(codec, z, lam, probs=probs), q.search(z, None, lam)

    def cost(codes):  # the search's own objective, with the bits the file will spend
        r, dist = q._flatten(z)[0], 0.0
        words = q.lookup(codes).movedim(2, -1)  # (B, n, D, h, w) -> ... (B, n, h, w, D)
        scale = q.search_scale().repeat_interleave(q.d)
        for i in range(q.n):
            r = r.reshape(-1, q.g * q.d) - words[:, i].reshape(-1, q.g * q.d)
            dist += float((r.pow(2) / scale).sum())
        bits = 0.0
        for i in range(q.n):
            sm = ex.step_map(*codes.shape[-2:], i)
            for t in range(ex.layer_steps(i)):
                p = ex.step_probs(codes, i, t)[0].double()
                k = codes[0, i][sm == t]
                bits -= float((p[torch.arange(len(k)), k] / p.sum(-1)).log2().sum())
        return dist + lam * bits, bits

    (c_rd, b_rd), (c_light, b_light) = cost(rd), cost(light)
    assert c_rd < c_light and b_rd < b_light
    # the probabilities the search computed are the coder's: the same bytes without them
    assert set(probs) == {(i, t) for i in range(q.n) for t in range(ex.layer_steps(i))}
    assert encode_streams(rd, codec, q.n, probs)[0].streams == encode_streams(rd, codec, q.n)[0].streams
    data = api.compress(img, lm, rdo=lam)
    assert torch.equal(api.decode_streams(container.unpack(data).segments, codec, q.n), rd)


def test_init_prior_starts_from_the_parents_integer_prior(lowres_model, image_folder, tmp_path):
    from safetensors.torch import load_file

    from vqcodec.group_prior import GroupPrior
    from vqcodec.train import TrainConfig, train

    parent = load_file(lowres_model / "prior.safetensors")
    cfg = json.loads((lowres_model / "config.json").read_text())
    p = cfg["prior"]
    net = GroupPrior(cfg["codebook_size"], cfg["num_layers"], cfg["groups"], p["width"],
                     p["blocks"], phases=p["phases"])
    net.load_integer(parent)
    assert all(torch.equal(v, parent[k]) for k, v in net.export().items())
    out = train(TrainConfig.from_preset(image_folder, tmp_path / "child", "tiny-lowres",
                                        overrides={"init_prior": True}, steps=0, prior_steps=0,
                                        init=lowres_model, device="cpu"), echo=lambda s: None)
    child = json.loads((out / "config.json").read_text())
    assert child["training"]["init"]["prior"] is True
    assert child["prior_fingerprint"] == cfg["prior_fingerprint"]
    # Phases order the decoding, not the weights: a child may start from a parent with others.
    phases = [4] + [2] * (cfg["num_layers"] - 1)
    out = train(TrainConfig.from_preset(image_folder, tmp_path / "four", "tiny-lowres",
                                        overrides={"init_prior": True,
                                                   "prior": dict(p, phases=phases)},
                                        steps=0, prior_steps=0, init=lowres_model, device="cpu"),
                echo=lambda s: None)
    assert json.loads((out / "config.json").read_text())["prior"]["phases"] == phases
    child = load_file(out / "prior.safetensors")
    assert all(torch.equal(v, parent[k]) for k, v in child.items())


def test_decoder_only_training_keeps_the_parents_codes_and_prior(lowres_model, image_folder,
                                                                 tmp_path):
    from safetensors.torch import load_file

    from vqcodec.train import TrainConfig, train

    cfg = TrainConfig.from_preset(image_folder, tmp_path / "dec", "tiny-lowres", steps=6,
                                  prior_steps=0, init=lowres_model, device="cpu",
                                  overrides={"decoder_blocks": [1, 2], "train_only": "decoder",
                                             "init_prior": True, "rdo": 0.05})
    out = train(cfg, echo=lambda s: None)
    parent, child = (load_file(f / "model.safetensors") for f in (lowres_model, out))
    for k, v in child.items():
        if k.startswith("decoder."):
            continue
        assert torch.equal(v, parent[k]), k  # encoder, codebooks, tables, search scales
    changed = [k for k, v in child.items() if k.startswith("decoder.") and k in parent
               and v.shape == parent[k].shape and not torch.equal(v, parent[k])]
    assert changed  # the decoder trained
    assert load_file(out / "prior.safetensors").keys() == load_file(lowres_model / "prior.safetensors").keys()
    config = json.loads((out / "config.json").read_text())
    assert config["rdo"] == 0.05 and config["training"]["train_only"] == "decoder"
    assert config["prior_fingerprint"] == json.loads((lowres_model / "config.json").read_text())[
        "prior_fingerprint"]
    img = synthetic_image(48, 64, 5)
    a, b = (api.compress(img, load_model(f), rdo=0.1) for f in (lowres_model, out))
    assert container.unpack(a).segments == container.unpack(b).segments  # the same codes, bytes
    assert api.decompress(b, load_model(out)).shape == img.shape


def test_decoder_only_training_on_the_coders_codes(lowres_model, image_folder, tmp_path):
    from safetensors.torch import load_file

    from vqcodec.train import TrainConfig, train

    over = {"train_only": "decoder", "init_prior": True, "code_search": "prior"}
    out = train(TrainConfig.from_preset(image_folder, tmp_path / "dec", "tiny-lowres", steps=3,
                                        prior_steps=0, init=lowres_model, device="cpu",
                                        overrides=over), echo=lambda s: None)
    parent, child = (load_file(f / "model.safetensors") for f in (lowres_model, out))
    assert all(torch.equal(v, parent[k]) for k, v in child.items() if not k.startswith("decoder."))
    assert any(not torch.equal(v, parent[k]) for k, v in child.items() if k.startswith("decoder."))
    with pytest.raises(ValueError, match="code_search"):  # the parent's coding prior chooses
        train(TrainConfig.from_preset(image_folder, tmp_path / "x", "tiny-lowres", steps=1,
                                      prior_steps=0, init=lowres_model, device="cpu",
                                      overrides={"code_search": "prior"}), echo=lambda s: None)


def test_whole_model_training_on_the_coders_codes(lowres_model, image_folder, tmp_path):
    from safetensors.torch import load_file

    from vqcodec.image_codec import encode_codes
    from vqcodec.train import TrainConfig, _coder_codes, train

    lm = load_model(lowres_model)
    codec, img = lm.codec, synthetic_image(48, 64, 9)
    x = api._images_to_tensor([img, img], codec.stride, "cpu")
    with torch.no_grad():
        z = codec.encoder(x)
    codes = _coder_codes(codec, z, torch.tensor([0.2, 0.0]))
    assert torch.equal(codes[:1], encode_codes(img, lm, rdo=0.2))  # each sample at its own lam
    assert torch.equal(codes[1:], encode_codes(img, lm, rdo=0.0))
    _, _, used = codec.quantizer(z, None, torch.tensor([0.2, 0.0]), codes)
    assert torch.equal(used, codes)  # the quantizer's words are the coder's, not its own choice
    over = {"init_prior": True, "code_search": "prior"}
    out = train(TrainConfig.from_preset(image_folder, tmp_path / "all", "tiny-lowres", steps=3,
                                        prior_steps=0, init=lowres_model, device="cpu",
                                        overrides=over), echo=lambda s: None)
    parent, child = (load_file(f / "model.safetensors") for f in (lowres_model, out))
    for part in ("encoder.", "decoder.", "quantizer.codebooks"):
        assert any(not torch.equal(v, parent[k]) for k, v in child.items() if k.startswith(part))


def test_prior_trained_on_the_coders_codes(lowres_model, image_folder, tmp_path, monkeypatch):
    from vqcodec import train as train_mod
    from vqcodec.train import TrainConfig, train

    real, seen = train_mod._coder_codes, []

    def spy(codec, z, lam):
        assert codec.exact is not None  # searched under the parent's integer prior
        seen.append(real(codec, z, lam))
        return seen[-1]

    monkeypatch.setattr(train_mod, "_coder_codes", spy)
    over = {"init_prior": True, "prior_codes": "coder"}
    out = train(TrainConfig.from_preset(image_folder, tmp_path / "p", "tiny-lowres", steps=0,
                                        prior_steps=2, init=lowres_model, device="cpu",
                                        overrides=over), echo=lambda s: None)
    saved = torch.load(out / "coder_codes_0.pt", weights_only=True)
    assert torch.equal(torch.cat([saved["train"], saved["val"]]), torch.cat(seen))
    assert (out / "model.safetensors").is_file()
    with pytest.raises(ValueError, match="init_prior"):
        train(TrainConfig.from_preset(image_folder, tmp_path / "q", "tiny-lowres", steps=0,
                                      prior_steps=2, init=lowres_model, device="cpu",
                                      overrides={"prior_codes": "coder"}), echo=lambda s: None)


@torch.no_grad()
def test_coder_latent_is_what_compress_decodes(lowres_model):
    from vqcodec.image_codec import encode_codes
    from vqcodec.train import _coder_latent

    lm = load_model(lowres_model)
    codec, img = lm.codec, synthetic_image(48, 64, 9)
    x = api._images_to_tensor([img], codec.stride, "cpu")
    hp = {"lam_range": [0.2, 0.2], "lam_zero": 0.0}
    keep = torch.tensor([codec.num_layers])
    want = codec.quantizer.decode_codes(encode_codes(img, lm, rdo=0.2))
    assert torch.allclose(_coder_latent(codec, x, keep, hp), want, atol=1e-6)
    one = codec.quantizer.decode_codes(encode_codes(img, lm, rdo=0.2)[:, :1])
    assert torch.allclose(_coder_latent(codec, x, torch.tensor([1]), hp), one, atol=1e-6)


def test_color_dct_transform_starts_exact():
    from vqcodec.autoencoder import DecoderDCT, EncoderDCT, color_dct, interleave

    b = color_dct(4)
    assert torch.allclose(b @ b.T, torch.eye(48), atol=1e-5)
    # Rows run from low to high frequency: the first is the luma DC, a constant.
    assert torch.allclose(b[0], torch.full((48,), 48 ** -0.5), atol=1e-6)
    # Coefficient ranks dealt to 3 groups in a snake: every group gets as much of the energy.
    assert interleave(12, 3).tolist() == [0, 5, 6, 11, 1, 4, 7, 10, 2, 3, 8, 9]
    torch.manual_seed(0)
    enc, dec = EncoderDCT(3, 4, 48, 2, 48, 4), DecoderDCT(3, 4, 48, 2, 48, 4)
    x = torch.rand(2, 3, 16, 12)
    z = enc(x)  # gradients on: float32, no autocast
    assert z.shape == (2, 48, 4, 3)
    assert torch.allclose(dec(z), x, atol=1e-5)
    # Orthonormal: latent squared error is image squared error.
    e = torch.randn_like(z) * 0.01
    assert torch.allclose((dec(z + e) - dec(z)).pow(2).sum(), e.pow(2).sum(), rtol=1e-3)
    with pytest.raises(ValueError, match="channels"):
        EncoderDCT(3, 4, 32, 1, 16)


def test_dct_model_trains_and_round_trips(image_folder, tmp_path):
    from vqcodec.train import train

    out = train(image_folder, tmp_path / "tiny-dct", preset="tiny-dct", device="cpu", seed=0,
                echo=lambda s: None, steps=20, prior_steps=5)
    lm = load_model(out)
    img = synthetic_image(30, 38, 3)
    data = api.compress(img, lm)
    assert container.unpack(data).segments[0].latent_shape == (15, 19)  # stride 2
    back = api.decompress(data, lm)
    assert back.shape == img.shape
    assert len(api.compress(img, lm, layers=1)) < len(data)


def test_zero_words_stay_zero_through_training_and_are_found_again(image_folder, tmp_path):
    """zero_words: every codebook keeps one word at exactly zero through optimizer steps and
    revivals; the words are found again from the weights (as a resumed run finds them); at a
    high lam the search uses them."""
    from vqcodec.presets import IMAGE_PRESETS
    from vqcodec.train import train

    preset = dict(IMAGE_PRESETS["tiny-dct"], zero_words=True)
    run = tmp_path / "z"
    train(image_folder, run, preset=preset, device="cpu", seed=0, echo=lambda s: None,
          steps=30, prior_steps=3)
    lm = load_model(run)
    q = lm.codec.quantizer
    for cb in q.codebooks:
        assert ((cb.abs().amax(-1) == 0).sum(-1) == 1).all()  # one zero word per codebook
    q.hold_zero_words()  # found again from the data: no other word is zeroed
    assert [int(z.sum()) for z in q.zero_masks] == [cb.shape[0] * cb.shape[1] for cb in q.codebooks]
    assert json.loads((run / "config.json").read_text())["training"]["zero_words"] is True
    img = synthetic_image(32, 32, 3)
    x = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        codes = q.search(lm.codec.encoder(x), lam=10.0)  # (1, n, G, h, w)
    k1 = codes[:, 0].permute(0, 2, 3, 1).reshape(-1, q.g)  # layer-1 words, (N, G)
    is_zero = q.zero_masks[0][:, 0]  # (G, m): layer 1 has one codebook per group
    assert is_zero[torch.arange(q.g), k1].float().mean() > 0.5  # lam 10: mostly "nothing"
    back = api.decompress(api.compress(img, lm, rdo=0.1), lm)
    assert back.shape == img.shape


def test_post_filter_grows_from_a_parent_as_an_identity_and_trains_alone(image_folder, tmp_path):
    """post_blocks: a dct model gets a 1/4-resolution refinement after its block decoder; grown
    from a parent without one (--init) it decodes exactly as the parent did, and trained as the
    decoder alone it changes the picture but not a byte of the parent's codes."""
    from safetensors.torch import load_file

    from vqcodec.train import TrainConfig, train

    parent = train(image_folder, tmp_path / "p", preset="tiny-dct", device="cpu", seed=0,
                   echo=lambda s: None, steps=10, prior_steps=3)
    post = {"post_blocks": 1, "post_width": 16}
    grown = train(TrainConfig.from_preset(image_folder, tmp_path / "g", "tiny-dct", steps=0,
                                          prior_steps=0, init=parent, device="cpu",
                                          overrides={**post, "init_prior": True}),
                  echo=lambda s: None)
    a, b = load_model(parent), load_model(grown)
    assert b.codec.decoder.post is not None and a.codec.decoder.post is None
    img = synthetic_image(30, 38, 3)  # 15 x 19 latent: sides not multiples of 4 after stride 2
    data, data_b = api.compress(img, a), api.compress(img, b)
    assert container.unpack(data_b).segments == container.unpack(data).segments  # same codes
    assert np.array_equal(api.decompress(data_b, b), api.decompress(data, a))  # same picture
    trained = train(TrainConfig.from_preset(image_folder, tmp_path / "t", "tiny-dct", steps=5,
                                            prior_steps=0, init=grown, device="cpu",
                                            overrides={**post, "init_prior": True,
                                                       "train_only": "decoder", "lr": 1e-2}),
                    echo=lambda s: None)
    before, after = (load_file(f / "model.safetensors") for f in (grown, trained))
    assert all(torch.equal(v, before[k]) for k, v in after.items() if not k.startswith("decoder."))
    assert any(not torch.equal(v, before[k]) for k, v in after.items()
               if k.startswith("decoder.post."))
    c = load_model(trained)
    data_c = api.compress(img, c)
    assert container.unpack(data_c).segments == container.unpack(data).segments
    back = api.decompress(data_c, c)
    assert back.shape == img.shape and not np.array_equal(back, api.decompress(data, a))
    with pytest.raises(ValueError, match="another architecture"):  # post_width alone differs
        train(TrainConfig.from_preset(image_folder, tmp_path / "x", "tiny-dct", steps=0,
                                      prior_steps=0, init=trained, device="cpu",
                                      overrides={**post, "post_width": 8}), echo=lambda s: None)


def test_lapped_synthesis_grows_from_a_block_parent_as_an_identity(image_folder, tmp_path):
    """synth_kernel 3: each block is drawn from its 3 x 3 neighbourhood of feature vectors.
    Grown from a block-synthesis parent (--init) it decodes exactly as the parent did (border
    taps zero); once trained, the border taps are used; it cannot be narrowed again."""
    from vqcodec.train import TrainConfig, train

    parent = train(image_folder, tmp_path / "p", preset="tiny-dct", device="cpu", seed=0,
                   echo=lambda s: None, steps=10, prior_steps=3)
    lap = {"synth_kernel": 3, "init_prior": True}
    grown = train(TrainConfig.from_preset(image_folder, tmp_path / "g", "tiny-dct", steps=0,
                                          prior_steps=0, init=parent, device="cpu",
                                          overrides=lap), echo=lambda s: None)
    a, b = load_model(parent), load_model(grown)
    img = synthetic_image(30, 38, 3)
    data, data_b = api.compress(img, a), api.compress(img, b)
    assert container.unpack(data_b).segments == container.unpack(data).segments
    assert np.array_equal(api.decompress(data_b, b), api.decompress(data, a))
    trained = train(TrainConfig.from_preset(image_folder, tmp_path / "t", "tiny-dct", steps=5,
                                            prior_steps=0, init=grown, device="cpu",
                                            overrides={**lap, "lr": 1e-2}), echo=lambda s: None)
    border = torch.ones(3, 3, dtype=torch.bool)
    border[1, 1] = False
    w_grown = b.codec.decoder.net[-2].weight
    w_trained = load_model(trained).codec.decoder.net[-2].weight
    assert w_grown.shape[-2:] == (3, 3) and not w_grown[..., border].any()
    assert w_trained[..., border].abs().sum() > 0  # trained, the neighbours' vectors are used
    with pytest.raises(ValueError, match="cannot lap"):
        train(TrainConfig.from_preset(image_folder, tmp_path / "x", "tiny-dct", steps=0,
                                      prior_steps=0, init=trained, device="cpu",
                                      overrides={"synth_kernel": 1}), echo=lambda s: None)


def test_bench_sweeps_lams_without_lam_zero(lowres_model):
    """The per-layer index statistics come from lam 0; a sweep without it (bench_shards.py's
    LAMBDAS) gives the rows and no statistics instead of dividing by zero."""
    from vqcodec.image_bench import _bench_model

    rows, stats = _bench_model(str(lowres_model), {"a.png": synthetic_image(48, 64, 2)}, "cpu",
                               lambda s: None, (0.1,))
    assert stats == [] and {r["codec"].split("@")[1] for r in rows} == {"1/lam0.1", "2/lam0.1"}
    rows, stats = _bench_model(str(lowres_model), {"a.png": synthetic_image(48, 64, 2)}, "cpu",
                               lambda s: None, (0.0,))
    assert [s["layer"] for s in stats] == [1, 2]


def test_lowfreq_emphasis_weighs_the_groups_seen_in_block_means():
    """lowfreq_weight: the probe measures each group's share in the decoded picture's block
    means, and the search weighs group g by sens * (1 + kappa * share); lam keeps its scale."""
    torch.manual_seed(0)
    plain = ProductHRVQ(dim=8, groups=2, codebook_size=4, num_layers=1, weighted=True)
    assert "lowfreq" not in plain.state_dict()  # the models shipped before keep their tensors
    q = ProductHRVQ(dim=8, groups=2, codebook_size=4, num_layers=1, weighted=True,
                    lowfreq_weight=4.0)
    checker = torch.tensor([[1.0, -1.0], [-1.0, 1.0]]).repeat(6, 6)  # no block mean at all

    def decode(z):  # group 0 paints flat 2x2 blocks, group 1 a pattern inside them
        up = F.interpolate(z, scale_factor=2, mode="nearest")
        return up[:, :4].sum(1, keepdim=True) + up[:, 4:].sum(1, keepdim=True) * checker

    q.probe_sensitivity(decode, torch.randn(2, 8, 6, 6), block=2)
    assert torch.allclose(q.lowfreq, torch.tensor([1.0, 0.0]), atol=1e-5)
    w = (q.sens * q.scale).mean() / q.search_scale()
    assert torch.allclose(w, q.sens * torch.tensor([5.0, 1.0]))
    q.lowfreq_weight = 0.0
    assert torch.allclose((q.sens * q.scale).mean() / q.search_scale(), q.sens)


def test_a_fork_resumed_with_lowfreq_emphasis_probes_it_before_coding(lowres_model, image_folder,
                                                                       tmp_path):
    """A checkpoint copied and resumed under a preset with lowfreq_weight: the config takes it,
    stage 2 probes the emphasis before the coder's search, and the model ships with it."""
    import shutil

    from vqcodec.train import TrainConfig, train

    over = {"search_weight": "decoder", "init_prior": True, "prior_codes": "coder"}
    kw = dict(steps=4, prior_steps=2, device="cpu")
    train(TrainConfig.from_preset(image_folder, tmp_path / "a", "tiny-lowres", init=lowres_model,
                                  overrides=over, stop_at=2, **kw), echo=lambda s: None)
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    said: list[str] = []
    out = train(TrainConfig.from_preset(image_folder, tmp_path / "b", "tiny-lowres", resume=True,
                                        overrides={**over, "lowfreq_weight": 4.0}, **kw),
                echo=said.append)
    assert any("low-frequency emphasis probed" in s for s in said)
    assert json.loads((out / "config.json").read_text())["lowfreq_weight"] == 4.0
    lm = load_model(out)
    q = lm.codec.quantizer
    assert q.lowfreq_weight == 4.0 and bool((q.lowfreq > 0).any()) and bool((q.lowfreq < 1).all())
    img = np.random.default_rng(0).integers(0, 256, (40, 48, 3), dtype=np.uint8)
    assert api.decompress(api.compress(img, lm, rdo=0.1), lm).shape == img.shape
