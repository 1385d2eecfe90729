"""Outputs: atomic, never over an input, never over an existing file without force."""

import errno
import os

import pytest

from vqcodec.files import OutputExistsError, atomic_write_bytes, check_output


def test_atomic_write_and_no_leftovers(tmp_path):
    dst = tmp_path / "sub" / "out.vqc"
    atomic_write_bytes(dst, b"hello")
    assert dst.read_bytes() == b"hello"
    assert sorted(os.listdir(dst.parent)) == ["out.vqc"]


def test_failure_leaves_nothing(tmp_path, monkeypatch):
    dst = tmp_path / "out.vqc"
    real_fsync = os.fsync

    def full_disk(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError) as e:
        atomic_write_bytes(dst, b"x" * 1000)
    assert e.value.errno == errno.ENOSPC
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert os.listdir(tmp_path) == []


def test_check_output(tmp_path):
    src = tmp_path / "in.png"
    src.write_bytes(b"1")
    dst = tmp_path / "out.vqc"
    check_output(src, dst, force=False)
    dst.write_bytes(b"2")
    with pytest.raises(OutputExistsError, match="--force"):
        check_output(src, dst, force=False)
    check_output(src, dst, force=True)
    for same in (src, tmp_path / "." / "in.png"):
        with pytest.raises(OutputExistsError, match="input"):
            check_output(src, same, force=True)
    link = tmp_path / "link.png"
    link.symlink_to(src)
    with pytest.raises(OutputExistsError, match="input"):
        check_output(src, link, force=True)
    with pytest.raises(OutputExistsError):
        check_output(src, tmp_path, force=True)
