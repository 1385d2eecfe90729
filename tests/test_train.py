"""Training: the CLI on a user's folder, resume, bad folders, and torchrun with 2 CPU processes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import torch
from PIL import Image
from safetensors.torch import load_file

from tests.conftest import synthetic_image
from vqcodec import api
from vqcodec.models import load_model

REPO = Path(__file__).resolve().parents[1]


def run(*args, env=None):
    e = dict(os.environ, OMP_NUM_THREADS="1", **(env or {}))
    return subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True,
                          cwd=REPO, env=e, timeout=300)


def test_train_cli_then_use_and_resume(image_folder, tmp_path):
    out = tmp_path / "m"
    r = run("-m", "vqcodec", "train", "--data", image_folder, "--out", out, "--preset", "tiny",
            "--steps", "30", "--prior-steps", "10")
    assert r.returncode == 0, r.stderr
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["num_layers"] == 2 and cfg["training"]["steps"] == 30
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert any("perplexity" in rec and "dead" in rec for rec in log)
    assert any("bits_per_layer" in rec for rec in log)
    lm = load_model(out)
    img = synthetic_image(20, 24, 0)
    assert api.decompress(api.compress(img, lm), lm).shape == img.shape
    # --init: stage 1 starts from that model's autoencoder and codebooks (0 steps: unchanged).
    ft = tmp_path / "ft"
    r = run("-m", "vqcodec", "train", "--data", image_folder, "--out", ft, "--preset", "tiny",
            "--init", out, "--steps", "0", "--prior-steps", "5")
    assert r.returncode == 0, r.stderr
    a, b = load_file(str(out / "model.safetensors")), load_file(str(ft / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert json.loads((ft / "config.json").read_text())["training"]["init"]["name"] == "m"
    r = run("-m", "vqcodec", "train", "--data", image_folder, "--out", tmp_path / "bad",
            "--preset", "cifar", "--init", out, "--steps", "1")
    assert r.returncode == 1 and "another architecture" in r.stderr and "Traceback" not in r.stderr
    # The folder holds a model: refused without --resume, continued with it.
    r = run("-m", "vqcodec", "train", "--data", image_folder, "--out", out, "--preset", "tiny")
    assert r.returncode == 1 and "--resume" in r.stderr
    r = run("-m", "vqcodec", "train", "--data", image_folder, "--out", out, "--preset", "tiny",
            "--steps", "30", "--prior-steps", "12", "--resume", "--name", "renamed")
    assert r.returncode == 0, r.stderr
    assert "resuming stage 2" in (out / "train_log.jsonl").read_text()
    cfg = json.loads((out / "config.json").read_text())
    tr = cfg["training"]  # says what was run
    assert tr["prior_steps"] == 12 and tr["resumed"][0][0] == 2
    assert cfg["name"] == "renamed"  # --name on resume names the model


def test_train_bad_folders(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    r = run("-m", "vqcodec", "train", "--data", empty, "--out", tmp_path / "m", "--preset", "tiny")
    assert r.returncode == 1 and "Traceback" not in r.stderr and "need at least 2" in r.stderr
    r = run("-m", "vqcodec", "train", "--data", tmp_path / "nope", "--out", tmp_path / "m")
    assert r.returncode == 1 and "no such folder" in r.stderr
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for i in range(3):
        Image.fromarray(synthetic_image(40, 40, i)).save(mixed / f"{i}.png")
    (mixed / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    (mixed / "notes.txt").write_text("not an image")
    r = run("-m", "vqcodec", "train", "--data", mixed, "--out", tmp_path / "m2", "--preset", "tiny",
            "--steps", "5", "--prior-steps", "5")
    assert r.returncode == 0, r.stderr
    assert "skipping" in r.stderr and "broken.png" in r.stderr


def test_torchrun_two_cpu_processes(image_folder, tmp_path):
    out = tmp_path / "ddp"
    r = run("-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517",
            "-m", "vqcodec", "train", "--data", image_folder, "--out", out, "--preset", "tiny",
            "--steps", "20", "--prior-steps", "10", "--device", "cpu")
    assert r.returncode == 0, r.stderr[-2000:]
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["training"]["world_size"] == 2
    load_model(out)  # its prior verifies: rank 0 wrote a consistent model


def test_ms_ssim_share_is_added_to_the_mse(image_folder, tmp_path):
    """ms_ssim_weight adds that much 1 - MS-SSIM (7-tap window, so 128 px crops work) to the
    MSE, and a crop too small for MS-SSIM's scales is refused before anything is written."""
    import pytest
    import torch
    from pytorch_msssim import ms_ssim

    from vqcodec.train import TrainConfig
    from vqcodec.train_image import ImageTask

    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 128, 128, generator=g)
    y = (x + 0.1 * torch.randn(2, 3, 128, 128, generator=g)).clamp(0, 1)
    mse, _ = ImageTask({}, print).recon(y, x)
    mixed, parts = ImageTask({"ms_ssim_weight": 0.5}, print).recon(y, x)
    sim = ms_ssim(y, x, data_range=1.0, win_size=7)
    assert float(mse) == pytest.approx(float(((y - x) ** 2).mean()))
    assert float(mixed) == pytest.approx(float(mse + 0.5 * (1 - sim)), rel=1e-5)
    assert parts["ms_ssim"] == round(float(sim), 4) and 0 < parts["ms_ssim"] < 1
    with pytest.raises(ValueError, match="112 px"):
        TrainConfig.from_preset(image_folder, tmp_path / "b", "tiny",
                                overrides={"ms_ssim_weight": 0.02})


