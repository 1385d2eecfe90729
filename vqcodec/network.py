"""The codec's networks as one module: encoder, HR-VQ (or product HR-VQ) and decoder, plus the
float prior while training, assembled from a model config. models.py is the registry of model
folders (identity, loading, the shipped defaults) that builds these.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .autoencoder import (
    Decoder1d,
    Decoder2d,
    DecoderDCT,
    DecoderLR,
    Encoder1d,
    Encoder2d,
    EncoderDCT,
    EncoderLR,
    SpecDecoder1d,
    SpecEncoder1d,
)
from .errors import ModelError
from .group_prior import GroupPrior
from .prior import ExactPrior, Prior
from .product_vq import ProductHRVQ
from .quantizer import DEAD_USAGE, HRVQ, USAGE_DECAY


def decoder_blocks(config: dict) -> list[int]:
    """A lowres model's ConvNeXt blocks per decoder stage: the encoder's unless grown."""
    return config.get("decoder_blocks") or config["stage_blocks"]


class Codec(nn.Module):
    """Encoder + HR-VQ + decoder (+ the prior while training). Built from a config dict."""

    def __init__(self, config: dict):
        super().__init__()
        self.config = config
        c = config
        st = c.get("strides")
        if c["modality"] == "image" and c.get("arch") == "lowres":
            # Pixel-unshuffle stems and ConvNeXt stages at 1/4, 1/8, ... (stage_blocks each).
            args = (c["in_channels"], c["channels"], c["stage_blocks"], c["latent_dim"])
            self.encoder = EncoderLR(*args)
            self.decoder = DecoderLR(c["in_channels"], c["channels"], decoder_blocks(c),
                                     c["latent_dim"])
        elif c["modality"] == "image" and c.get("arch") == "dct":
            # An orthonormal colour DCT of b x b blocks (b = strides[0]) + ConvNeXt blocks at 1/b.
            args = (c["in_channels"], st[0], c["channels"][0])
            g = self.groups or 1
            self.encoder = EncoderDCT(*args, c["stage_blocks"][0], c["latent_dim"], g)
            self.decoder = DecoderDCT(*args, decoder_blocks(c)[0], c["latent_dim"], g,
                                      c.get("post_blocks", 0), c.get("post_width", 64),
                                      c.get("synth_kernel", 1))
        elif c["modality"] == "image":
            args = (c["in_channels"], c["channels"], c["latent_dim"], c["res_blocks"], st, self.shuffle)
            self.encoder, self.decoder = Encoder2d(*args), Decoder2d(*args)
        elif c["modality"] == "audio" and c.get("arch") == "stft":
            # STFT frames: hop = strides[0], width = channels[0], res_blocks ConvNeXt blocks.
            args = (st[0], c["channels"][0], c["res_blocks"], c["latent_dim"], self.rows)
            self.encoder, self.decoder = SpecEncoder1d(*args), SpecDecoder1d(*args)
        elif c["modality"] == "audio":
            # One channel at a time (a stereo file is coded as two mono signals), at sample_rate.
            args = (1, c["channels"], c["latent_dim"], c["res_blocks"], st, c["base_channels"])
            self.encoder, self.decoder = Encoder1d(*args), Decoder1d(*args)
        else:
            raise ModelError(f"unsupported modality {c['modality']!r}")
        usage = (c.get("usage_decay", USAGE_DECAY), c.get("dead_usage", DEAD_USAGE))
        p = c["prior"]
        if c.get("search_weight") not in (None, "decoder"):
            raise ValueError(f"unknown search_weight {c['search_weight']!r} (decoder, or none)")
        if self.groups:  # product HR-VQ: one tree per channel group, a prior per (layer, group)
            self.quantizer = ProductHRVQ(c["latent_dim"], c["groups"], c["codebook_size"],
                                         c["num_layers"], c["beta"], *usage,
                                         weighted=c.get("search_weight") == "decoder",
                                         lowfreq_weight=c.get("lowfreq_weight", 0.0))
            self.prior = GroupPrior(c["codebook_size"], c["num_layers"], c["groups"], p["width"],
                                    p["blocks"], p["phases"])
        else:
            self.quantizer = HRVQ(c["latent_dim"], c["codebook_size"], c["num_layers"], c["beta"],
                                  *usage, c.get("codebook_update", "loss"),
                                  c.get("nearest", "gather"))
            self.prior = Prior(c["codebook_size"], c["num_layers"], p["width"], p["blocks"],
                               p["phases"])
        self.exact: ExactPrior | None = None

    @property
    def rows(self) -> int:
        """Audio: latent vectors per frame (the latent grid's height)."""
        return int(self.config.get("latent_rows", 1))

    @property
    def shuffle(self) -> int:
        """Images: latent vectors per side of each deepest-stride position (depth-to-space)."""
        return int(self.config.get("shuffle", 1))

    @property
    def groups(self) -> int:
        """Channel groups of a product HR-VQ (0: one plain HR-VQ tree; codes then lack the axis)."""
        return int(self.config.get("groups", 0))

    @property
    def stride(self) -> int:
        """What inputs are padded to a multiple of: the transform's total stride."""
        if self.config.get("arch") == "lowres":
            return 4 * 2 ** (len(self.config["channels"]) - 1)
        return math.prod(self.config.get("strides") or [2] * len(self.config["channels"]))

    def latent_shape(self, height: int, width: int) -> tuple[int, int]:
        """The latent grid of an image of this size (padded up to the stride); audio: (rows,
        frames) of a clip of `width` samples."""
        if self.modality == "audio":
            return self.rows, -(-width // self.stride)
        f = self.shuffle
        return -(-height // self.stride) * f, -(-width // self.stride) * f

    @property
    def modality(self) -> str:
        return self.config["modality"]

    @property
    def sample_rate(self) -> int:
        """Audio models: the rate the networks run at (inputs are resampled to it)."""
        return int(self.config["sample_rate"])

    @property
    def m(self) -> int:
        return self.config["codebook_size"]

    @property
    def num_layers(self) -> int:
        return self.config["num_layers"]

    @property
    def name(self) -> str:
        return self.config.get("name", "unnamed")

    def autoencoder_state(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()
                if not k.startswith("prior.")}
