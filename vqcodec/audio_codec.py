"""Audio compression: the waveform in chunks -> per-channel latent frames -> HR-VQ codes -> rANS.

::

    file --audio.AudioReader (soxr to the model's rate)--> chunks of S samples (10 s)
        --Encoder1d, each channel alone, with MARGIN frames of the neighbouring chunks as context
        --> (D, 1, frames) --HR-VQ--> codes --integer prior, phases along time--> a rANS stream
        per layer = one container segment per (chunk, channel), chunk-major
    .vqc --> codes of each segment --Decoder1d, with the neighbours' edge frames as context
        --> chunk --audio.AudioWriter (soxr back, clip)--> the original rate, channels, length

A model whose config says "stereo": "mid-side" (music-stft) codes a stereo input's mid
(L + R) / 2 and side (L - R) / 2 as its two channels instead of left and right; the file's
layout is the same, the model's config is what says how to read it.

Each segment's streams are entropy-coded on their own, but the networks see across chunk
boundaries (the encoder real samples, the decoder the neighbouring codes), so chunking leaves
no seam; the margin costs no bits. Memory is bounded by a few chunks whatever the file's length
(the compressed bytes aside, about 1 MB per half hour at 4 kbps).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np
import torch

from . import audio, container, limits
from .errors import reraise_as
from .files import atomic_write_bytes
from .media import MediaWarning
from .models import LoadedModel, audio_default, default_layers
from .segments import CodecError, check_layers_arg, check_model, decode_streams, encode_streams

SEGMENT_SECONDS = 10.0  # chunk length: a container segment per channel
LEVEL_DROP_DB = 6.0  # warn when the model gives audio back this much quieter (see _warn_level)
MARGIN_FRAMES = 32  # latent frames of context across chunk boundaries (> both receptive fields)

Progress = Callable[[float, float], None]  # (seconds done, seconds in total)


def _audio_model(model: LoadedModel) -> None:
    if model.codec.modality != "audio":
        raise CodecError(f"model {model.name!r} is an {model.codec.modality} model; this input "
                         "is audio (pass an audio model with --model)")


def default_model_name(src: Path) -> str:
    """The shipped model for an audio file when none is given: by its sample rate (header
    only; models.audio_default: speech up to 16 kHz, general audio above)."""
    with audio.AudioReader(Path(src)) as r:
        return audio_default(r.rate)


def segment_samples(model: LoadedModel, seconds: float = SEGMENT_SECONDS) -> int:
    """Chunk length at the model's rate: `seconds`, rounded to whole latent frames."""
    s = model.codec.stride
    n = max(1, round(seconds * model.codec.sample_rate / s)) * s
    with reraise_as(CodecError, limits.LimitError):
        limits.check_chunk(n, model.codec.sample_rate, s)  # the decoder refuses longer ones
    return n


def _lookahead(items: Iterable) -> Iterator[tuple]:
    """(previous, current, next) over items; None at the ends."""
    prev = cur = None
    first = True
    for nxt in items:
        if not first:
            yield prev, cur, nxt
            prev = cur
        cur, first = nxt, False
    if not first:
        yield prev, cur, None


