"""Convolutional encoders and decoders: images (2-D) and audio (1-D).

::

    image (B,3,H,W) in [0,1] --Encoder2d--> z (B,D,H/s,W/s) --HRVQ--> e_C --Decoder2d--> (B,3,H,W)
    audio (B,1,L) in [-1,1]  --Encoder1d--> z (B,D,1,L/s)   --HRVQ--> e_C --Decoder1d--> (B,1,L)

`channels` lists the width after each step and `strides` (default all 2) how much each step
shrinks the grid; the total stride is their product. A stride-1 step is a plain conv (small
images such as CIFAR-10 keep a full-resolution latent grid). Residual blocks sit at every
scale. Plain ReLU convs: GDN-style normalisations did not pay for their run time on two CPU
cores here. Audio uses dilated ELU units (SEANet-like) and keeps a latent height of 1, so the
quantizer, prior and container treat its frames as a 1 x T grid.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class ResBlock(nn.Module):
    def __init__(self, ch: int, conv=nn.Conv2d):
        super().__init__()
        self.body = nn.Sequential(nn.ReLU(), conv(ch, ch, 3, padding=1), nn.ReLU(),
                                  conv(ch, ch, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class Encoder2d(nn.Module):
    """Image (B, C, H, W) -> latent (B, D, H * shuffle / s, W * shuffle / s), s = prod(strides).

    With shuffle > 1 the transform runs down to stride s but emits shuffle**2 latent vectors per
    position (depth-to-space): the quantizer sees a grid at stride s / shuffle, while each group
    of shuffle x shuffle vectors is a joint transform of an s x s block. Deep strides are cheap
    per pixel and decorrelate over a wide window; the rate per index stays that of the finer grid.
    """

    def __init__(self, in_ch: int, channels: list[int], latent_dim: int, res_blocks: int,
                 strides: list[int] | None = None, shuffle: int = 1):
        super().__init__()
        layers: list[nn.Module] = []
        prev = in_ch
        for ch, s in zip(channels, strides or [2] * len(channels), strict=True):
            layers.append(nn.Conv2d(prev, ch, 5, stride=s, padding=2))
            layers += [ResBlock(ch) for _ in range(res_blocks)]
            prev = ch
        layers += [nn.ReLU(), nn.Conv2d(prev, latent_dim * shuffle**2, 1)]
        if shuffle > 1:
            layers.append(nn.PixelShuffle(shuffle))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x - 0.5)


class Decoder2d(nn.Module):
    """The mirror of Encoder2d (space-to-depth first when shuffle > 1)."""

    def __init__(self, out_ch: int, channels: list[int], latent_dim: int, res_blocks: int,
                 strides: list[int] | None = None, shuffle: int = 1):
        super().__init__()
        chans = channels[::-1]
        ups = (strides or [2] * len(channels))[::-1]
        layers: list[nn.Module] = [nn.PixelUnshuffle(shuffle)] if shuffle > 1 else []
        layers.append(nn.Conv2d(latent_dim * shuffle**2, chans[0], 3, padding=1))
        for i, (ch, s) in enumerate(zip(chans, ups, strict=True)):
            layers += [ResBlock(ch) for _ in range(res_blocks)]
            nxt = chans[i + 1] if i + 1 < len(chans) else max(ch // 2, 16)
            up = nn.ConvTranspose2d(ch, nxt, 4, stride=2, padding=1) if s == 2 else \
                nn.Conv2d(ch, nxt, 3, padding=1)
            layers += [nn.ReLU(), up]
        layers += [nn.ReLU(), nn.Conv2d(nxt, out_ch, 3, padding=1)]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z) + 0.5


# -- audio (1-D) ---------------------------------------------------------------------------------
class ResBlock1d(nn.Module):
    """Dilated residual unit (SEANet/EnCodec style): a wide receptive field for few weights."""

    def __init__(self, ch: int, dilation: int):
        super().__init__()
        self.body = nn.Sequential(nn.ELU(), nn.Conv1d(ch, ch, 3, dilation=dilation, padding=dilation),
                                  nn.ELU(), nn.Conv1d(ch, ch, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def _units(ch: int, res_blocks: int) -> list[nn.Module]:
    return [ResBlock1d(ch, 3**j) for j in range(res_blocks)]  # dilations 1, 3, 9, ...


class Encoder1d(nn.Module):
    """Waveform (B, C, L) -> latent (B, D, 1, L / prod(strides)).

    `channels[i]` is the width after down-sampling step i (stride `strides[i]`, kernel 2*stride);
    `res_blocks` dilated units run before each step, at the width of that scale. The first conv
    runs at `base` channels, so the full-rate part stays cheap. The latent gets a dummy height of
    1, so the quantizer, the prior (phases along time) and the container see the same (h, w)
    grid as for images."""

    def __init__(self, in_ch: int, channels: list[int], latent_dim: int, res_blocks: int,
                 strides: list[int], base: int = 16):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv1d(in_ch, base, 7, padding=3)]
        prev = base
        for ch, s in zip(channels, strides, strict=True):
            layers += _units(prev, res_blocks)
            layers += [nn.ELU(), nn.Conv1d(prev, ch, 2 * s, stride=s, padding=(s + 1) // 2)]
            prev = ch
        layers += [nn.ELU(), nn.Conv1d(prev, latent_dim, 3, padding=1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).unsqueeze(2)


class Decoder1d(nn.Module):
    """Latent (B, D, 1, T) -> waveform (B, C, T * prod(strides)); the mirror of Encoder1d."""

    def __init__(self, out_ch: int, channels: list[int], latent_dim: int, res_blocks: int,
                 strides: list[int], base: int = 16):
        super().__init__()
        chans = channels[::-1] + [base]
        layers: list[nn.Module] = [nn.Conv1d(latent_dim, chans[0], 7, padding=3)]
        for i, s in enumerate(strides[::-1]):
            layers += [nn.ELU(), nn.ConvTranspose1d(chans[i], chans[i + 1], 2 * s, stride=s,
                                                    padding=(s + 1) // 2, output_padding=s % 2)]
            layers += _units(chans[i + 1], res_blocks)
        layers += [nn.ELU(), nn.Conv1d(base, out_ch, 7, padding=3)]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.squeeze(2))


# -- audio on STFT frames (Vocos-like) --------------------------------------------------------------
class ConvNeXt1d(nn.Module):
    """Depthwise conv (k=7) + channel MLP, channels-last LayerNorm, a small residual scale."""

    def __init__(self, ch: int, scale: float):
        super().__init__()
        self.dw = nn.Conv1d(ch, ch, 7, padding=3, groups=ch)
        self.norm = nn.LayerNorm(ch)
        self.mlp = nn.Sequential(nn.Linear(ch, 3 * ch), nn.GELU(), nn.Linear(3 * ch, ch))
        self.gamma = nn.Parameter(torch.full((ch,), scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.mlp(self.norm(self.dw(x).transpose(1, 2))) * self.gamma
        return x + y.transpose(1, 2)


class _Trunk(nn.Module):
    """stem conv -> LayerNorm -> ConvNeXt blocks -> LayerNorm, all at the frame rate."""

    def __init__(self, in_ch: int, width: int, blocks: int):
        super().__init__()
        self.stem = nn.Conv1d(in_ch, width, 7, padding=3)
        self.norm_in, self.norm_out = nn.LayerNorm(width), nn.LayerNorm(width)
        self.blocks = nn.Sequential(*[ConvNeXt1d(width, 1 / blocks) for _ in range(blocks)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm_in(self.stem(x).transpose(1, 2)).transpose(1, 2)
        return self.norm_out(self.blocks(x).transpose(1, 2))  # (B, T, width)


def _frames_pad(n_fft: int, hop: int) -> int:
    # "same" framing: a clip of T * hop samples gives exactly T frames, frame t centred on the
    # middle of its hop (n_fft - hop is even for the sizes used: n_fft = 4 * hop).
    return (n_fft - hop) // 2


class SpecEncoder1d(nn.Module):
    """Waveform (B, 1, T * hop) -> latent (B, D, rows, T): an STFT (window 4 * hop), then a
    ConvNeXt trunk at the frame rate. All the network runs at hop-times fewer positions than a
    waveform conv stack, which is what makes it trainable on a CPU. The input features are the
    log magnitude and the complex spectrum with its magnitude compressed to the power 0.3."""

    def __init__(self, hop: int, width: int, blocks: int, latent_dim: int, rows: int):
        super().__init__()
        self.hop, self.n_fft, self.d, self.rows = hop, 4 * hop, latent_dim, rows
        bins = self.n_fft // 2 + 1
        self.trunk = _Trunk(3 * bins, width, blocks)
        self.out = nn.Linear(width, latent_dim * rows)
        self.register_buffer("window", torch.hann_window(self.n_fft), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = _frames_pad(self.n_fft, self.hop)
        spec = torch.stft(nn.functional.pad(x[:, 0], (p, p)), self.n_fft, self.hop,
                          window=self.window, center=False, return_complex=True)
        mag = spec.abs().clamp_min(1e-5)
        c = spec / mag**0.7
        feats = torch.cat([mag.log(), c.real, c.imag], 1)
        z = self.out(self.trunk(feats))  # (B, T, D * rows)
        b, t, _ = z.shape
        return z.view(b, t, self.d, self.rows).permute(0, 2, 3, 1)


class SpecDecoder1d(nn.Module):
    """Latent (B, D, rows, T) -> waveform (B, 1, T * hop): a ConvNeXt trunk predicts each frame's
    log magnitude and phase, and an inverse STFT (overlap-add, window 4 * hop) makes the wave."""

    def __init__(self, hop: int, width: int, blocks: int, latent_dim: int, rows: int):
        super().__init__()
        self.hop, self.n_fft = hop, 4 * hop
        self.bins = self.n_fft // 2 + 1
        self.trunk = _Trunk(latent_dim * rows, width, blocks)
        self.out = nn.Linear(width, 2 * self.bins)
        self.register_buffer("window", torch.hann_window(self.n_fft), persistent=False)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        b, d, r, t = z.shape
        h = self.out(self.trunk(z.reshape(b, d * r, t))).transpose(1, 2)  # (B, 2 * bins, T)
        mag = h[:, :self.bins].clamp(max=6.0).exp()  # exp(6) ~ 400: no overflow early in training
        ang = h[:, self.bins:]
        frames = torch.fft.irfft(torch.polar(mag, ang), n=self.n_fft, dim=1) * self.window[:, None]
        # Overlap-add by hand: torch.istft(center=False) refuses the Hann envelope's zero at the
        # clip's first sample (its NOLA check), and "same" framing trims those edges anyway.
        length = (t - 1) * self.hop + self.n_fft
        fold = dict(output_size=(1, length), kernel_size=(1, self.n_fft), stride=(1, self.hop))
        y = nn.functional.fold(frames, **fold)[:, 0, 0]
        env = nn.functional.fold((self.window**2)[None, :, None].expand(1, -1, t), **fold)[:, 0, 0]
        p = _frames_pad(self.n_fft, self.hop)
        return (y / env.clamp_min(1e-3))[:, None, p:p + t * self.hop]


# -- images at low resolution (NVTC-like): pixel-unshuffle stems and ConvNeXt blocks -------------
class ConvNeXt2d(nn.Module):
    """Depthwise 7x7 conv + channel MLP (x4), LayerNorm over channels, a small residual scale.
    Runs fastest in channels_last memory format on the CPU (measured: 4x per step)."""

    def __init__(self, ch: int, scale: float):
        super().__init__()
        self.dw = nn.Conv2d(ch, ch, 7, padding=3, groups=ch)
        self.norm = nn.LayerNorm(ch)
        self.mlp = nn.Sequential(nn.Linear(ch, 4 * ch), nn.GELU(), nn.Linear(4 * ch, ch))
        self.gamma = nn.Parameter(torch.full((ch,), scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.mlp(self.norm(self.dw(x).permute(0, 2, 3, 1))) * self.gamma
        return x + y.permute(0, 3, 1, 2)


def _stage(ch: int, blocks: int, scale: float = 0.1) -> list[nn.Module]:
    return [ConvNeXt2d(ch, scale) for _ in range(blocks)]


def fast_bf16(device: torch.device) -> bool:
    """Whether bf16 matrix products are native here (CPUs with AVX512-BF16/AMX, and GPUs): on
    this project's 2-core CPU they run 4x faster than float32, while CPUs without them emulate
    bf16 slowly. The integer prior never uses it, so files decode the same either way."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    check = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    return bool(check and check())


