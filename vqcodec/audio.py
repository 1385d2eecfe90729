"""Audio in and out (soundfile + soxr), in bounded memory whatever the file's length.

::

    file (any rate, C channels) --AudioReader: soundfile blocks--> soxr.ResampleStream
        --> chunks (C, n) float32 at the model's rate, all `chunk` long but the last
    chunks at the model's rate --AudioWriter: soxr back--> clip to [-1, 1] --> soundfile, written
        block by block into a temporary file, renamed into place when complete

Lengths are fixed by arithmetic, not by whatever the resampler emits: a file of N samples at
rate r is model_length(N, r, R) samples at the model's rate R, and the writer pads or trims so
the output has exactly N samples again. Reading: WAV, FLAC, OGG (Vorbis or Opus), any rate and
channel count. Writing: the format follows the extension, 16-bit PCM for .wav and .flac,
Vorbis for .ogg.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from .errors import one_line
from .files import atomic_path
from .media import AUDIO_EXTS, MediaError, MediaWarning, check_regular_file

# format and subtype written for each extension
_WRITE = {".wav": ("WAV", "PCM_16"), ".flac": ("FLAC", "PCM_16"), ".ogg": ("OGG", "VORBIS")}
BLOCK = 1 << 16  # input frames per soundfile read: bounds memory for any length
MAX_CHANNELS = 64  # the container's limit
MAX_RATE = 768000
MIN_RATE = 1000  # below any real recording; a 1-Hz header would mean 16000x upsampling
# Frames a file may hold fewer of than its header declares (end-of-file rounding in some
# encoders) before it counts as truncated or crafted: the rest would be coded as silence.
_SHORT_SLACK = 4096
# What each output format can hold, checked before a file is opened. FLAC: 1-8 channels, at most
# 655350 Hz; WAV: a 32-bit RIFF size; Vorbis: libvorbis crashes the process (SIGSEGV, measured
# with libsndfile 1.2) above 200 kHz, so such rates are refused here.
_FLAC_MAX_CHANNELS, _FLAC_MAX_RATE, _VORBIS_MAX_RATE = 8, 655350, 200000
_WAV_MAX_DATA = (1 << 32) - 1 - 44


def model_length(num_samples: int, rate: int, model_rate: int) -> int:
    """Samples at the model's rate of a clip of num_samples at rate (rounded, >= 1 if any)."""
    if num_samples == 0:
        return 0
    return max(1, (num_samples * model_rate + rate // 2) // rate)


def _finite(x: np.ndarray) -> tuple[np.ndarray, int]:
    """x with NaN -> 0 and +-Inf -> +-1, and how many samples were replaced."""
    ok = np.isfinite(x)
    if ok.all():
        return x, 0
    return np.nan_to_num(x, nan=0.0, posinf=1.0, neginf=-1.0), int(x.size - ok.sum())


def _warn_nonfinite(what: str, bad: int) -> None:
    if bad:
        warnings.warn(f"{what}: {bad} NaN or infinite samples replaced (NaN -> 0, Inf -> +-1)",
                      MediaWarning, stacklevel=3)


def finite(x: np.ndarray, what: str) -> np.ndarray:
    """x with NaN -> 0 and +-Inf -> +-1, with a MediaWarning naming `what` when any was there."""
    x, bad = _finite(x)
    _warn_nonfinite(what, bad)
    return x


def check_target(path: Path, rate: int, channels: int, num_samples: int) -> tuple[str, str]:
    """(format, subtype) for writing audio to path, or MediaError if that format cannot hold
    this rate, channel count or length: checked before anything is opened or created."""
    path = Path(path)
    fmt = _WRITE.get(path.suffix.lower())
    if fmt is None:
        raise MediaError(f"unsupported output format {path.suffix or '(none)'!r} for "
                         f"audio (use {', '.join(sorted(_WRITE))})")
    problem = None
    if fmt[0] == "FLAC" and channels > _FLAC_MAX_CHANNELS:
        problem = f"FLAC holds at most {_FLAC_MAX_CHANNELS} channels, this audio has {channels}"
    elif fmt[0] == "FLAC" and rate > _FLAC_MAX_RATE:
        problem = f"FLAC holds at most {_FLAC_MAX_RATE} Hz, this audio is {rate} Hz"
    elif fmt[0] == "OGG" and rate > _VORBIS_MAX_RATE:
        problem = f"Vorbis (.ogg) is written up to {_VORBIS_MAX_RATE} Hz, this audio is {rate} Hz"
    elif fmt[0] == "WAV" and num_samples * channels * 2 > _WAV_MAX_DATA:
        problem = "too long for WAV (4 GB at most)"
    if problem is None:
        try:  # what libsndfile itself accepts, tried in memory
            sf.SoundFile(io.BytesIO(), "w", rate, channels, fmt[1], format=fmt[0]).close()
        except Exception as e:
            problem = one_line(e).replace(" <_io.BytesIO object", "").split(" at 0x")[0]
    if problem:
        raise MediaError(f"cannot write {path}: {problem}; choose another output format")
    return fmt


def _check_input_path(path: Path) -> None:
    check_regular_file(path, "an audio file")
    if path.stat().st_size == 0:
        raise MediaError(f"empty file: {path}")
    if path.suffix.lower() not in AUDIO_EXTS:
        raise MediaError(f"unsupported audio format {path.suffix or '(none)'!r} "
                         f"(use {', '.join(sorted(AUDIO_EXTS))})")


class AudioReader:
    """An open audio file: `rate`, `channels`, `frames`, and `chunks()` at another rate.

    Use as a context manager. Raises MediaError (one line) for a missing, unreadable, empty or
    corrupt file."""

    def __init__(self, path: Path):
        self.path = Path(path)
        _check_input_path(self.path)
        try:
            self._f = sf.SoundFile(str(self.path))
        except Exception as e:  # LibsndfileError, TypeError from odd headers, ...
            raise MediaError(f"not a readable audio file: {self.path} ({one_line(e)})") from None
        self.rate, self.channels, self.frames = self._f.samplerate, self._f.channels, self._f.frames
        self.read = 0  # frames read so far (blocks())
        problem = None
        if self.frames <= 0:
            problem = f"empty audio file (no samples): {self.path}"
        elif not 1 <= self.channels <= MAX_CHANNELS:
            problem = f"{self.path} has {self.channels} channels (at most {MAX_CHANNELS})"
        elif not MIN_RATE <= self.rate <= MAX_RATE:
            problem = f"{self.path} has sample rate {self.rate} ({MIN_RATE}..{MAX_RATE} Hz)"
        if problem:
            self._f.close()
            raise MediaError(problem)

    def __enter__(self) -> AudioReader:
        return self

    def __exit__(self, *exc) -> None:
        self._f.close()

    def blocks(self) -> Iterator[np.ndarray]:
        """(n, C) float32 blocks at the file's own rate, until the end of the file; NaN and
        infinite samples are replaced, with one MediaWarning at the end."""
        bad = self.read = 0
        while True:
            try:
                b = self._f.read(BLOCK, dtype="float32", always_2d=True)
            except Exception as e:
                raise MediaError(f"corrupt audio data in {self.path} ({one_line(e)})") from None
            if not len(b):
                _warn_nonfinite(self.path.name, bad)
                return
            b, n = _finite(b)
            bad += n
            self.read += len(b)
            yield b

    def chunks(self, rate: int, chunk: int) -> Iterator[np.ndarray]:
        """(C, n) float32 chunks at `rate`: each `chunk` samples long except the last; in total
        model_length(frames, self.rate, rate) samples."""
        total = model_length(self.frames, self.rate, rate)
        rs = None if rate == self.rate else soxr.ResampleStream(self.rate, rate, self.channels)
        buf: list[np.ndarray] = []
        have = done = 0
        for b in self.blocks():
            out = b if rs is None else rs.resample_chunk(b)
            buf.append(out)
            have += len(out)
            while have >= chunk and done + chunk < total:  # the last chunk waits for the end
                arr = np.concatenate(buf)
                buf, have = [arr[chunk:]], have - chunk
                done += chunk
                yield np.ascontiguousarray(arr[:chunk].T)
        if self.read + _SHORT_SLACK < self.frames:  # before coding its "rest" as silence
            raise MediaError(f"{self.path} holds {self.read:,} frames of the {self.frames:,} its "
                             "header declares (truncated or crafted)")
        if rs is not None:
            buf.append(rs.resample_chunk(np.zeros((0, self.channels), np.float32), last=True))
        rest = np.concatenate(buf) if buf else np.zeros((0, self.channels), np.float32)
        while done < total:
            n = min(chunk, total - done)
            part = rest[:n]
            if len(part) < n:  # the file held fewer frames than its header said, or rounding
                part = np.concatenate([part, np.zeros((n - len(part), self.channels), np.float32)])
            rest = rest[n:]
            done += n
            yield np.ascontiguousarray(part.T)


def load_audio(path: Path) -> tuple[np.ndarray, int]:
    """A whole (short) file as float32 (samples, channels) and its rate. MediaError if unusable."""
    with AudioReader(path) as r:
        data = np.concatenate(list(r.blocks()))
        if not len(data):
            raise MediaError(f"empty audio file (no samples): {path}")
        return data, r.rate


def to_mid_side(x: np.ndarray) -> np.ndarray:
    """(2, len) left/right -> mid (L + R) / 2 and side (L - R) / 2: most music puts most of
    its energy in the mid, so a side channel coded alone costs the prior fewer bits."""
    return np.stack([(x[0] + x[1]) * 0.5, (x[0] - x[1]) * 0.5])


def from_mid_side(x: np.ndarray) -> np.ndarray:
    """The inverse of to_mid_side: (2, len) mid/side -> left/right."""
    return np.stack([x[0] + x[1], x[0] - x[1]])


def resample(x: np.ndarray, rate: int, new_rate: int) -> np.ndarray:
    """Resample (samples[, channels]) float32 to new_rate (soxr HQ); x itself if rates agree."""
    return x if rate == new_rate else soxr.resample(x, rate, new_rate).astype(np.float32)


class AudioWriter:
    """Write chunks at the model's rate into an audio file at its original rate and length.

    ``with AudioWriter(path, rate, channels, num_samples, model_rate) as w: w.write(chunk)``.
    Chunks are (C, n) float32; the output is clipped to [-1, 1] (no wrap-around in 16-bit PCM)
    and padded or trimmed to exactly num_samples. The file appears only when complete."""

    def __init__(self, path: Path, rate: int, channels: int, num_samples: int, model_rate: int):
        self.path = Path(path)
        self.format, self.subtype = check_target(self.path, rate, channels, num_samples)
        self.rate, self.channels, self.num_samples = rate, channels, num_samples
        self.rs = None if rate == model_rate else soxr.ResampleStream(model_rate, rate, channels)
        self.written = 0
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> AudioWriter:
        tmp = self._stack.enter_context(atomic_path(self.path))
        try:
            self._f = self._stack.enter_context(sf.SoundFile(
                str(tmp), "w", self.rate, self.channels, self.subtype, format=self.format))
        except Exception as e:
            # Exit with the error, so atomic_path removes the temporary file instead of
            # renaming it (empty) over an existing output.
            self._stack.__exit__(type(e), e, e.__traceback__)
            raise MediaError(f"cannot write {self.path} as {self.format} ({self.rate} Hz, "
                             f"{self.channels} channels): {one_line(e)}") from None
        return self

    def _put(self, frames: np.ndarray) -> None:
        frames = frames[: self.num_samples - self.written]
        if len(frames):
            try:
                self._f.write(np.clip(frames, -1.0, 1.0))
            except sf.LibsndfileError as e:
                raise MediaError(f"cannot write {self.path}: {one_line(e)}") from None
            self.written += len(frames)

    def write(self, chunk: np.ndarray) -> None:
        x = np.ascontiguousarray(np.asarray(chunk, dtype=np.float32).T)
        self._put(x if self.rs is None else self.rs.resample_chunk(x))

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            try:
                if self.rs is not None:
                    self._put(self.rs.resample_chunk(np.zeros((0, self.channels), np.float32),
                                                     last=True))
                while self.written < self.num_samples:  # resampler rounding: pad the end
                    self._put(np.zeros((min(BLOCK, self.num_samples - self.written),
                                        self.channels), np.float32))
            except BaseException as e:
                self._stack.__exit__(type(e), e, e.__traceback__)
                raise
        self._stack.__exit__(exc_type, exc, tb)  # closes the file, then renames (or removes) it


def save_audio(wave: np.ndarray, rate: int, path: Path) -> None:
    """Write float (samples, channels) at rate; format from the extension, atomically."""
    wave = np.asarray(wave, dtype=np.float32)
    if wave.ndim == 1:
        wave = wave[:, None]
    with AudioWriter(path, rate, wave.shape[1], len(wave), rate) as w:
        w.write(wave.T)