# -- encoding ------------------------------------------------------------------------------------
@torch.no_grad()
def chunk_codes(prev, cur: np.ndarray, nxt, model: LoadedModel) -> torch.Tensor:
    """HR-VQ indices (C, layers, ..., frames) of a chunk (C, len) at the model's rate, one item
    per channel, with context from its neighbours (None at the ends)."""
    codec = model.codec
    s = codec.stride
    frames = -(-cur.shape[1] // s)
    m = MARGIN_FRAMES * s
    left = prev[:, -m:] if prev is not None else cur[:, :0]
    right = nxt[:, :m] if nxt is not None else cur[:, :0]
    body = np.pad(cur, ((0, 0), (0, frames * s - cur.shape[1])))
    right = np.pad(right, ((0, 0), (0, -right.shape[1] % s)))
    x = torch.from_numpy(np.concatenate([left, body, right], 1)).unsqueeze(1)
    dev = next(codec.encoder.parameters()).device
    codes = codec.quantizer.search(codec.encoder(x.to(dev))).cpu()
    lf = left.shape[1] // s
    return codes[..., lf:lf + frames].contiguous()


def mid_side(model: LoadedModel, channels: int) -> bool:
    """Whether this model codes this audio as mid and side (a stereo input to a model whose
    config says "stereo": "mid-side") rather than channel by channel."""
    return channels == 2 and model.codec.config.get("stereo") == "mid-side"


def _coded(chunks: Iterable[np.ndarray], model: LoadedModel) -> Iterator[np.ndarray]:
    """Chunks (C, len) as the model codes them: stereo as mid/side where the model says so."""
    for c in chunks:
        yield audio.to_mid_side(c) if mid_side(model, c.shape[0]) else c


def iter_codes(chunks: Iterable[np.ndarray], model: LoadedModel) -> Iterator[torch.Tensor]:
    """chunk_codes() of each chunk of a stream (C, len), all but the last of the same length."""
    _audio_model(model)
    for prev, cur, nxt in _lookahead(_coded(chunks, model)):
        yield chunk_codes(prev, cur, nxt, model)


@torch.no_grad()
def level_drop_db(cur: np.ndarray, codes: torch.Tensor, model: LoadedModel, n: int) -> float | None:
    """How many dB quieter the model gives a chunk (C, len) back from its codes' first n layers
    (None for near-silence, below -70 dBFS)."""
    power = float(np.mean(np.square(cur, dtype=np.float64)))
    if power < 1e-7:
        return None
    codec = model.codec
    dev = next(codec.decoder.parameters()).device
    y = codec.decoder(codec.quantizer.decode_codes(codes[:, :n].to(dev)))[:, 0, :cur.shape[1]]
    return 10 * math.log10(power / max(float(y.double().square().mean()), 1e-20))


def _warn_level(drop: float | None, model: LoadedModel, what: str, rate: int | None,
                seconds: float) -> None:
    """A MediaWarning when the model loses more than LEVEL_DROP_DB of the first chunk's level:
    audio unlike its training speech (steady tones, band-limited or non-speech audio)."""
    if drop is None or drop <= LEVEL_DROP_DB:
        return
    mr = model.codec.sample_rate
    why = (f"; its rate ({rate} Hz) is below the model's {mr} Hz, and band-limited audio is "
           "out of what it was trained on" if rate is not None and rate < mr else
           ": it is unlike what the model was trained on (steady tones, band-limited audio, or "
           "non-speech audio for a speech model)")
    warnings.warn(f"{what}: model {model.name!r} gives this audio back {drop:.0f} dB quieter "
                  f"(measured on its first {seconds:.{0 if seconds >= 10 else 1}f} s){why}",
                  MediaWarning, stacklevel=3)


def encode_chunks(chunks: Iterable[np.ndarray], model: LoadedModel, layers: int | None = None,
                  progress: Callable[[int], None] | None = None, what: str = "the audio",
                  rate: int | None = None) -> list[container.Segment]:
    """Segments of a stream of chunks (C, len) at the model's rate (all but the last of the
    same length), chunk-major; progress(samples done) after each chunk. The first chunk is also
    decoded once to compare levels (_warn_level; `what` and the input's `rate` go into the
    warning): about 0.3 s for a 10-s chunk with speech-stft."""
    _audio_model(model)
    n = default_layers(model) if layers is None else layers
    if not 1 <= n <= model.codec.num_layers:
        raise CodecError(f"--layers must be between 1 and {model.codec.num_layers}, not {n}")
    segs: list[container.Segment] = []
    done = 0
    for prev, cur, nxt in _lookahead(_coded(chunks, model)):
        codes = chunk_codes(prev, cur, nxt, model)
        if not done:
            _warn_level(level_drop_db(cur, codes, model, n), model, what, rate,
                        cur.shape[1] / model.codec.sample_rate)
        segs += encode_streams(codes, model.codec, n)
        done += cur.shape[1]
        if progress:
            progress(done)
    return segs


def _pack(model: LoadedModel, rate: int, channels: int, num_samples: int, seg: int,
          segments: list[container.Segment]) -> bytes:
    return container.pack(container.VQCFile(
        modality="audio", model_name=model.name, model_id=model.model_id,
        num_layers_model=model.codec.num_layers, codebook_size=model.codec.m,
        geometry=container.AudioGeometry(sample_rate=rate, channels=channels,
                                         num_samples=num_samples),
        segment_size=seg, segments=segments))


def _split(x: np.ndarray, seg: int) -> Iterator[np.ndarray]:
    for i in range(0, x.shape[1], seg):
        yield x[:, i:i + seg]


def compress_audio(wave: np.ndarray, rate: int, model: LoadedModel, layers: int | None = None,
                   seconds: float = SEGMENT_SECONDS) -> bytes:
    """Compress float audio (samples,) or (samples, channels) at `rate`; the .vqc bytes.
    layers: how many to store (default: default_layers(model))."""
    _audio_model(model)
    wave = np.asarray(wave, dtype=np.float32)
    if wave.ndim == 1:
        wave = wave[:, None]
    if wave.ndim != 2 or not len(wave) or not 1 <= wave.shape[1] <= audio.MAX_CHANNELS:
        raise CodecError(f"expected audio (samples, channels) with samples >= 1, got {wave.shape}")
    mr = model.codec.sample_rate
    total = audio.model_length(len(wave), rate, mr)
    x = audio.resample(audio.finite(wave, "the audio"), rate, mr)[:total]
    x = np.pad(x, ((0, total - len(x)), (0, 0))).T.copy()
    seg = segment_samples(model, seconds)
    return _pack(model, rate, wave.shape[1], len(wave), seg,
                 encode_chunks(_split(x, seg), model, layers, rate=rate))


def compress_audio_path(src: Path, model: LoadedModel, layers: int | None = None,
                        progress: Progress | None = None,
                        seconds: float = SEGMENT_SECONDS) -> bytes:
    """The .vqc bytes of an audio file, read chunk by chunk (bounded memory); nothing is written."""
    _audio_model(model)
    mr = model.codec.sample_rate
    with audio.AudioReader(src) as r:
        seg = segment_samples(model, seconds)
        dur = r.frames / r.rate
        cb = None if progress is None else (lambda done: progress(min(done / mr, dur), dur))
        segs = encode_chunks(r.chunks(mr, seg), model, layers, cb, Path(src).name, r.rate)
        return _pack(model, r.rate, r.channels, r.frames, seg, segs)


def compress_audio_file(src: Path, dst: Path, model: LoadedModel, layers: int | None = None,
                        progress: Progress | None = None,
                        seconds: float = SEGMENT_SECONDS) -> bytes:
    """Compress an audio file chunk by chunk (bounded memory) and write dst atomically."""
    data = compress_audio_path(src, model, layers, progress, seconds)
    atomic_write_bytes(dst, data)
    return data


# -- decoding ------------------------------------------------------------------------------------
def _chunk_lengths(f: container.VQCFile, model: LoadedModel) -> list[int]:
    """Model-rate length of each chunk the file's geometry implies (checked against the table)."""
    codec, g = model.codec, f.geometry
    total = audio.model_length(g.num_samples, g.sample_rate, codec.sample_rate)
    seg = f.segment_size or total
    if total == 0 or seg % codec.stride:
        raise CodecError(f"chunk length {seg} does not fit this model (stride {codec.stride})")
    with reraise_as(CodecError, limits.LimitError):
        limits.check_chunk(seg, codec.sample_rate, codec.stride)
    count = -(-total // seg)  # checked before the lengths are listed: total can be huge
    if count * g.channels != len(f.segments):
        raise CodecError(f"the file has {len(f.segments)} segments, its length and channels need "
                         f"{count * g.channels}")
    lengths = [min(seg, total - i) for i in range(0, total, seg)]
    for i, sg in enumerate(f.segments):
        if sg.latent_shape != codec.latent_shape(1, lengths[i // g.channels]):
            raise CodecError("latent frames do not match the audio length for this model")
    return lengths


@torch.no_grad()
def decode_chunks(f: container.VQCFile, model: LoadedModel,
                  layers: int | None = None) -> Iterator[np.ndarray]:
    """Chunks (C, len) at the model's rate of an unpacked audio file, one at a time."""
    _audio_model(model)
    if f.modality != "audio":
        raise CodecError(f"this is an {f.modality} file, not audio")
    codec, c = model.codec, f.geometry.channels
    lengths = _chunk_lengths(f, model)
    k = f.num_layers if layers is None else min(layers, f.num_layers)
    dev = next(codec.decoder.parameters()).device
    codes = (decode_streams(f.segments[i * c:(i + 1) * c], codec, k) for i in range(len(lengths)))
    mf = MARGIN_FRAMES
    for (prev, cur, nxt), n in zip(_lookahead(codes), lengths, strict=True):
        parts = [p for p in (None if prev is None else prev[..., -mf:], cur,
                             None if nxt is None else nxt[..., :mf]) if p is not None]
        y = codec.decoder(codec.quantizer.decode_codes(torch.cat(parts, -1).to(dev)))
        lf = 0 if prev is None else min(mf, prev.shape[-1])
        s = codec.stride
        out = y[:, 0, lf * s:lf * s + n].float().cpu().numpy()
        yield audio.from_mid_side(out) if mid_side(model, c) else out


def _unpack(data: bytes) -> container.VQCFile:
    with reraise_as(CodecError, container.ContainerError):
        return container.unpack(data)


def _check_model(f: container.VQCFile, model: LoadedModel, layers: int | None) -> None:
    """Identity, header fields (segments.check_model) and the layers asked for, before decoding."""
    if f.modality != "audio":
        raise CodecError(f"this is an {f.modality} file, not audio")
    check_model(f, model)
    check_layers_arg(layers)


def decompress_audio(data: bytes, model: LoadedModel,
                     layers: int | None = None) -> tuple[np.ndarray, int]:
    """Decode .vqc audio bytes to float32 (samples, channels) at the original rate."""
    f = _unpack(data)
    _check_model(f, model, layers)
    g = f.geometry
    total = audio.model_length(g.num_samples, g.sample_rate, model.codec.sample_rate)
    with reraise_as(CodecError, limits.LimitError):  # the whole clip is held here, at both rates
        limits.check_audio_values(max(g.num_samples, total), g.channels)
    x = np.concatenate(list(decode_chunks(f, model, layers)), 1).T
    y = audio.resample(np.ascontiguousarray(x), model.codec.sample_rate, g.sample_rate)
    y = np.pad(y[:g.num_samples], ((0, max(0, g.num_samples - len(y))), (0, 0)))
    return np.clip(y, -1.0, 1.0), g.sample_rate


def decompress_audio_file(data: bytes, dst: Path, model: LoadedModel, layers: int | None = None,
                          progress: Progress | None = None) -> container.VQCFile:
    """Decode .vqc audio bytes into an audio file (format from dst's extension), chunk by chunk."""
    f = _unpack(data)
    _check_model(f, model, layers)
    g = f.geometry
    mr = model.codec.sample_rate
    done, dur = 0, g.num_samples / g.sample_rate
    with audio.AudioWriter(dst, g.sample_rate, g.channels, g.num_samples, mr) as w:
        for chunk in decode_chunks(f, model, layers):
            w.write(chunk)
            done += chunk.shape[1]
            if progress:
                progress(min(done / mr, dur), dur)
    return f


def kbps(nbytes: int, g: container.AudioGeometry) -> float:
    """Kilobits per second of audio for a file of nbytes."""
    return 8 * nbytes / max(g.num_samples / g.sample_rate, 1e-9) / 1000 if g.num_samples else math.inf
