"""Sharding a folder job across processes and machines: each input path belongs to one shard
by a hash of the path alone, so every machine computes the same split without talking to the
others, and a shard is named by 'INDEX/COUNT' or by the launcher's RANK/WORLD_SIZE (torchrun)
or SLURM_PROCID/SLURM_NTASKS."""

from __future__ import annotations

import os
import zlib
from collections.abc import Mapping
from pathlib import Path


def _shard_of(rel: Path, count: int) -> int:
    return zlib.crc32(Path(rel).as_posix().encode("utf-8")) % count


def shard(rels: list[Path], index: int, count: int) -> list[Path]:
    """The paths of shard index/count; depends only on each path, so every machine agrees."""
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"shard {index}/{count}: need count >= 1 and 0 <= index < count")
    return [r for r in rels if _shard_of(r, count) == index]


def _shard_pair(index: str, count: str, what: str) -> tuple[int, int]:
    i, n = index.strip(), count.strip()
    if not (i.isdigit() and n.isdigit()):
        raise ValueError(f"bad shard {what}: expected two non-negative integers 'INDEX/COUNT'")
    pair = int(i), int(n)
    if pair[1] < 1 or pair[0] >= pair[1]:
        raise ValueError(f"bad shard {what}: need COUNT >= 1 and 0 <= INDEX < COUNT")
    return pair


def parse_shard(spec: str | None, env: Mapping[str, str] = os.environ) -> tuple[int, int]:
    """'i/N' -> (i, N); None -> RANK/WORLD_SIZE, else SLURM_PROCID/SLURM_NTASKS, else (0, 1)."""
    if spec is not None:
        parts = spec.split("/")
        if len(parts) != 2:
            raise ValueError(f"bad shard {spec!r}: expected 'INDEX/COUNT', e.g. '0/4'")
        return _shard_pair(parts[0], parts[1], repr(spec))
    for rank, world in (("RANK", "WORLD_SIZE"), ("SLURM_PROCID", "SLURM_NTASKS")):
        if rank in env or world in env:
            if rank not in env or world not in env:
                raise ValueError(f"{rank} and {world} must be set together (or pass a shard)")
            return _shard_pair(env[rank], env[world], f"from {rank}={env[rank]!r} {world}={env[world]!r}")
    return 0, 1

