"""Tests for folder batch jobs: discovery, naming, sharding, resume, retries, summary (no models)."""

from __future__ import annotations

import io
import json
import random
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from rich.console import Console

from vqcodec import batch
from vqcodec.batch import FileResult, Item
from vqcodec.container import AudioGeometry, ImageGeometry, Segment, VQCFile, pack
from vqcodec.files import atomic_write_bytes


def _vqc_bytes(payload: bytes = b"\x01\x02\x03") -> bytes:
    f = VQCFile("image", "fake", bytes(16), 1, 256, ImageGeometry(8, 8, 3), 0,
                [Segment((2, 2), [payload], [0])])
    return pack(f)


def _png(path: Path, size: tuple[int, int] = (8, 6)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size[1], size[0], 3), 128, np.uint8)).save(path)


def fake_compress(items: list[Item]) -> list[tuple[int, str | None]]:
    """Writes a valid .vqc per item; per-item error for names starting 'err', raises for 'bad'."""
    if any(it.src.name.startswith("bad") for it in items):
        raise ValueError("cannot decode\nbad input")
    out: list[tuple[int, str | None]] = []
    for it in items:
        if it.src.name.startswith("err"):
            out.append((0, "per-item error"))
            continue
        data = _vqc_bytes(it.src.read_bytes()[:16])
        atomic_write_bytes(it.dst, data)
        out.append((len(data), None))
    return out


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    src = tmp_path / "in"
    _png(src / "a.png")
    _png(src / "sub" / "b.png", (16, 16))
    _png(src / "sub" / "deep" / "c.png", (16, 16))
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(src / "sub" / "d.jpg")
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(src / "e.TIFF")
    (src / "notes.txt").write_text("hello")
    (src / ".a.png.1a2b3c4d.tmp.png").write_bytes(b"partial")  # a writer's leftover temp
    return src


def test_discover_nested_tree(tree: Path) -> None:
    rels, ignored = batch.discover(tree, compressing=True)
    assert [r.as_posix() for r in rels] == ["a.png", "e.TIFF", "sub/b.png", "sub/d.jpg", "sub/deep/c.png"]
    assert ignored == 1  # notes.txt; the temp file is neither found nor counted


def test_discover_excludes_output_inside_input(tree: Path) -> None:
    out = tree / "out"
    _png(out / "x.png")
    rels, _ = batch.discover(tree, compressing=True, exclude=out)
    assert all(not r.as_posix().startswith("out/") for r in rels)


def test_discover_decompress_finds_vqc(tmp_path: Path) -> None:
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "x.png.vqc").write_bytes(b"")
    (tmp_path / "y.VQC").write_bytes(b"")
    (tmp_path / "z.png").write_bytes(b"")
    (tmp_path / ".x.png.vqc.0badf00d.tmp.vqc").write_bytes(b"")
    rels, ignored = batch.discover(tmp_path, compressing=False)
    assert [r.as_posix() for r in rels] == ["s/x.png.vqc", "y.VQC"] and ignored == 1


def test_output_name_round_trip(tmp_path: Path) -> None:
    for name in ["a/b.png", "x.jpg", "d/e.f.tiff", "song.wav"]:
        rel = Path(name)
        packed = batch.output_name(rel, compressing=True)
        assert packed.as_posix() == name + ".vqc"
        assert batch.output_name(packed, compressing=False) == rel
    assert batch.output_name(Path("a/x.vqc"), compressing=False) == Path("a/x.png")
    assert batch.output_name(Path("a/x.bin.vqc"), compressing=False) == Path("a/x.bin.png")
    audio = tmp_path / "audio.vqc"  # an audio .vqc: its header decides when the name cannot
    audio.write_bytes(pack(VQCFile("audio", "fake", bytes(16), 1, 256, AudioGeometry(8000, 1, 8),
                                   0, [Segment((1, 2), [b"\x01"], [0])])))
    assert batch.output_name(Path("a/x.vqc"), False, audio) == Path("a/x.flac")
    assert batch.output_name(Path("a/x.png.vqc"), False, audio) == Path("a/x.png")  # name wins
    assert batch.output_name(Path("a/x.vqc"), False, tmp_path / "missing") == Path("a/x.png")


