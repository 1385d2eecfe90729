"""Rate and quality targets (vqcodec.targets, compress --bpp/--kbps/--psnr/--max-size) and
truncate: the choice, the warnings, byte identity with --layers, and every bad target."""

import json

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import EXAMPLES, invoke, shared_data
from tests.test_cli import fails_cleanly
from vqcodec import api, container, media, targets
from vqcodec.models import load_model
from vqcodec.targets import Target, TargetError


@pytest.fixture(scope="module")
def photo_model():
    return load_model("photo-v3")


@pytest.fixture(scope="module")
def small_photo(tmp_path_factory):
    p = tmp_path_factory.mktemp("targets") / "crop.png"
    media.save_image(media.load_image(EXAMPLES / "photo.png")[100:196, 200:328], p)
    return p


@pytest.fixture(scope="module")
def cands(photo_model, small_photo):
    return targets.candidates(api.compress(media.load_image(small_photo), photo_model))


def test_parse_size():
    assert targets.parse_size("20KB") == 20000 and targets.parse_size("20 KiB") == 20480
    assert targets.parse_size("1.5MB") == 1500000 and targets.parse_size("300") == 300
    assert targets.parse_size("300b") == 300 and targets.parse_size("2MiB") == 2 << 20
    for bad in ("", "KB", "12XB", "-5KB", "0", "0.5B", "1e400"):
        with pytest.raises(TargetError):
            targets.parse_size(bad)


def test_one_target_at_a_time_and_positive():
    assert Target.from_options() is None
    assert Target.from_options(bpp=0.3) == Target("bpp", 0.3)
    assert Target.from_options(max_size="2KiB") == Target("max_size", 2048)
    with pytest.raises(TargetError, match="not several"):
        Target.from_options(layers=2, bpp=0.3)
    for kw in ({"bpp": 0}, {"kbps": -1}, {"psnr": float("nan")}, {"layers": 0},
               {"bpp": float("inf")}):
        with pytest.raises(TargetError, match="positive"):
            Target.from_options(**kw)
    with pytest.raises(TargetError, match="not for image"):
        Target("kbps", 3).check("image")
    with pytest.raises(TargetError, match="not for audio"):
        Target("psnr", 30).check("audio")


def test_candidates_are_the_layer_prefixes(cands, photo_model, small_photo):
    img = media.load_image(small_photo)
    assert [c.setting for c in cands] == [{"layers": k} for k in (1, 2, 3, 4)]
    sizes = [c.nbytes for c in cands]
    assert sizes == sorted(sizes) and len(set(sizes)) == 4
    for c in cands[:-1]:  # byte-identical to compressing with fewer layers
        assert c.data == api.compress(img, photo_model, c.setting["layers"])


def test_choose_rate_targets(cands):
    r = [c.rate() for c in cands]
    pick, note = targets.choose(cands, Target("bpp", (r[1] + r[2]) / 2))
    assert pick.setting == {"layers": 2} and note is None
    pick, _ = targets.choose(cands, Target("bpp", r[3]))  # the limit itself is allowed
    assert pick.setting == {"layers": 4}
    pick, _ = targets.choose(cands, Target("max_size", cands[2].nbytes + 1))
    assert pick.setting == {"layers": 3}
    pick, note = targets.choose(cands, Target("bpp", r[0] / 2))
    assert pick.setting == {"layers": 1} and "below the lowest rate" in note
    with pytest.raises(TargetError, match="below the lowest rate"):
        targets.choose(cands, Target("max_size", 10), strict=True)


def test_choose_psnr_decodes_smallest_first(cands):
    seen = []

    def quality(c):
        seen.append(c.setting["layers"])
        return 20.0 + 2 * c.setting["layers"]

    pick, note = targets.choose(cands, Target("psnr", 25), quality)
    assert pick.setting == {"layers": 3} and note is None and seen == [1, 2, 3]
    pick, note = targets.choose(cands, Target("psnr", 99), quality)
    assert pick.setting == {"layers": 4} and "out of reach" in note


def test_compress_to_target_psnr_is_met(photo_model, small_photo):
    img = media.load_image(small_photo)
    data, note = targets.compress_to_target(img, photo_model, Target("psnr", 22))
    assert note is None and targets.psnr(img, api.decompress(data, photo_model)) >= 22
    data, note = targets.compress_to_target(img, photo_model, Target("psnr", 60))
    assert "out of reach" in note and container.read_header(data).num_layers == 4


def test_cli_bpp_on_kodim23_is_the_largest_layer_count_under_it(tmp_path):
    # photo-v3: a model whose only knob is the layer count (the default has lam too)
    src = shared_data("kodak", "kodim23.png")
    r = invoke("compress", src, "-o", tmp_path / "k.vqc", "--bpp", "0.3", "--json",
               "--model", "photo-v3")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["bpp"] <= 0.3 and res["layers"] == 2 and res["target"]["kind"] == "bpp"
    more = targets.candidates((tmp_path / "k.vqc").read_bytes())  # layer 3 would exceed it
    assert len(more) == 2
    r = invoke("compress", src, "-o", tmp_path / "p.vqc", "--psnr", "28", "--model", "photo-v3")
    assert r.returncode == 0, r.stderr
    got = targets.psnr(media.load_image(src), api.decompress((tmp_path / "p.vqc").read_bytes()))
    assert got >= 28 or "out of reach" in r.stderr, (got, r.stderr)


