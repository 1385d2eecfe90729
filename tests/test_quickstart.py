"""The README's first command works in a fresh clone with nothing beside it (no ../shared)."""

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def quick_start_commands(readme: str) -> list[list[str]]:
    """The `vqcodec ...` parts of the first command of the README's first bash block (the install
    parts before them are what .ci/run proves)."""
    block = readme.split("```bash\n", 1)[1].split("```", 1)[0]
    first = next(ln for ln in block.splitlines() if ln.strip() and not ln.startswith("#"))
    parts = [shlex.split(p) for p in first.split("&&")]
    return [p for p in parts if p and p[0] == "vqcodec"]


def test_readme_quick_start_in_a_bare_clone(tmp_path):
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    clone = tmp_path / "vqcodec"
    r = subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vqcodec"]  # nothing beside it
    cmds = quick_start_commands((clone / "README.md").read_text())
    assert [c[1] for c in cmds] == ["compress", "decompress", "compress", "decompress"]
    env = {k: v for k, v in os.environ.items() if k not in ("VQCODEC_WEIGHTS", "PYTHONPATH")}
    env["PYTHONPATH"] = str(clone)  # the clone's package and weights, not this checkout's
    where = subprocess.run([sys.executable, "-c", "import vqcodec; print(vqcodec.__file__)"],
                           capture_output=True, text=True, cwd=clone, env=env).stdout
    assert where.startswith(str(clone)), where
    for cmd in cmds:
        r = subprocess.run([sys.executable, "-m", "vqcodec", *cmd[1:]], capture_output=True,
                           text=True, cwd=clone, env=env)
        assert r.returncode == 0, f"{shlex.join(cmd)}: {r.stderr}"
        out = clone / cmd[cmd.index("-o") + 1]
        assert out.is_file() and out.stat().st_size > 0
        assert str(out.name) in r.stdout and f"{out.stat().st_size} bytes" in r.stdout, r.stdout