def test_shard_partition_and_stability() -> None:
    rels = [Path(f"d{i % 7}/img{i}.png") for i in range(200)]
    for n in range(1, 6):
        parts = [batch.shard(rels, i, n) for i in range(n)]
        assert sorted(p for part in parts for p in part) == sorted(rels)  # union, no duplicates
        shuffled = rels[:]
        random.Random(n).shuffle(shuffled)
        for i in range(n):
            assert sorted(batch.shard(shuffled, i, n)) == sorted(parts[i])
    assert all(len(batch.shard(rels, i, 4)) > 20 for i in range(4))  # roughly balanced
    with pytest.raises(ValueError):
        batch.shard(rels, 2, 2)


def test_parse_shard() -> None:
    assert batch.parse_shard("1/3", env={}) == (1, 3)
    assert batch.parse_shard(" 0 / 1 ", env={}) == (0, 1)
    for bad in ["3/3", "x", "-1/2", "1/0", "1/2/3", "", "a/b"]:
        with pytest.raises(ValueError, match="shard"):
            batch.parse_shard(bad, env={})
    assert batch.parse_shard(None, env={}) == (0, 1)
    assert batch.parse_shard(None, env={"RANK": "2", "WORLD_SIZE": "4"}) == (2, 4)
    assert batch.parse_shard(None, env={"SLURM_PROCID": "1", "SLURM_NTASKS": "3"}) == (1, 3)
    assert batch.parse_shard("0/2", env={"RANK": "1", "WORLD_SIZE": "2"}) == (0, 2)  # explicit wins
    with pytest.raises(ValueError):
        batch.parse_shard(None, env={"RANK": "4", "WORLD_SIZE": "4"})
    with pytest.raises(ValueError, match="together"):
        batch.parse_shard(None, env={"RANK": "0"})


def test_is_complete(tmp_path: Path) -> None:
    good = tmp_path / "g.png.vqc"
    good.write_bytes(_vqc_bytes())
    assert batch.is_complete(good, compressing=True)
    cut = tmp_path / "c.png.vqc"
    cut.write_bytes(_vqc_bytes()[:-1])
    assert not batch.is_complete(cut, compressing=True)
    assert not batch.is_complete(tmp_path / "missing.vqc", compressing=True)
    img = tmp_path / "i.png"
    _png(img, (64, 64))
    assert batch.is_complete(img, compressing=False)
    img.write_bytes(img.read_bytes()[:-40])
    assert not batch.is_complete(img, compressing=False)


def test_plan_run_resume(tree: Path, tmp_path: Path) -> None:
    _png(tree / "sub" / "bad.png")
    dst = tmp_path / "out"
    items, skipped, ignored = batch.plan(tree, dst, compressing=True)
    assert skipped == [] and ignored == 1 and len(items) == 6
    assert (tree / ".a.png.1a2b3c4d.tmp.png").exists()  # only temps beside our outputs are deleted
    results = batch.run(items, fake_compress, batch_size=8)
    s = batch.summarize(skipped + results, ignored, 1.0, (0, 1))
    assert (s.files, s.done, s.failed, s.skipped, s.exit_code) == (6, 5, 1, 0, 1)
    assert s.failures == [("sub/bad.png", "cannot decode bad input")]
    assert s.ratio() == s.bytes_in / s.bytes_out > 0
    json.dumps(s.to_json())

    outputs = sorted(p for p in dst.rglob("*.vqc"))
    mtimes = {p: p.stat().st_mtime_ns for p in outputs}
    (dst / ".a.png.vqc.deadbeef.tmp.vqc").write_bytes(b"stale")  # left by kill -9
    items, skipped, _ = batch.plan(tree, dst, compressing=True)
    assert [it.rel.as_posix() for it in items] == ["sub/bad.png"]  # only the failure is redone
    assert {r.status for r in skipped} == {"skipped"} and len(skipped) == 5
    batch.run(items, fake_compress)
    assert {p: p.stat().st_mtime_ns for p in outputs} == mtimes
    assert not (dst / ".a.png.vqc.deadbeef.tmp.vqc").exists()

    (dst / "sub" / "b.png.vqc").write_bytes(_vqc_bytes()[:-2])  # truncated output
    items, _, _ = batch.plan(tree, dst, compressing=True)
    assert sorted(it.rel.as_posix() for it in items) == ["sub/b.png", "sub/bad.png"]
    items, skipped, _ = batch.plan(tree, dst, compressing=True, force=True)
    assert len(items) == 6 and skipped == []


