"""The segment coder both codecs share: codes <-> one rANS stream per layer under the model's
exact prior, the index hashes that check a decode, the checks of a file against its model, and
the shipped model a file's header names (headers read with CodecError, as every check here).

::

    codes (B, n, [G,] h, w) --per layer, per decoding step: integer probabilities--> rANS
       streams + index hashes = container.Segment
    Segment --the same probabilities, step by step--> codes (hash-checked)

The image codec (image_codec) and the audio codec (audio_codec) both call it; it knows neither.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from . import container, limits, media
from .coding import StreamDecoder, StreamEncoder, StreamError
from .errors import CodecError, reraise_as
from .models import LoadedModel, list_models, load_model, model_id


def with_groups(codes: torch.Tensor) -> torch.Tensor:
    """Codes as (B, n, G, h, w): a plain HR-VQ's (B, n, h, w) gets a group axis of 1."""
    return codes if codes.dim() == 5 else codes.unsqueeze(2)


def encode_streams(codes: torch.Tensor, codec, n: int,
                   probs: dict | None = None) -> list[container.Segment]:
    """One segment per item of codes (B, >= n, [G,] h, w): the first n layers, each a rANS stream
    (step by step of the prior's decoding order) and a hash of its indices. probs: the prior's
    probabilities of (layer, step) already computed for these codes (vqcodec.rdo), if any."""
    ex, c5 = codec.exact, with_groups(codes)
    h, w = c5.shape[-2:]
    streams: list[list[bytes]] = [[] for _ in codes]
    for i in range(n):
        sm = ex.step_map(h, w, i)
        encs = [StreamEncoder() for _ in codes]
        for t in range(ex.layer_steps(i)):
            pr = probs[i, t] if probs and (i, t) in probs else ex.step_probs(c5, i, t).cpu().numpy()
            for b, enc in enumerate(encs):
                enc.add(c5[b, i][sm == t].numpy(), pr[b])
        for b, enc in enumerate(encs):
            streams[b].append(enc.finish())
    return [container.Segment((h, w), streams[b],
                              [container.code_hash(codes[b, i].numpy()) for i in range(n)])
            for b in range(len(codes))]


def decode_streams(segs: list[container.Segment], codec, k: int) -> torch.Tensor:
    """Codes (B, k, [G,] h, w) of the first k layers of segments that share one latent shape.

    Raises CodecError for a bad stream, or indices that differ from the encoder's (hash)."""
    ex = codec.exact
    h, w = segs[0].latent_shape
    c5 = torch.zeros(len(segs), k, codec.groups or 1, h, w, dtype=torch.long)
    for i in range(k):
        sm = ex.step_map(h, w, i)
        try:
            decs = [StreamDecoder(seg.streams[i]) for seg in segs]
            for t in range(ex.layer_steps(i)):
                probs = ex.step_probs(c5, i, t).cpu().numpy()
                for b, dec in enumerate(decs):
                    c5[b, i][sm == t] = torch.from_numpy(dec.decode(probs[b]))
        except StreamError as e:
            raise CodecError(f"layer {i + 1}: {e}") from None
        codes = c5 if codec.groups else c5[:, :, 0]
        for b, seg in enumerate(segs):
            if container.code_hash(codes[b, i].numpy()) != seg.code_hashes[i]:
                raise CodecError(f"layer {i + 1} decoded to different indices than were "
                                 "encoded (corrupt file, or a prior that differs from the "
                                 "encoder's)")
    return c5 if codec.groups else c5[:, :, 0]


def check_model(f: container.VQCFile, model: LoadedModel) -> None:
    """The file's identity and header fields against the model, before anything is decoded.

    The id decides: a different id is an error. The name in a file is a label; one that differs
    from the model's gives a MediaWarning (the id's model decodes it, as the hashes confirm)."""
    if model.model_id != f.model_id:
        raise CodecError(f"this file was made by model {f.model_name!r} (id {f.model_id.hex()}), "
                         f"not by {model.name!r} (id {model.model_id.hex()})")
    codec = model.codec
    with reraise_as(CodecError, limits.LimitError):
        limits.check_model_fields(f.num_layers_model, f.num_layers, f.codebook_size,
                                  codec.num_layers, codec.m, model.name)
    if f.model_name != model.name:
        warnings.warn(f"the file names model {f.model_name!r} but carries the id of "
                      f"{model.name!r}, which decodes it (the id decides)", media.MediaWarning,
                      stacklevel=3)


def check_layers_arg(layers: int | None) -> None:
    """CodecError unless layers (how many stored layers to decode) is None or at least 1."""
    if layers is not None and layers < 1:
        raise CodecError(f"--layers must be 1 or more, not {layers}")


def read_header(data: bytes) -> container.VQCFile:
    """The header of .vqc bytes (or of a prefix of them), without reading the payload."""
    with reraise_as(CodecError, container.ContainerError):
        return container.read_header(data)


def read_header_file(path: Path) -> container.VQCFile:
    """The header of a .vqc file, however large the format lets it be (many chunks or tiles)."""
    with open(path, "rb") as fh, reraise_as(CodecError, container.ContainerError):
        return container.read_header_file(fh)


def find_model_for(f: container.VQCFile, device: str) -> LoadedModel:
    """The shipped model whose identity the file (or its header) records."""
    # The model the file names first: identifying a model hashes its weights (megabytes).
    for info_ in sorted(list_models(), key=lambda m: m["name"] != f.model_name):
        p = Path(info_["path"])
        try:
            if model_id(p) == f.model_id:
                return load_model(p, device)
        except OSError:
            continue
    raise CodecError(f"this file needs model {f.model_name!r} (id {f.model_id.hex()}), which is "
                     "not installed; pass it with --model")