def test_cli_max_size_and_kbps(small_photo, tmp_path):
    r = invoke("compress", small_photo, "-o", tmp_path / "m.vqc", "--max-size", "1KB")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "m.vqc").stat().st_size <= 1000
    x, rate = sf.read(EXAMPLES / "speech.flac")
    r = invoke("compress", EXAMPLES / "speech.flac", "-o", tmp_path / "s.vqc", "--kbps", "3",
            "--json")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["kbps"] <= 3 and 8 * res["bytes"] / (len(x) / rate) / 1000 <= 3
    assert res["layers"] >= 2  # 1 layer is about 1.4 kbps, 2 about 2.7


def test_cli_unreachable_target_warns_or_fails_strictly(small_photo, tmp_path):
    r = invoke("compress", small_photo, "-o", tmp_path / "w.vqc", "--bpp", "0.001")
    assert r.returncode == 0 and "warning:" in r.stderr and "below the lowest" in r.stderr
    assert container.read_header((tmp_path / "w.vqc").read_bytes()).num_layers == 1
    r = invoke("compress", small_photo, "-o", tmp_path / "s.vqc", "--bpp", "0.001", "--strict")
    fails_cleanly(r, "below the lowest")
    assert not (tmp_path / "s.vqc").exists()


@pytest.mark.parametrize("args,words", [
    (["--bpp", "-1"], ["positive"]), (["--bpp", "0"], ["positive"]),
    (["--psnr", "0"], ["positive"]), (["--max-size", "0"], ["at least 1 byte"]),
    (["--max-size", "12XB"], ["bad size"]), (["--kbps", "3"], ["not for image"]),
    (["--layers", "0"], ["positive"]), (["--layers", "9"], ["between 1 and"]),
    (["--bpp", "0.3", "--max-size", "2KB"], ["not several"]),
    (["--bpp", "abc"], ["a number"]), (["--layers", "1.5"], ["whole number"]),
])
def test_cli_bad_targets(small_photo, tmp_path, args, words):
    fails_cleanly(invoke("compress", small_photo, "-o", tmp_path / "bad.vqc", *args), *words)
    assert not (tmp_path / "bad.vqc").exists()


