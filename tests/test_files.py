"""Outputs: atomic, never over an input, never over an existing file without force."""

import errno
import os

import pytest

from vqcodec import files
from vqcodec.files import OutputExistsError, atomic_path, atomic_write_bytes, check_output


def test_atomic_write_creates_folder_and_leaves_no_temp(tmp_path):
    dst = tmp_path / "sub" / "out.vqc"
    atomic_write_bytes(dst, b"hello")
    assert dst.read_bytes() == b"hello"
    assert os.listdir(dst.parent) == ["out.vqc"]
    atomic_write_bytes(dst, b"again")  # replacing is the caller's choice (check_output)
    assert dst.read_bytes() == b"again" and os.listdir(dst.parent) == ["out.vqc"]


def test_temp_name_is_beside_dst_and_keeps_the_suffix(tmp_path):
    dst = tmp_path / "photo.png"
    with atomic_path(dst) as tmp:
        assert tmp.parent == tmp_path
        assert tmp.name.startswith(".photo.png.") and tmp.name.endswith(".tmp.png")
        tmp.write_bytes(b"x")
        assert not dst.exists()
    assert dst.read_bytes() == b"x" and not tmp.exists()


def test_exception_mid_write_leaves_nothing(tmp_path):
    dst = tmp_path / "out.vqc"
    with pytest.raises(RuntimeError, match="boom"), atomic_path(dst) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("boom")
    assert os.listdir(tmp_path) == []


def test_exception_keeps_the_old_output(tmp_path):
    dst = tmp_path / "out.vqc"
    dst.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt), atomic_path(dst) as tmp:
        tmp.write_bytes(b"new")
        raise KeyboardInterrupt
    assert dst.read_bytes() == b"old" and os.listdir(tmp_path) == ["out.vqc"]


@pytest.mark.parametrize("accepted", [0, 100])
def test_full_disk_on_write_leaves_nothing(tmp_path, monkeypatch, accepted):
    real_write = os.write
    room = [accepted]  # bytes the "disk" still takes before ENOSPC, as when it fills mid-write

    def write(fd, data):
        if not room[0]:
            raise OSError(errno.ENOSPC, "No space left on device")
        n = real_write(fd, bytes(data[: room[0]]))
        room[0] -= n
        return n

    monkeypatch.setattr(files.os, "write", write)
    with pytest.raises(OSError) as e:
        atomic_write_bytes(tmp_path / "out.vqc", b"x" * 1000)
    assert e.value.errno == errno.ENOSPC
    monkeypatch.undo()
    assert os.listdir(tmp_path) == []


def test_full_disk_on_fsync_leaves_nothing(tmp_path, monkeypatch):
    def fsync(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "fsync", fsync)
    with pytest.raises(OSError) as e:
        atomic_write_bytes(tmp_path / "out.vqc", b"x" * 1000)
    assert e.value.errno == errno.ENOSPC
    monkeypatch.undo()
    assert os.listdir(tmp_path) == []


def test_check_output_existing_needs_force(tmp_path):
    src = tmp_path / "in.png"
    src.write_bytes(b"1")
    dst = tmp_path / "out.vqc"
    check_output(src, dst, force=False)
    check_output(None, dst, force=False)
    dst.write_bytes(b"2")
    with pytest.raises(OutputExistsError, match=r"output exists: .*out\.vqc \(use --force"):
        check_output(src, dst, force=False)
    with pytest.raises(FileExistsError):  # callers may catch the builtin
        check_output(None, dst, force=False)
    check_output(src, dst, force=True)


def test_check_output_never_overwrites_the_input(tmp_path, monkeypatch):
    sub = tmp_path / "sub"
    sub.mkdir()
    src = sub / "in.png"
    src.write_bytes(b"1")
    monkeypatch.chdir(tmp_path)
    link = tmp_path / "link.png"
    link.symlink_to(src)
    hard = tmp_path / "hard.png"
    os.link(src, hard)
    spellings = [src, sub / "." / "in.png", tmp_path / "sub" / ".." / "sub" / "in.png",
                 os.path.relpath(src), link, hard]
    for same in spellings:
        for force in (False, True):
            with pytest.raises(OutputExistsError, match="refusing to overwrite the input"):
                check_output(src, same, force=force)
    with pytest.raises(OutputExistsError, match="input"):  # and the other way round
        check_output(link, src, force=True)


def test_check_output_refuses_a_directory(tmp_path):
    for force in (False, True):
        with pytest.raises(OutputExistsError, match="directory"):
            check_output(None, tmp_path, force=force)


def test_a_batch_output_has_its_input_time_as_soon_as_it_exists(tmp_path):
    """The time is stamped before the rename: a kill right after it cannot leave a complete
    output that a rerun takes for stale (test_folders' kill -9 test was flaky on this)."""
    dst, t = tmp_path / "a.vqc", 1_000_000_000_123_456_789
    with files.output_mtimes({dst: t}):
        atomic_write_bytes(dst, b"data")
        assert dst.stat().st_mtime_ns == t
    atomic_write_bytes(tmp_path / "b.vqc", b"data")  # outside the block: the time of writing
    assert (tmp_path / "b.vqc").stat().st_mtime_ns != t
    with files.output_mtimes({dst: t}):
        pass
    assert not files._MTIMES  # the block leaves nothing behind