def test_plan_shards_cover_everything(tree: Path, tmp_path: Path) -> None:
    seen = []
    for i in range(3):
        items, _, _ = batch.plan(tree, tmp_path / "out", compressing=True, shard_spec=f"{i}/3")
        seen += [it.rel for it in items]
    assert sorted(seen) == batch.discover(tree, True)[0]


def test_plan_refuses_same_folder_and_allows_nested_output(tree: Path) -> None:
    with pytest.raises(ValueError, match="must differ"):
        batch.plan(tree, tree / "sub" / "..", compressing=True)
    out = tree / "out"
    batch.run(batch.plan(tree, out, compressing=True)[0], fake_compress)
    items, skipped, _ = batch.plan(tree, out, compressing=True)
    assert items == [] and len(skipped) == 5  # outputs inside the input are not inputs


def test_plan_reports_output_name_clash(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    (src / "x.vqc").write_bytes(_vqc_bytes())
    (src / "x.png.vqc").write_bytes(_vqc_bytes())
    items, results, _ = batch.plan(src, tmp_path / "out", compressing=False)
    assert [it.rel.as_posix() for it in items] == ["x.png.vqc"]
    assert results[0].status == "failed" and "x.png.vqc" in (results[0].error or "")


def _items(names: list[str], root: Path) -> list[Item]:
    out = []
    for n in names:
        _png(root / n)
        out.append(Item(Path(n), root / n, root / "out" / (n + ".vqc"), (root / n).stat().st_size))
    return out


def test_run_retries_group_item_by_item(tmp_path: Path) -> None:
    items = _items(["a.png", "bad.png", "c.png", "err.png", "e.png"], tmp_path)
    calls: list[int] = []

    def process(group: list[Item]) -> list[tuple[int, str | None]]:
        calls.append(len(group))
        return fake_compress(group)

    seen: list[FileResult] = []
    results = batch.run(items, process, group_key=lambda it: "same", batch_size=3, progress=seen.append)
    assert calls == [3, 1, 1, 1, 2]  # group of 3 failed -> 3 singles; then the remaining 2
    status = {r.rel: (r.status, r.error) for r in results}
    assert status["bad.png"] == ("failed", "cannot decode bad input")
    assert status["err.png"] == ("failed", "per-item error")
    assert all(status[n][0] == "done" for n in ["a.png", "c.png", "e.png"])
    assert len(seen) == 5


def test_run_groups_by_key_and_survives_key_errors(tmp_path: Path) -> None:
    items = _items(["a.png", "b.png", "c.png", "d.png"], tmp_path)
    groups: list[list[str]] = []

    def key(it: Item) -> object:
        if it.rel.name == "d.png":
            raise OSError("unreadable")
        return it.rel.name in ("a.png", "c.png")

    def process(group: list[Item]) -> list[tuple[int, str | None]]:
        groups.append([it.rel.name for it in group])
        return [(1, None)] * len(group)

    results = batch.run(items, process, group_key=key)
    assert groups == [["a.png", "c.png"], ["b.png"], ["d.png"]]
    assert all(r.status == "done" for r in results)


def test_run_interrupt_propagates(tmp_path: Path) -> None:
    def process(group: list[Item]) -> list[tuple[int, str | None]]:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        batch.run(_items(["a.png", "b.png"], tmp_path), process)


def test_run_wrong_result_count_is_a_failure(tmp_path: Path) -> None:
    results = batch.run(_items(["a.png"], tmp_path), lambda g: [])
    assert results[0].status == "failed" and "0 results" in (results[0].error or "")


def test_render_and_progress() -> None:
    s = batch.summarize(
        [FileResult("a.png", "done", 1000, 100, 0.5), FileResult("[b].png", "failed", 10, 0, 0.1, "boom"),
         FileResult("c.png", "skipped", 10, 5, 0.0)], ignored=2, seconds=1.0, shard=(1, 2))
    buf = io.StringIO()
    console = Console(file=buf, width=100)
    batch.render(s, console)
    text = buf.getvalue()
    assert "FAILED [b].png: boom" in text and "10.00" in text and "shard 1/2" in text
    assert s.to_json()["failures"] == [{"path": "[b].png", "error": "boom"}]
    with batch.progress_bar(console, total=2) as (bar, advance):
        advance(FileResult("a.png", "done", 1, 1, 0.0))
        advance(FileResult("b.png", "failed", 1, 0, 0.0, "x"))
        assert bar.tasks[0].completed == 2
