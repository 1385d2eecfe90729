"""Coverage-guided fuzzing with atheris (libFuzzer for Python) of the .vqc reader, the whole
decode path, and the image and audio loaders.

    python tests/fuzz_atheris.py run container --runs 1000000   # the long runs, with a report
    python tests/fuzz_atheris.py run decode --runs 20000
    python tests/fuzz_atheris.py run image --runs 100000
    python tests/fuzz_atheris.py run audio --runs 50000

`run` starts libFuzzer in a child process with a memory limit (-rss_limit_mb, default 1536) and
a per-input time limit (-timeout, default 1 s), on a corpus seeded with real files that the API
writes with tiny models (trained once into the work folder, ~30 s, or given with
VQCODEC_FUZZ_IMAGE_MODEL / VQCODEC_FUZZ_AUDIO_MODEL). Any exception other than the project's
own refusal (ContainerError, CodecError, MediaError), a crash, a timeout or the memory limit
stops the run with the input saved. At the end the corpus is replayed under coverage.py and the
report (executions, exec/s, findings, peak RSS, line coverage of container.py or of the modules
the target reaches) is written to tests/fuzz_results/TARGET.json. tests/test_fuzz.py runs each
target for a few seconds in CI.

The .vqc targets use a structure-aware mutator (tests/vqc_mutator.py) that writes valid
checksums, so inputs get past the CRCs to the checks behind them; the image target fixes PNG
chunk CRCs the same way. Invariants checked beyond "no crash": a file unpack() accepts packs
back to the same bytes, and read_header(), inspect() and read_header_file() agree with it.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
RESULTS = REPO / "tests" / "fuzz_results"
TARGETS = ("container", "decode", "image", "audio")
COVERED = {"container": ["vqcodec/container.py"],
           "decode": ["vqcodec/container.py", "vqcodec/api.py", "vqcodec/image_codec.py",
                      "vqcodec/audio_codec.py", "vqcodec/limits.py", "vqcodec/coding.py"],
           "image": ["vqcodec/media.py", "vqcodec/bombs.py"], "audio": ["vqcodec/audio.py"]}


# -- seeds ---------------------------------------------------------------------------------------
def tiny_models(work: Path) -> tuple[Path, Path]:
    """Image and audio models for the decode target: given by the environment, else trained
    once into work/models (the tests' tiny presets)."""
    import soundfile as sf
    from PIL import Image

    from tests.conftest import speechlike, synthetic_image
    from vqcodec.train import train

    img = os.environ.get("VQCODEC_FUZZ_IMAGE_MODEL") or work / "models" / "image"
    aud = os.environ.get("VQCODEC_FUZZ_AUDIO_MODEL") or work / "models" / "audio"
    img, aud = Path(img), Path(aud)
    if not (img / "config.json").is_file():
        d = work / "train_images"
        d.mkdir(parents=True, exist_ok=True)
        for i in range(8):
            Image.fromarray(synthetic_image(64, 80, i)).save(d / f"img{i}.png")
        train(d, img, preset="tiny", device="cpu", echo=lambda s: None)
    if not (aud / "config.json").is_file():
        d = work / "train_audio"
        d.mkdir(parents=True, exist_ok=True)
        for i in range(6):
            sf.write(d / f"clip{i}.wav", speechlike(1.5, 8000, i), 8000)
        train(d, aud, preset="tiny-audio", device="cpu", echo=lambda s: None)
    return img, aud


def vqc_seeds(image_model, audio_model) -> list[bytes]:
    """Real files: images of several sizes and layer counts, a tiled one, grey; mono, stereo
    and many-chunk audio."""
    from tests.conftest import speechlike, synthetic_image
    from vqcodec import api, audio_codec

    out = [api.compress(synthetic_image(h, w, s), image_model, layers=k)
           for s, (h, w) in enumerate([(24, 32), (17, 9), (40, 40)])
           for k in range(1, image_model.codec.num_layers + 1)]
    out.append(api.compress(synthetic_image(20, 12, 5, gray=True), image_model))
    out += api.compress_many([synthetic_image(70, 80, 6)], image_model, tile=32)
    out.append(audio_codec.compress_audio(speechlike(0.3, 8000, 1), 8000, audio_model))
    out.append(audio_codec.compress_audio(speechlike(0.4, 16000, 2, 2), 16000, audio_model, 1))
    out.append(audio_codec.compress_audio(speechlike(0.9, 11025, 3), 11025, audio_model,
                                          seconds=0.25))
    return out


def image_seeds() -> list[bytes]:
    from PIL import Image

    from tests.conftest import synthetic_image

    rgb = synthetic_image(12, 16, 1)
    imgs = {"RGB": Image.fromarray(rgb), "L": Image.fromarray(rgb[:, :, 0]),
            "RGBA": Image.fromarray(np.dstack([rgb, rgb[:, :, :1]])),
            "I;16": Image.fromarray(rgb[:, :, 0].astype(np.uint16) * 257)}
    imgs["P"] = imgs["RGB"].quantize(8)
    out = []
    for fmt in ("PNG", "JPEG", "WEBP", "BMP", "TIFF", "GIF", "PPM", "TGA"):
        for im in imgs.values():
            buf = io.BytesIO()
            try:
                im.save(buf, format=fmt)
            except (OSError, ValueError, KeyError):
                continue
            out.append(buf.getvalue())
    return out


def audio_seeds() -> list[bytes]:
    import soundfile as sf

    from tests.conftest import speechlike

    out = []
    for fmt, sub, rate, ch in (("WAV", "PCM_16", 8000, 1), ("WAV", "FLOAT", 16000, 2),
                               ("FLAC", "PCM_16", 8000, 1), ("FLAC", "PCM_24", 22050, 2),
                               ("OGG", "VORBIS", 8000, 1)):
        buf = io.BytesIO()
        sf.write(buf, speechlike(0.05, rate, 0, ch), rate, subtype=sub, format=fmt)
        out.append(buf.getvalue())
    return out


def corpus_dir(target: str, work: Path) -> Path:
    """The target's corpus; for .vqc targets one per pair of models (seeds made by other models
    would all stop at the identity check and never reach the decoder)."""
    if target not in ("container", "decode"):
        return work / "corpus" / target
    from vqcodec.models import model_id

    img, aud = tiny_models(work)
    return work / "corpus" / f"{target}-{model_id(img).hex()[:8]}-{model_id(aud).hex()[:8]}"


def write_seeds(target: str, corpus: Path, work: Path) -> None:
    corpus.mkdir(parents=True, exist_ok=True)
    if any(corpus.iterdir()):
        return
    if target in ("container", "decode"):
        from vqcodec.models import load_model

        img, aud = tiny_models(work)
        seeds = vqc_seeds(load_model(img), load_model(aud))
    else:
        seeds = image_seeds() if target == "image" else audio_seeds()
    for i, s in enumerate(seeds):
        (corpus / f"seed{i:03d}").write_bytes(s)


# -- targets (run inside the libFuzzer child) ----------------------------------------------------
def container_target():
    from vqcodec import container

    def one(data: bytes) -> None:
        try:
            f = container.unpack(data)
        except container.ContainerError:
            f = None
        try:
            head, per_layer = container.inspect(data)
        except container.ContainerError:
            head = None
        assert (f is None) == (head is None), "inspect and unpack disagree"
        if f is not None:
            assert container.pack(f) == data, "a file unpack() accepts must pack to itself"
            assert per_layer == f.layer_bytes()
            assert container.read_header(data).segments[0].latent_shape == f.segments[0].latent_shape
            assert container.read_header_file(io.BytesIO(data)).num_layers == f.num_layers
            container.truncate(f, 1)
        container.peek_modality(data)
        for fn in (container.header_size, lambda d: container.read_header_file(io.BytesIO(d))):
            try:
                fn(data)
            except container.ContainerError:
                pass
    return one


def decode_target(work: Path):
    from vqcodec import api, audio_codec, container
    from vqcodec.models import load_model

    img, aud = tiny_models(work)
    image_model, audio_model = load_model(img), load_model(aud)
    ids = {image_model.model_id, audio_model.model_id}
    counts = {"inputs": 0, "past_container": 0, "reached_decoder": 0, "decoded": 0}
    out = work / "decode.outcomes.json"

    def one(data: bytes) -> None:
        counts["inputs"] += 1
        try:
            head = container.unpack(data)
            counts["past_container"] += 1
            counts["reached_decoder"] += head.model_id in ids  # the rest stop at the identity
        except container.ContainerError:
            pass
        try:
            if container.peek_modality(data) == "audio":
                audio_codec.decompress_audio(data, audio_model)
            else:
                api.decompress(data, image_model)
            counts["decoded"] += 1
            api.info(data)
        except api.CodecError:
            pass
        if counts["inputs"] % 500 == 0:
            out.write_text(json.dumps(counts))
    return one


def image_target(work: Path):
    from vqcodec import media

    path = work / "input.img"

    def one(data: bytes) -> None:
        path.write_bytes(data)
        try:
            media.load_image(path)
        except media.MediaError:
            pass
    return one


def audio_target(work: Path):
    from vqcodec import audio
    from vqcodec.media import MediaError

    def one(data: bytes) -> None:
        ext = {b"RIFF": ".wav", b"fLaC": ".flac", b"OggS": ".ogg"}.get(data[:4], ".wav")
        path = work / f"input{ext}"
        path.write_bytes(data)
        try:
            with audio.AudioReader(path) as r:
                for _ in r.chunks(8000, 8000):
                    pass
        except MediaError:
            pass
    return one


def _child(target: str, work: Path, argv: list[str]) -> None:
    """The libFuzzer process: instrument vqcodec (not torch), then fuzz `target` forever."""
    import atheris
    import torch  # noqa: F401  (imported before instrumentation: it stays uninstrumented)
    from PIL import Image  # noqa: F401

    warnings.simplefilter("ignore")
    with atheris.instrument_imports(include=["vqcodec"]):
        import vqcodec.api  # noqa: F401
        import vqcodec.audio  # noqa: F401
        import vqcodec.audio_codec  # noqa: F401
        import vqcodec.container  # noqa: F401
        import vqcodec.image_codec  # noqa: F401
        import vqcodec.media  # noqa: F401
    from tests import vqc_mutator

    fn = {"container": lambda: container_target(), "decode": lambda: decode_target(work),
          "image": lambda: image_target(work), "audio": lambda: audio_target(work)}[target]()
    if target in ("container", "decode"):
        def mutator(data, max_size, seed):
            return vqc_mutator.mutate_vqc(data, max_size, seed, atheris.Mutate)
    elif target == "image":
        def mutator(data, max_size, seed):
            out = atheris.Mutate(data, max_size)
            return vqc_mutator.fix_png_crcs(out) if out[:4] == b"\x89PNG" else out
    else:
        mutator = None
    atheris.Setup([sys.argv[0], *argv], fn, custom_mutator=mutator)
    atheris.Fuzz()


# -- the long run, with a report -----------------------------------------------------------------
def _replay(target: str, work: Path) -> None:
    """Child: replay the corpus under coverage.py, started before vqcodec is imported (so its
    module-level lines count), and print the line coverage of the target's modules as JSON."""
    import coverage

    files = COVERED[target]
    cov = coverage.Coverage(include=[str(REPO / f) for f in files], data_file=None)
    cov.start()
    fn = {"container": container_target, "decode": lambda: decode_target(work),
          "image": lambda: image_target(work), "audio": lambda: audio_target(work)}[target]()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for p in sorted(corpus_dir(target, work).iterdir()):
            fn(p.read_bytes())
    cov.stop()
    out = {}
    for f in files:
        _, statements, _, missing, _ = cov.analysis2(str(REPO / f))
        out[f] = {"statements": len(statements), "missed": len(missing),
                  "percent": round(100 * (1 - len(missing) / max(1, len(statements))), 1)}
    print("COVERAGE " + json.dumps(out))


def _coverage(target: str, work: Path, env: dict) -> dict:
    proc = subprocess.run([sys.executable, __file__, "replay", target, "--work", str(work)],
                          capture_output=True, text=True, env=env, cwd=REPO)
    for line in proc.stdout.splitlines():
        if line.startswith("COVERAGE "):
            return json.loads(line[len("COVERAGE "):])
    return {"error": (proc.stdout + proc.stderr)[-2000:]}


# Executions per libFuzzer process. Under atheris' instrumentation the process grows by about
# 0.2 KB (container) to 5 KB (decode) per execution (measured; an uninstrumented loop over
# 40,000 mutated files stays flat at 272 MB, so it is the harness, not vqcodec), so a long run
# is a series of processes on one corpus, each far below the memory limit.
CHUNK = {"container": 400000, "decode": 40000, "image": 100000, "audio": 50000}


def _one_process(target: str, runs: int, work: Path, corpus: Path, artifacts: Path, rss_mb: int,
                 timeout_s: int, extra: list[str], max_time: int | None, env: dict) -> dict:
    outcomes = work / f"{target}.outcomes.json"
    outcomes.unlink(missing_ok=True)
    args = [f"-runs={runs}", f"-rss_limit_mb={rss_mb}", f"-timeout={timeout_s}",
            f"-artifact_prefix={artifacts}/", "-print_final_stats=1", "-max_len=65536",
            *([f"-max_total_time={max_time}"] if max_time else []), *extra, str(corpus)]
    proc = subprocess.run([sys.executable, __file__, "child", target, "--work", str(work), "--",
                           *args], capture_output=True, text=True, env=env, cwd=REPO)
    log = proc.stdout + proc.stderr
    with open(work / f"{target}.log", "a") as fh:
        fh.write(log[-20000:])
    stats = {k: int(v) for k, v in re.findall(r"stat::(\w+):\s+(\d+)", log)}
    stats["returncode"] = proc.returncode
    stats["tail"] = log[-3000:]
    stats["outcomes"] = json.loads(outcomes.read_text()) if outcomes.exists() else {}
    return stats


def run(target: str, runs: int, work: Path, rss_mb: int, timeout_s: int, extra: list[str],
        max_time: int | None = None, report: bool = True, chunk: int | None = None) -> dict:
    """Fuzz `target` for `runs` executions in child processes of at most `chunk` executions
    each (CHUNK); stops at the first finding. Returns (and writes) the report."""
    corpus = corpus_dir(target, work)
    write_seeds(target, corpus, work)
    artifacts = work / "findings" / target
    artifacts.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    (work / f"{target}.log").write_text("")
    t0 = time.time()
    done, peak, processes, code, tail, counts = 0, 0, 0, 0, "", {}
    while done < runs and code == 0:
        left = None if max_time is None else max(1, int(max_time - (time.time() - t0)))
        st = _one_process(target, min(chunk or CHUNK[target], runs - done), work, corpus,
                          artifacts, rss_mb, timeout_s, extra, left, env)
        done += st.get("number_of_executed_units", 0)
        peak, processes, code = max(peak, st.get("peak_rss_mb", 0)), processes + 1, st["returncode"]
        tail = st["tail"]
        for k, v in st["outcomes"].items():
            counts[k] = counts.get(k, 0) + v
        if max_time is not None and time.time() - t0 >= max_time:
            break
    seconds = time.time() - t0
    result = {"target": target, "returncode": code, "seconds": round(seconds),
              "executions": done, "exec_per_s": round(done / max(seconds, 1e-9)),
              "processes": processes, "peak_rss_mb": peak, "rss_limit_mb": rss_mb,
              "timeout_s": timeout_s, "corpus_files": len(list(corpus.iterdir())),
              "findings": sorted(p.name for p in artifacts.iterdir()), "crashed": code != 0}
    if counts:  # decode: how many inputs got past the container to the decoder
        result["outcomes"] = counts
    if code != 0:
        result["tail"] = tail
    if report:
        result["coverage"] = _coverage(target, work, env)
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / f"{target}.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__ + "\nFlags after -- go to libFuzzer.",
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("mode", choices=("run", "child", "replay"))
    ap.add_argument("target", choices=TARGETS)
    ap.add_argument("--runs", type=int, default=100000)
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "vqcodec-fuzz")
    ap.add_argument("--rss-limit-mb", type=int, default=1536)
    ap.add_argument("--timeout", type=int, default=1, help="seconds per input")
    ap.add_argument("--max-time", type=int, default=None, help="stop after this many seconds")
    ap.add_argument("--chunk", type=int, default=None, help="executions per libFuzzer process")
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)
    a = ap.parse_args(argv[:cut])
    a.libfuzzer = argv[cut + 1:]  # after --: flags for libFuzzer
    a.work.mkdir(parents=True, exist_ok=True)
    if a.mode == "child":
        _child(a.target, a.work, a.libfuzzer)
    if a.mode == "replay":
        return _replay(a.target, a.work)
    res = run(a.target, a.runs, a.work, a.rss_limit_mb, a.timeout, a.libfuzzer, a.max_time,
              chunk=a.chunk)
    print(json.dumps(res, indent=2))
    sys.exit(1 if res["crashed"] else 0)


if __name__ == "__main__":
    main()
