"""Fetch the music training data (issue 20): Debian's `wesnoth-1.16-music` package, its Ogg
Vorbis tracks split by track into train and test.

    python training/music/fetch.py --out ../ckpt/music-data      # apt-get download + dpkg -x
    python training/music/fetch.py --deb /tmp/wesnoth-1.16-music_1%3a1.16.9-1_all.deb

writes OUT/train/*.ogg, OUT/test/*.ogg (the package's files, hard-linked or copied, never
re-encoded), OUT/SOURCE.md (package, version, sha256, licences) and OUT/copyright (the
package's copyright file). The music stays outside the repository; only the split is recorded
here, in split.json next to this script.

The split: the tracks sorted by name, every 5th (index 4, 9, 14, ...) to test, so that no part of
a test track is ever trained on (clips of one track are near-duplicates of each other) and the
split does not depend on a seed or on which machine ran it. A second run with the same package
finds everything in place and does nothing; a package whose track list differs from split.json
is refused (the committed test set must not move silently) unless --new-split is given.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import soundfile as sf

PACKAGE = "wesnoth-1.16-music"
MUSIC_DIR = "usr/share/games/wesnoth/1.16/data/core/music"
COPYRIGHT = f"usr/share/doc/{PACKAGE}/copyright"
SPLIT_JSON = Path(__file__).with_name("split.json")
TEST_EVERY = 5
# Not music: the game's 10-s pause between tracks (peak -78 dBFS, no tags). In the test split
# it would score any codec perfectly; in the train split it only wastes steps.
EXCLUDE = {"silence.ogg": "10 s of near-digital silence, peak -78 dBFS: a gap track, no tags"}

LICENCE_INTRO = """\
The tracks are the soundtrack of The Battle for Wesnoth (https://www.wesnoth.org/), packaged by
Debian as `wesnoth-1.16-music` (source package `wesnoth-1.16`, section games, Debian main).

- The package's copyright file (`/usr/share/doc/wesnoth-1.16-music/copyright`, kept here as
  `copyright`) licenses Wesnoth under the **GNU General Public License, version 2 or (at your
  option) any later version** (GPL-2+); it names no other licence for the music. Its further
  sections (sdl_ttf: LGPL-2+; fonts: Bitstream Vera, GPL-2 with the font exception, Apache-2.0;
  jquery and tablesorter: MIT or GPL; utils/nacl: BSD-3; utils/umc_dev: EPL-1.0; the Debian
  packaging: MIT) are about files that are not in this package.
"""


def licence_summary(tracks: list[dict]) -> str:
    """The licence facts of the package and of its tracks' own tags, for SOURCE.md."""
    untagged = sorted(t["name"] for t in tracks if not t["license_tag"])
    tags = sorted({t["license_tag"] for t in tracks if t["license_tag"]})
    return LICENCE_INTRO + (
        f"- The tracks' own Vorbis comments say `license={'/'.join(tags)}` for "
        f"{len(tracks) - len(untagged)} of the {len(tracks)} tracks used; "
        f"{len(untagged)} carry no licence tag ({', '.join(untagged)}) and fall under the "
        f"package's GPL-2+. Each track's composer (artist tag) and copyright tag are listed in "
        f"`split.json`.\n"
        "- GPL-2+ lets anyone use, study, copy and modify the recordings; whoever redistributes "
        "them (or a work based on them) must do so under the GPL. The recipe therefore keeps the "
        "audio outside the repository and records only names, durations and checksums.\n")


def _need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        sys.exit(f"error: `{tool}` not found: this recipe needs a Debian or Ubuntu system with apt "
                 f"and dpkg (or pass --deb PATH to a downloaded {PACKAGE} .deb; dpkg is still "
                 f"needed to unpack it)")
    return path


def download_deb(folder: Path) -> Path:
    """`apt-get download wesnoth-1.16-music` into folder (no root needed); the .deb's path."""
    apt = _need("apt-get")
    r = subprocess.run([apt, "download", PACKAGE], cwd=folder, capture_output=True, text=True)
    debs = sorted(folder.glob(f"{PACKAGE}_*.deb"))
    if r.returncode or not debs:
        sys.exit(f"error: `apt-get download {PACKAGE}` failed (exit {r.returncode}):\n"
                 f"{r.stderr.strip()}\n(if apt says it cannot locate the package, its lists may "
                 f"be missing: run `apt-get update`, with Debian's main archive in the sources)")
    return debs[0]


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def track_info(path: Path) -> dict:
    """Rate, channels, duration and the Vorbis tags that matter for attribution."""
    with sf.SoundFile(path) as s:
        tags = s.copy_metadata()
        return {"name": path.name, "seconds": round(s.frames / s.samplerate, 2),
                "sample_rate": s.samplerate, "channels": s.channels, "bytes": path.stat().st_size,
                "sha256": sha256(path), "artist": tags.get("artist"),
                "copyright": tags.get("copyright"), "license_tag": tags.get("license")}


def split(names: list[str]) -> tuple[list[str], list[str]]:
    """(train, test): sorted names, every TEST_EVERY-th (index 4, 9, ...) to test."""
    names = sorted(names)
    test = names[TEST_EVERY - 1::TEST_EVERY]
    return [n for n in names if n not in test], test


def _place(src: Path, dst: Path) -> None:
    """Hard-link src to dst (no second copy of 150 MB), else copy; skip if already in place."""
    if dst.exists() and dst.stat().st_size == src.stat().st_size:
        return
    dst.unlink(missing_ok=True)
    try:
        os.link(src, dst)
    except OSError:  # another file system (or one without hard links)
        shutil.copy2(src, dst)