def _run_lr(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """net(x) in channels_last, float32 out. In training the caller's autocast decides (a bf16
    preset trains the transform in bf16: 1.45x per step, training/photo-v5/speed_bf16.json);
    at inference bf16 autocast where bf16 is native, as training ran."""
    x = x.contiguous(memory_format=torch.channels_last)
    if torch.is_grad_enabled():
        return net(x).float()
    use = fast_bf16(x.device)
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=use):
        return net(x).float()


class EncoderLR(nn.Module):
    """Image (B, 3, H, W) -> latent (B, D, H/s, W/s) with almost no work at full resolution.

    ::

        x --unshuffle 4--> 1x1 --> blocks[0] x ConvNeXt at 1/4 (widths[0])
          --unshuffle 2--> 1x1 --> blocks[1] x ConvNeXt at 1/8 (widths[1]) ... --> 1x1 --> z

    Each further entry of widths/blocks halves the grid once more (s = 4 * 2^(stages-1)).
    """

    def __init__(self, in_ch: int, widths: list[int], blocks: list[int], latent_dim: int):
        super().__init__()
        layers: list[nn.Module] = [nn.PixelUnshuffle(4), nn.Conv2d(in_ch * 16, widths[0], 1)]
        for j, (ch, nb) in enumerate(zip(widths, blocks, strict=True)):
            if j:
                layers += [nn.PixelUnshuffle(2), nn.Conv2d(4 * widths[j - 1], ch, 1)]
            layers += _stage(ch, nb)
        layers.append(nn.Conv2d(widths[-1], latent_dim, 1))
        self.net = nn.Sequential(*layers).to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _run_lr(self.net, x - 0.5)