def test_study_switches_train_and_are_recorded(image_folder, tmp_path):
    """The ablation switches of training/photo/ab_study.py: EMA codebooks, no revival, no layer
    dropout, the MS-SSIM loss. Each trains, and the config says how the model was made."""
    import pytest

    from vqcodec.train import TrainConfig, train

    job = TrainConfig.from_preset(image_folder, tmp_path / "m", "tiny", device="cpu", overrides=dict(
        codebook_update="ema", revive=False, layer_dropout=False, loss="ms-ssim", crop=176,
        batch_size=2, crops_per_image=1, steps=4, prior_steps=2))
    out = train(job, echo=lambda s: None)
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["codebook_update"] == "ema"
    assert {k: cfg["training"][k] for k in ("revive", "layer_dropout", "loss")} == \
        {"revive": False, "layer_dropout": False, "loss": "ms-ssim"}
    logs = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert any("ms_ssim" in r for r in logs if r.get("stage") == 1)
    assert load_model(out).codec.quantizer.update == "ema"
    with pytest.raises(ValueError, match="176 px"):
        TrainConfig.from_preset(image_folder, tmp_path / "b", "tiny", overrides={"loss": "ms-ssim"})
    with pytest.raises(TypeError, match="cfg's"):  # settings belong in the config, not beside it
        train(job, steps=3)


def test_bf16_preset_trains_in_float32_where_bf16_is_emulated(image_folder, tmp_path, monkeypatch):
    """A bf16 preset on a device without native bf16 (an AVX2-only CPU: emulated bf16 made a
    photo-v5 step > 10x slower) trains in float32, says so, and its config records float32;
    where bf16 is native the preset's choice stands."""
    import vqcodec.train_run as train_run
    from vqcodec.train import TrainConfig, train

    said: list[str] = []
    for native, folder in ((False, "f32"), (True, "bf16")):
        monkeypatch.setattr(train_run, "fast_bf16", lambda dev, native=native: native)
        job = TrainConfig.from_preset(image_folder, tmp_path / folder, "tiny", device="cpu",
                                      overrides=dict(bf16=True, steps=2, prior_steps=1))
        out = train(job, echo=said.append)
        assert json.loads((out / "config.json").read_text())["training"]["bf16"] is native
    assert sum("training in float32" in s for s in said) == 1


def test_keep_weights_draw_the_kept_layers():
    """keep_weights trains the rates it weights; without it the draw is the one every recipe's
    log was trained with (half the batch at all layers, half uniform), random stream included."""
    import pytest

    from vqcodec.train import draw_keep

    cpu = torch.device("cpu")
    torch.manual_seed(0)
    keep = draw_keep({"keep_weights": [0, 1, 0, 0]}, 4, 64, cpu)
    assert keep.tolist() == [2] * 64
    keep = draw_keep({"keep_weights": [1, 5, 1, 1]}, 4, 4000, cpu)
    share = torch.bincount(keep, minlength=5)[1:].float() / 4000
    assert abs(share[1] - 5 / 8) < 0.03 and all(abs(share[i] - 1 / 8) < 0.03 for i in (0, 2, 3))
    torch.manual_seed(1)
    old = torch.randint(1, 5, (16,))
    old[:8] = 4
    after_old = torch.rand(1)
    torch.manual_seed(1)
    assert draw_keep({}, 4, 16, cpu).tolist() == old.tolist()
    assert torch.rand(1) == after_old  # the same stream afterwards too
    # layer_dropout off keeps every layer, whatever the weights say
    assert draw_keep({"layer_dropout": False, "keep_weights": [1, 0]}, 2, 8, cpu).tolist() == [2] * 8
    with pytest.raises(ValueError, match="4 weights"):
        draw_keep({"keep_weights": [1, 1]}, 4, 8, cpu)
    with pytest.raises(ValueError, match="4 weights"):
        draw_keep({"keep_weights": [0, 0, 0, 0]}, 4, 8, cpu)