def test_truncate_is_compress_with_fewer_layers(small_photo, tmp_path):
    full, two, cut = tmp_path / "4.vqc", tmp_path / "2.vqc", tmp_path / "cut.vqc"
    assert invoke("compress", small_photo, "-o", full).returncode == 0
    assert invoke("compress", small_photo, "-o", two, "--layers", "2").returncode == 0
    r = invoke("truncate", full, "-o", cut, "--layers", "2", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["layers"] == 2
    assert cut.read_bytes() == two.read_bytes()
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    assert invoke("decompress", cut, "-o", a).returncode == 0
    assert invoke("decompress", two, "-o", b).returncode == 0
    assert np.array_equal(media.load_image(a), media.load_image(b))
    r = invoke("truncate", full, "-o", tmp_path / "s.vqc", "--max-size", str(two.stat().st_size))
    assert r.returncode == 0 and (tmp_path / "s.vqc").read_bytes() == two.read_bytes()


def test_truncate_audio_matches_compress(tmp_path):
    src = tmp_path / "s.wav"
    x, rate = sf.read(EXAMPLES / "speech.flac")
    sf.write(src, x[:rate], rate)
    assert invoke("compress", src, "-o", tmp_path / "4.vqc").returncode == 0
    assert invoke("compress", src, "-o", tmp_path / "1.vqc", "--layers", "1").returncode == 0
    assert invoke("truncate", tmp_path / "4.vqc", "-o", tmp_path / "c.vqc", "--kbps", "2"
               ).returncode == 0
    assert (tmp_path / "c.vqc").read_bytes() == (tmp_path / "1.vqc").read_bytes()


def test_truncate_bad_input(small_photo, tmp_path):
    full = tmp_path / "4.vqc"
    assert invoke("compress", small_photo, "-o", full, "--layers", "3").returncode == 0
    out = tmp_path / "o.vqc"
    fails_cleanly(invoke("truncate", full, "-o", out, "--layers", "5"), "stores only 3")
    fails_cleanly(invoke("truncate", full, "-o", out), "give one of")
    fails_cleanly(invoke("truncate", full, "-o", out, "--kbps", "2"), "not for image")
    fails_cleanly(invoke("truncate", full, "-o", out, "--psnr", "28"), "with compress")
    fails_cleanly(invoke("truncate", full, "-o", out, "--layers", "-2"), "positive")
    fails_cleanly(invoke("truncate", small_photo, "-o", out, "--layers", "1"), "not a .vqc")
    fails_cleanly(invoke("truncate", full, "-o", full, "--layers", "1", "--force"), "input")
    assert not out.exists()


def test_lambda_is_a_knob_of_entropy_constrained_models(lowres_model):
    lm = load_model(lowres_model)
    img = media.load_image(EXAMPLES / "photo.png")[:64, :96]
    cands = targets.image_candidates(img, lm)
    lams = sorted({c.setting["rdo"] for c in cands})
    assert lams == sorted(targets.LAMBDAS) and len(cands) == len(lams) * lm.codec.num_layers
    for c in cands:  # each cut is what compress gives with that layer count and lam
        if c.setting["layers"] < lm.codec.num_layers:
            assert c.data == api.compress(img, lm, c.setting["layers"], rdo=c.setting["rdo"])
    limit = sorted(c.rate() for c in cands)[len(cands) // 2]
    data, note = targets.compress_to_target(img, lm, Target("bpp", limit))
    fits = [c for c in cands if c.rate() <= limit]
    best = max(targets.psnr(img, api.decompress(c.data, lm)) for c in fits)
    assert note is None and data in [c.data for c in fits]
    assert targets.psnr(img, api.decompress(data, lm)) == best


def test_a_long_lam_ladder_is_bisected(lowres_model, tmp_path, monkeypatch):
    """More than BISECT_ABOVE lams: a target costs about log2(len) encodes, meets the target,
    and its pick comes from the lam whose whole file is the first to fit (or the one below)."""
    from tests.test_models import broken_copy  # a copy of a model folder to edit

    m = broken_copy(lowres_model, tmp_path)
    cfg = json.loads((m / "config.json").read_text())
    cfg["target_lambdas"] = [0.0, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.3, 0.6, 1.0]
    (m / "config.json").write_text(json.dumps(cfg))
    lm = load_model(m)
    img = media.load_image(EXAMPLES / "photo.png")[:64, :96]
    every = targets.image_candidates(img, lm)
    real, calls = api.compress, []
    monkeypatch.setattr(api, "compress", lambda *a, **k: calls.append(k["rdo"]) or real(*a, **k))
    n = lm.codec.num_layers
    whole = {c.setting["rdo"]: c.rate() for c in every if c.setting["layers"] == n}
    lams = sorted(whole)
    for limit in sorted({c.rate() for c in every})[2::3]:
        calls.clear()
        data, note = targets.compress_to_target(img, lm, Target("bpp", limit))
        assert note is None and targets.Candidate({}, data).rate() <= limit and len(calls) <= 5
        # a boundary the bisection found (no whole file fits: the last lam, whose cuts may)
        j = next((k for k in range(len(lams)) if lams[k] in calls and whole[lams[k]] <= limit
                  and (k == 0 or whole[lams[k - 1]] > limit)), len(lams) - 1)
        assert data in [c.data for c in every if c.setting["rdo"] in lams[max(j - 1, 0):j + 1]]
    calls.clear()
    want = targets.psnr(img, api.decompress(every[len(every) // 2].data, lm))
    data, note = targets.compress_to_target(img, lm, Target("psnr", want))
    assert note is None and len(calls) <= 5
    assert targets.psnr(img, api.decompress(data, lm)) >= want


def test_bisection_finds_what_trying_every_lam_finds_on_the_default_model():
    """On a real model bytes and quality fall with lam, so the bracket holds the best file."""
    from vqcodec.models import DEFAULTS

    lm = load_model(DEFAULTS["image"])
    if len(targets.knob_settings(lm)) <= targets.BISECT_ABOVE:
        pytest.skip("the default model's ladder is tried in full")
    img = media.load_image(EXAMPLES / "photo.png")[:128, :192]
    every = targets.image_candidates(img, lm)
    q = {c.data: targets.psnr(img, api.decompress(c.data, lm)) for c in every}
    for limit in (0.3, 0.6, 1.0, 1.6):
        data, _ = targets.compress_to_target(img, lm, Target("bpp", limit))
        best = max(q[c.data] for c in every if c.rate() <= limit)
        assert q[data] >= best - 0.2, limit



def test_an_image_model_may_store_fewer_layers_by_default(lowres_model, tmp_path):
    """config "default_layers" (photo-v5-g48-c11: 2 of 3) sets what compress() stores without
    --layers; targets and the bench still see every layer count."""
    from tests.test_models import broken_copy  # a copy of a model folder to edit
    m = broken_copy(lowres_model, tmp_path)
    cfg = json.loads((m / "config.json").read_text())
    cfg["default_layers"] = 1
    (m / "config.json").write_text(json.dumps(cfg))
    lm = load_model(m)
    img = media.load_image(EXAMPLES / "photo.png")[:64, :96]
    assert lm.codec.num_layers == 2
    assert container.read_header(api.compress(img, lm)).num_layers == 1
    assert api.compress(img, lm) == api.compress(img, lm, 1)
    assert container.read_header(api.compress(img, lm, 2)).num_layers == 2
    cands = targets.image_candidates(img, lm)
    assert {c.setting["layers"] for c in cands} == {1, 2}