class DecoderLR(nn.Module):
    """The mirror of EncoderLR: 1x1 -> ConvNeXt blocks -> 1x1 + pixel-shuffle 2, ... -> 1x1 +
    pixel-shuffle 4 to the image. `blocks` is in the encoder's order (1/4 first) and may differ
    from the encoder's: a decoder grown from a parent (grow_decoder) has more."""

    def __init__(self, out_ch: int, widths: list[int], blocks: list[int], latent_dim: int):
        super().__init__()
        w, nb = widths[::-1], blocks[::-1]
        layers: list[nn.Module] = [nn.Conv2d(latent_dim, w[0], 1)]
        for j, (ch, n) in enumerate(zip(w, nb, strict=True)):
            layers += _stage(ch, n)
            if j + 1 < len(w):
                layers += [nn.Conv2d(ch, 4 * w[j + 1], 1), nn.PixelShuffle(2)]
        layers += [nn.Conv2d(w[-1], out_ch * 16, 1), nn.PixelShuffle(4)]
        self.net = nn.Sequential(*layers).to(memory_format=torch.channels_last)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return _run_lr(self.net, z) + 0.5


def color_dct(block: int) -> torch.Tensor:
    """(3 b², 3 b²) orthonormal analysis matrix for the pixel-unshuffle(b) vector of a b x b RGB
    block (entry c b² + i b + j): an orthonormal opponent colour transform (luma, two chroma)
    times the 2-D DCT-II of the block. Rows run from low to high frequency, chroma two diagonals
    after luma (it carries less), so consecutive channels -- a product VQ's groups -- hold
    coefficients of similar energy."""
    n = torch.arange(block, dtype=torch.float64)
    d = torch.cos(math.pi * (2 * n[None] + 1) * n[:, None] / (2 * block)) * math.sqrt(2 / block)
    d[0] /= math.sqrt(2)
    color = torch.tensor([[1.0, 1, 1], [1, 0, -1], [1, -2, 1]], dtype=torch.float64)
    basis = torch.kron(color / color.norm(dim=1, keepdim=True), torch.kron(d, d))
    k, u, v = (t.flatten() for t in torch.meshgrid(torch.arange(3), torch.arange(block),
                                                    torch.arange(block), indexing="ij"))
    key = ((u + v + 2 * (k > 0)) * 3 + k) * block + u
    return basis[torch.argsort(key, stable=True)].float()