def _summary(tracks: list[dict]) -> dict:
    secs = sum(t["seconds"] for t in tracks)
    return {"tracks": len(tracks), "minutes": round(secs / 60, 2),
            "sample_rates": sorted({t["sample_rate"] for t in tracks}),
            "channels": sorted({t["channels"] for t in tracks})}


def _check_split(record: dict, new_split: bool) -> None:
    if SPLIT_JSON.exists() and not new_split:
        old = json.loads(SPLIT_JSON.read_text())
        if (old["train"], old["test"]) != (record["train"], record["test"]):
            sys.exit(f"error: the package's tracks ({record['version']}) do not give the split in "
                     f"{SPLIT_JSON} (made from {old['version']}); the test set must not change "
                     f"silently: pass --new-split to rewrite it")
    SPLIT_JSON.write_text(json.dumps(record, indent=1) + "\n")


def _complete(out: Path) -> bool:
    """OUT already holds every track of split.json with its size and SOURCE.md: nothing to do."""
    if not (SPLIT_JSON.exists() and (out / "SOURCE.md").exists()):
        return False
    rec = json.loads(SPLIT_JSON.read_text())
    return all((out / part / t["name"]).is_file()
               and (out / part / t["name"]).stat().st_size == t["bytes"]
               for part in ("train", "test") for t in rec["tracks"][part])


def _source_md(record: dict, deb_name: str) -> str:
    tracks = record["tracks"]["train"] + record["tracks"]["test"]
    lines = [f"# Music data: Debian `{PACKAGE}` {record['version']}", "",
             f"Made by `training/music/fetch.py` of the vqcodec repository from `{deb_name}` "
             f"(sha256 `{record['deb_sha256']}`), fetched with `apt-get download {PACKAGE}` and "
             f"unpacked with `dpkg -x`; the files are the package's Ogg Vorbis tracks, unchanged.",
             "", "## Licences", "", licence_summary(tracks), "## Split", "",
             f"By track: sorted names, every {TEST_EVERY}th to `test/`; excluded: "
             + ", ".join(f"`{k}` ({v})" for k, v in EXCLUDE.items()) + ".", ""]
    for part in ("train", "test"):
        s = record[part + "_summary"]
        lines.append(f"- `{part}/`: {s['tracks']} tracks, {s['minutes']} min, "
                     f"{'/'.join(map(str, s['sample_rates']))} Hz, "
                     f"{'/'.join(map(str, s['channels']))} channels: "
                     + ", ".join(record[part]))
    return "\n".join(lines) + "\n"


def fetch(out: Path, deb: Path | None = None, new_split: bool = False) -> dict:
    """Fetch (or reuse `deb`), unpack, split and place the tracks under out; the split record."""
    if _complete(out) and not new_split:
        rec = json.loads(SPLIT_JSON.read_text())
        print(f"{out}: already complete ({rec['train_summary']['tracks']} train, "
              f"{rec['test_summary']['tracks']} test tracks); nothing to do")
        return rec
    dpkg = _need("dpkg")
    with tempfile.TemporaryDirectory(prefix="music-fetch-") as tmp:
        tmp = Path(tmp)
        if deb is None:
            deb = download_deb(tmp)
        elif not deb.is_file():
            sys.exit(f"error: --deb {deb}: no such file")
        r = subprocess.run([_need("dpkg-deb"), "-f", str(deb), "Package", "Version"],
                           capture_output=True, text=True)
        version = r.stdout.split()
        if r.returncode or version[:2] != ["Package:", PACKAGE] or len(version) < 4:
            sys.exit(f"error: {deb} is not a {PACKAGE} .deb: {r.stderr.strip() or r.stdout}")
        root = tmp / "root"
        subprocess.run([dpkg, "-x", str(deb), str(root)], check=True)
        music = root / MUSIC_DIR
        files = {p.name: p for p in sorted(music.glob("*.ogg")) if p.name not in EXCLUDE}
        if not files:
            sys.exit(f"error: no .ogg tracks in {MUSIC_DIR} of {deb}")
        train, test = split(list(files))
        tracks = {part: [track_info(files[n]) for n in names]
                  for part, names in (("train", train), ("test", test))}
        record = {"package": PACKAGE, "version": version[3], "deb_sha256": sha256(deb),
                  "rule": f"sorted names, every {TEST_EVERY}th (index {TEST_EVERY - 1}, "
                          f"{2 * TEST_EVERY - 1}, ...) to test", "excluded": EXCLUDE,
                  "train": train, "test": test,
                  "train_summary": _summary(tracks["train"]),
                  "test_summary": _summary(tracks["test"]), "tracks": tracks}
        _check_split(record, new_split)
        for part, names in (("train", train), ("test", test)):
            (out / part).mkdir(parents=True, exist_ok=True)
            for n in names:
                _place(files[n], out / part / n)
        shutil.copyfile(root / COPYRIGHT, out / "copyright")
        (out / "SOURCE.md").write_text(_source_md(record, deb.name))
    return record


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("../ckpt/music-data"),
                    help="output folder, outside the repository (default ../ckpt/music-data)")
    ap.add_argument("--deb", type=Path, default=None,
                    help=f"an already downloaded {PACKAGE} .deb (default: apt-get download)")
    ap.add_argument("--new-split", action="store_true",
                    help="rewrite split.json when the package's tracks changed")
    args = ap.parse_args()
    rec = fetch(args.out, args.deb, args.new_split)
    for part in ("train", "test"):
        s = rec[part + "_summary"]
        print(f"{part}: {s['tracks']} tracks, {s['minutes']} min, {s['sample_rates']} Hz, "
              f"{s['channels']} channels: {' '.join(rec[part])}")
    print(f"split recorded in {SPLIT_JSON}; licences in {args.out / 'SOURCE.md'}")


if __name__ == "__main__":
    main()