def interleave(n: int, groups: int) -> torch.Tensor:
    """Which of n coefficients (sorted by energy, highest first) each latent channel holds, so
    that G equal channel groups get equal shares: rank r goes to group r mod G, or G-1 - r mod G
    on every second pass (a snake). Every tree of a product VQ has the same bits to spend (m^n
    paths), so a group holding only the low frequencies would be starved and one holding only
    high frequencies would waste them."""
    if n % groups:
        raise ValueError(f"latent_dim {n} is not a multiple of groups {groups}")
    r = torch.arange(n)
    lap, pos = r // groups, r % groups
    group = torch.where(lap % 2 == 0, pos, groups - 1 - pos)
    return torch.argsort(group * n + r, stable=True)  # channel c = group g's (c mod d)-th


def _set_centre(conv: nn.Conv2d, weight: torch.Tensor) -> nn.Conv2d:
    """conv as the matrix `weight` (out, in): its centre tap, zeros around (a 1x1 conv is its
    centre tap alone), no bias."""
    k = conv.kernel_size
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[:, :, k[0] // 2, k[1] // 2] = weight
        conv.bias.zero_()
    return conv


def _dct_width(ch: int, block: int, width: int, latent_dim: int) -> int:
    """The values per b x b block, which the dct transforms' width must equal (they start as an
    invertible square transform) and the latent cannot exceed."""
    n = ch * block * block
    if ch != 3 or width != n or latent_dim > n:
        raise ValueError(f"arch dct needs RGB, channels [{n}] and latent_dim <= {n} "
                         f"for stride {block}")
    return n


class EncoderDCT(nn.Module):
    """Image (B, 3, H, W) -> latent (B, D, H/b, W/b), started as an orthonormal block transform::

        x --unshuffle b--> 1x1 (= color_dct) --> blocks x ConvNeXt at 1/b (residual scale 0)
          --> 1x1 (= the first D coefficients, dealt to the groups: interleave)

    At step 0 it is the colour DCT, so the unquantized picture is exact (no ceiling but the
    quantizer's) and latent squared error is image squared error; the blocks then learn what a
    nonlinear transform buys over it. All compute is at 1/b of the resolution."""

    def __init__(self, in_ch: int, block: int, width: int, blocks: int, latent_dim: int,
                 groups: int = 1):
        super().__init__()
        n = _dct_width(in_ch, block, width, latent_dim)
        basis = color_dct(block)
        self.net = nn.Sequential(
            nn.PixelUnshuffle(block), _set_centre(nn.Conv2d(n, n, 1), basis),
            *_stage(n, blocks, 0.0),
            _set_centre(nn.Conv2d(n, latent_dim, 1), torch.eye(n)[interleave(latent_dim, groups)]),
        ).to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _run_lr(self.net, x - 0.5)


class PostFilter(nn.Module):
    """A residual refinement of a decoded picture at 1/4 of its resolution::

        y --unshuffle 4--> 1x1 (width) --> blocks x ConvNeXt at 1/4 --> 1x1 (zero) --shuffle 4--> + y

    DecoderDCT's last layer makes each b x b block a linear function of its own feature vector
    (a learned inverse DCT), so block edges are only as smooth as those features say; this
    stage sees across them (4 x 4 cells never straddle an 8 x 8 block, a 7x7 depthwise conv
    spans 28 px). Its last 1x1 starts at zero: a model grown with it decodes as before."""

    def __init__(self, ch: int, width: int, blocks: int):
        super().__init__()
        out = nn.Conv2d(width, ch * 16, 1)
        nn.init.zeros_(out.weight)
        nn.init.zeros_(out.bias)
        self.net = nn.Sequential(nn.PixelUnshuffle(4), nn.Conv2d(ch * 16, width, 1),
                                 *_stage(width, blocks), out, nn.PixelShuffle(4),
                                 ).to(memory_format=torch.channels_last)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        h, w = y.shape[-2:]
        pad = (0, -w % 4, 0, -h % 4)  # a picture whose sides are not multiples of 4 (stride < 4)
        yp = nn.functional.pad(y, pad, mode="replicate") if any(pad) else y
        return y + _run_lr(self.net, yp)[..., :h, :w]


class DecoderDCT(nn.Module):
    """The mirror of EncoderDCT: 1x1 (the coefficients back in place) -> ConvNeXt blocks
    (residual scale 0) -> synthesis conv (= color_dct transposed) -> pixel-shuffle b, then with
    post_blocks a PostFilter (post_width wide) at 1/4.

    synth_kernel 1 draws each b x b block from its own feature vector alone (a learned inverse
    DCT), so neighbouring blocks can disagree at their shared edge: blocking, which MS-SSIM sees
    far more than PSNR. synth_kernel 3 draws it from the 3 x 3 neighbourhood of vectors (lapped
    basis functions of 3b x 3b), started with the inverse DCT at the centre tap and zeros around,
    so it computes what the block synthesis did until training moves it (lap_synthesis)."""

    def __init__(self, out_ch: int, block: int, width: int, blocks: int, latent_dim: int,
                 groups: int = 1, post_blocks: int = 0, post_width: int = 64,
                 synth_kernel: int = 1):
        super().__init__()
        n = _dct_width(out_ch, block, width, latent_dim)
        k = synth_kernel
        synth = _set_centre(nn.Conv2d(n, n, k, padding=k // 2, padding_mode="replicate"),
                            color_dct(block).T)
        self.net = nn.Sequential(
            _set_centre(nn.Conv2d(latent_dim, n, 1), torch.eye(n)[:, interleave(latent_dim, groups)]),
            *_stage(n, blocks, 0.0), synth, nn.PixelShuffle(block),
        ).to(memory_format=torch.channels_last)
        self.post = PostFilter(out_ch, post_width, post_blocks) if post_blocks else None

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        y = _run_lr(self.net, z)
        return (y if self.post is None else self.post(y)) + 0.5


def lap_synthesis(state: dict, key: str, kernel: int) -> dict:
    """A parent's DecoderDCT weights for a wider synthesis kernel: its k x k weight `key` at the
    centre of a kernel x kernel one, zeros around, so the grown decoder decodes as it did."""
    w = state[key]
    if w.shape[-1] >= kernel:
        raise ValueError(f"cannot lap a {w.shape[-1]}x{w.shape[-1]} synthesis into {kernel}x{kernel}")
    out = w.new_zeros(*w.shape[:2], kernel, kernel)
    lo = (kernel - w.shape[-1]) // 2
    out[:, :, lo:lo + w.shape[-2], lo:lo + w.shape[-1]] = w
    return {**state, key: out}


def _decoder_slots(blocks: list[int]) -> list[tuple]:
    """What each index of DecoderLR.net holds: ("block", stage, k) or ("layer", stage, kind)."""
    slots: list[tuple] = [("layer", -1, "in")]
    nb = blocks[::-1]
    for j, n in enumerate(nb):
        slots += [("block", j, k) for k in range(n)]
        if j + 1 < len(nb):
            slots += [("layer", j, "conv"), ("layer", j, "shuffle")]
    return slots + [("layer", len(nb), "conv"), ("layer", len(nb), "shuffle")]


def grow_decoder(state: dict, old: list[int], new: list[int], fresh: dict) -> dict:
    """A parent's weights for a DecoderLR with more ConvNeXt blocks per stage (`new` >= `old`,
    encoder order): the parent's layers move to their new indices and each added block, put
    after the parent's in its stage, takes `fresh`'s weights with a zero residual scale, so the
    grown decoder computes exactly what the parent's did and training continues from there."""
    if len(old) != len(new) or any(n < o for o, n in zip(old, new, strict=True)):
        raise ValueError(f"cannot grow decoder blocks {old} into {new}")
    was, where = _decoder_slots(old), {slot: i for i, slot in enumerate(_decoder_slots(new))}
    out = {k: v for k, v in state.items() if not k.startswith("decoder.net.")}
    for k, v in state.items():
        if k.startswith("decoder.net."):
            i, rest = k[len("decoder.net."):].split(".", 1)
            out[f"decoder.net.{where[was[int(i)]]}.{rest}"] = v
    for k, v in fresh.items():
        if k.startswith("decoder.net.") and k not in out:
            out[k] = torch.zeros_like(v) if k.endswith(".gamma") else v
    return out
