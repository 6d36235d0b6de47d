"""MobileStyleGAN (Belousov 2021, arXiv 2104.04767), the FFHQ-1024 face model.

A StyleGAN2-style mapping network (z -> w) drives a synthesis network of
modulated depthwise-separable convolutions whose blocks grow the image with
the inverse Haar wavelet transform instead of FIR upsampling. The last block
emits 12 "frequency" channels (Haar low band RGB + 3 high bands x RGB); their
inverse transform is the 1024-px image.

The weights file keeps the source's layout with every constant folded in:
style affines carry the modulation scale, pointwise weights carry the
(style-independent) demodulation, and noise buffers carry their strength, so
"seed N" is the same face everywhere. At load the channels feeding each
inverse transform are reordered band-interleaved (ll, lh, hl, hh per channel)
so the transform is one grouped transposed convolution.

Previews: skipping the wavelet upsampling of the last k blocks (keeping each
channel's low band, which is what the inverse transform averages to) runs them
at 1/2^k of their size and yields the same face at resolution / 2^k.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from tlgan_tui.engine.errors import TlganError
from tlgan_tui.engine.generators.base import (
    CancelCheck,
    Generator,
    GeneratorInfo,
    JsonConfig,
    check_cancel,
)
from tlgan_tui.engine.generators.wspace import DEFAULT_PSI, MappingNetwork, WSpace

ARCHITECTURE = "mobilestylegan"
LRELU_SLOPE = 0.2
SMALLEST_PREVIEW = 128


@dataclass(frozen=True)
class MobileStyleGANConfig(JsonConfig):
    resolution: int
    z_dim: int
    w_dim: int
    mapping_layers: int
    channels: tuple[int, ...]  # hidden channels at 4, 8, ..., resolution / 2
    freq_channels: int = 12


def haar_synthesis_kernels(dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(4, 1, 2, 2) kernels of the inverse Haar transform for bands ll, lh, hl, hh.

    Output pixel (2i + a, 2j + b) = 0.5 * (ll + sa*lh + sb*hl + sa*sb*hh) with
    sa = +1 for row a = 0, -1 for a = 1 (likewise sb for columns): db1 with
    zero padding, as in pytorch_wavelets' DWTInverse.
    """
    signs = torch.tensor([1.0, -1.0])
    ones = torch.ones(2)
    rows = [ones, signs, ones, signs]
    cols = [ones, ones, signs, signs]
    kernels = torch.stack([0.5 * torch.outer(r, c) for r, c in zip(rows, cols, strict=True)])
    return kernels[:, None].to(dtype)


def band_interleave_order(channels: int) -> torch.Tensor:
    """Index that turns [low (C), high (C, 3)] channel layout into (C, 4) band-interleaved."""
    quarter = channels // 4
    order = []
    for c in range(quarter):
        order.append(c)
        order.extend(quarter + 3 * c + k for k in range(3))
    return torch.tensor(order)


def inverse_haar(x: torch.Tensor, band_scales: torch.Tensor | None = None) -> torch.Tensor:
    """Band-interleaved (N, 4C, H, W) -> (N, C, 2H, 2W); optional per-sample band scales (N, 4C).

    For one sample the scales go into the transposed-convolution weights, so the
    modulation costs no pass over the activations.
    """
    c4 = x.shape[1]
    kernels = haar_synthesis_kernels(x.dtype).to(x.device).repeat(c4 // 4, 1, 1, 1)
    if band_scales is not None:
        scales = band_scales.to(x.dtype)
        if len(x) == 1:
            kernels = kernels * scales[0, :, None, None, None]
        else:
            x = x * scales[:, :, None, None]
    return F.conv_transpose2d(x, kernels, stride=2, groups=c4 // 4)


def low_band(x: torch.Tensor, band_scales: torch.Tensor) -> torch.Tensor:
    """The 2x2 average of what `inverse_haar` would produce: half the scaled ll band."""
    return x[:, 0::4] * (0.5 * band_scales[:, 0::4].to(x.dtype))[:, :, None, None]


def depthwise_modulated(x: torch.Tensor, kernels: torch.Tensor, styles: torch.Tensor
                        ) -> torch.Tensor:
    """Depthwise 3x3 conv of x modulated per sample and channel by `styles` (N, C).

    For one sample the styles scale the kernels (no pass over x); batches scale x,
    which keeps one shared-weight conv and the activations' memory format.
    """
    if len(x) == 1:
        return F.conv2d(x, kernels * styles[0, :, None, None, None], padding=1,
                        groups=x.shape[1])
    return F.conv2d(x * styles[:, :, None, None], kernels, padding=1, groups=x.shape[1])


class StyledSeparableConv(nn.Module):
    """Modulated depthwise 3x3 + pointwise 1x1 conv, const noise, bias, leaky ReLU."""

    def __init__(self, in_ch: int, out_ch: int, w_dim: int, resolution: int) -> None:
        super().__init__()
        self.affine = nn.Linear(w_dim, in_ch)
        self.depthwise = nn.Parameter(torch.zeros(in_ch, 1, 3, 3))
        self.pointwise = nn.Parameter(torch.zeros(out_ch, in_ch, 1, 1))
        self.bias = nn.Parameter(torch.zeros(out_ch))
        self.register_buffer("noise", torch.zeros(resolution, resolution))

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w).to(x.dtype)
        x = depthwise_modulated(x, self.depthwise, styles)
        x = F.conv2d(x, self.pointwise, self.bias)
        x.add_(noise)
        return F.leaky_relu_(x, LRELU_SLOPE)


class InputConv(nn.Module):
    """The 4x4 stage: a full modulated 3x3 conv on the learned constant."""

    def __init__(self, channels: int, w_dim: int) -> None:
        super().__init__()
        self.affine = nn.Linear(w_dim, channels)
        self.weight = nn.Parameter(torch.zeros(channels, channels, 3, 3))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.register_buffer("noise", torch.zeros(4, 4))

    def forward(self, const: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        x = const[None] * self.affine(w).to(const.dtype)[:, :, None, None]
        x = F.conv2d(x, self.weight, self.bias, padding=1)
        return F.leaky_relu_(x.add_(self.noise), LRELU_SLOPE)


class SynthesisBlock(nn.Module):
    """Modulated inverse-Haar 2x upsampling, then two styled separable convs."""

    def __init__(self, in_ch: int, out_ch: int, w_dim: int, resolution: int) -> None:
        super().__init__()
        self.up_affine = nn.Linear(w_dim, in_ch)
        self.conv1 = StyledSeparableConv(in_ch // 4, out_ch, w_dim, resolution)
        self.conv2 = StyledSeparableConv(out_ch, out_ch, w_dim, resolution)

    def forward(self, x: torch.Tensor, w: torch.Tensor, upsample: bool,
                noises: tuple[torch.Tensor, torch.Tensor],
                cancel: CancelCheck | None = None) -> torch.Tensor:
        band_scales = self.up_affine(w)
        x = inverse_haar(x, band_scales) if upsample else low_band(x, band_scales)
        x = self.conv1(x, w, noises[0])
        # The last blocks take ~100 ms each on a CPU core: a stale render stops
        # halfway through one rather than at its end.
        check_cancel(cancel)
        return self.conv2(x, w, noises[1])


class ToFrequencies(nn.Module):
    """Modulated 1x1 conv (no demodulation) to the 12 Haar bands of the image."""

    def __init__(self, in_ch: int, out_ch: int, w_dim: int) -> None:
        super().__init__()
        self.affine = nn.Linear(w_dim, in_ch)
        self.weight = nn.Parameter(torch.zeros(out_ch, in_ch, 1, 1))
        self.bias = nn.Parameter(torch.zeros(out_ch))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w).to(x.dtype)
        if len(x) == 1:
            return F.conv2d(x, self.weight * styles[0, None, :, None, None], self.bias)
        return F.conv2d(x * styles[:, :, None, None], self.weight, self.bias)


class SynthesisNetwork(nn.Module):
    """w (N, w_dim) -> image (N, 3, R, R) in about [-1, 1], R = resolution / 2^skip."""

    def __init__(self, config: MobileStyleGANConfig) -> None:
        super().__init__()
        ch = config.channels
        self.const = nn.Parameter(torch.zeros(ch[0], 4, 4))
        self.input_conv = InputConv(ch[0], config.w_dim)
        self.blocks = nn.ModuleList(
            SynthesisBlock(c_in, c_out, config.w_dim, 8 * 2**i)
            for i, (c_in, c_out) in enumerate(itertools.pairwise(ch))
        )
        self.to_freq = ToFrequencies(ch[-1], config.freq_channels, config.w_dim)
        self._pooled_noise: dict[tuple[int, int, int], torch.Tensor] = {}
        self.memory_format = torch.contiguous_format

    def interleave_bands(self) -> None:
        """Reorder every inverse-Haar input to band-interleaved channels (once, after loading)."""
        producers: list[tuple[nn.Module, str]] = [(self.input_conv, "weight")]
        producers += [(block.conv2, "pointwise") for block in self.blocks]
        consumers: list[nn.Linear | None] = [block.up_affine for block in self.blocks] + [None]
        for (module, name), up_affine in zip(producers, consumers, strict=True):
            weight = getattr(module, name)
            order = band_interleave_order(weight.shape[0])
            if up_affine is None:  # the last block's output feeds to_freq, not a transform
                continue
            setattr(module, name, nn.Parameter(weight[order], requires_grad=False))
            module.bias = nn.Parameter(module.bias[order], requires_grad=False)
            up_affine.weight = nn.Parameter(up_affine.weight[order], requires_grad=False)
            up_affine.bias = nn.Parameter(up_affine.bias[order], requires_grad=False)
        order = band_interleave_order(self.to_freq.weight.shape[0])
        self.to_freq.weight = nn.Parameter(self.to_freq.weight[order], requires_grad=False)
        self.to_freq.bias = nn.Parameter(self.to_freq.bias[order], requires_grad=False)

    def _noise(self, block: int, conv: int, factor: int, dtype: torch.dtype) -> torch.Tensor:
        module = self.blocks[block].conv1 if conv == 0 else self.blocks[block].conv2
        noise: torch.Tensor = module.noise
        if factor > 1:
            key = (block, conv, factor)
            if key not in self._pooled_noise:
                self._pooled_noise[key] = F.avg_pool2d(noise[None, None], factor)[0, 0]
            noise = self._pooled_noise[key]
        return noise.to(dtype)

    @property
    def num_ws(self) -> int:
        """Per-layer latents (W+): one for the input conv, one per block, one for to_freq."""
        return len(self.blocks) + 2

    def forward(self, w: torch.Tensor, skip: int = 0,
                cancel: CancelCheck | None = None) -> torch.Tensor:
        """`skip` = how many of the last blocks run without upsampling (previews);
        `cancel` is asked between blocks (RenderCancelled when it says stop).

        w is (N, w_dim), or (N, num_ws, w_dim) for a per-layer (W+) latent.
        """
        w = w.float()
        ws = w.unbind(1) if w.ndim == 3 else (w,) * self.num_ws
        if len(ws) != self.num_ws:
            raise ValueError(f"a per-layer latent needs {self.num_ws} layers, not {len(ws)}")
        dtype = self.const.dtype
        x = self.input_conv(self.const, ws[0]).contiguous(memory_format=self.memory_format)
        first_skipped = len(self.blocks) - skip
        for index, block in enumerate(self.blocks):
            factor = 2 ** max(0, index - first_skipped + 1)
            noises = (self._noise(index, 0, factor, dtype), self._noise(index, 1, factor, dtype))
            check_cancel(cancel)
            x = block(x, ws[index + 1], index < first_skipped, noises, cancel)
        check_cancel(cancel)
        return inverse_haar(self.to_freq(x, ws[-1])).float()


class MobileStyleGANGenerator(WSpace, Generator):
    """MobileStyleGAN in inference mode; the edit space is W (mapping output, truncated).

    The mapping runs on the CPU in float32 so that "seed N" is the same w on
    every machine; synthesis runs on `device` in `dtype` (fp16 on CUDA only).
    """

    def __init__(
        self,
        config: MobileStyleGANConfig,
        state: Mapping[str, torch.Tensor],
        sha256: str,
        device: torch.device,
        dtype: torch.dtype = torch.float32,
        name: str | None = None,
        psi: float = DEFAULT_PSI,
    ) -> None:
        self.config = config
        with torch.device("meta"):
            self.mapping = MappingNetwork(config)
            self.synthesis = SynthesisNetwork(config)
        self.assign_weights(state, device, "MobileStyleGAN")
        self.mapping.eval().requires_grad_(False)
        self.synthesis.eval().requires_grad_(False)
        self.synthesis.interleave_bands()
        # oneDNN runs depthwise and 1x1 convs on NHWC without reordering at every
        # call: ~2.5x faster on the CPU than NCHW here.
        self.synthesis.to(memory_format=torch.channels_last)
        self.synthesis.memory_format = torch.channels_last
        self.device = device
        self.dtype = dtype
        if dtype == torch.float16:
            # Style affines stay float32 (they see raw w); the conv path runs in half.
            for module in self.synthesis.modules():
                if isinstance(module, nn.Linear):
                    continue
                for pname, param in list(module.named_parameters(recurse=False)):
                    setattr(module, pname, nn.Parameter(param.half(), requires_grad=False))
                if hasattr(module, "noise") and isinstance(module.noise, torch.Tensor):
                    module.noise = module.noise.half()
        self.psi = DEFAULT_PSI
        self.set_psi(psi)
        self.info = GeneratorInfo(
            name=name or f"MobileStyleGAN-{config.resolution}",
            ident=f"{ARCHITECTURE}-{config.resolution}:{sha256[:16]}",
            sha256=sha256,
            latent_dim=config.w_dim,
            latent_space="w",
            resolution=config.resolution,
        )

    @property
    def preview_sizes(self) -> tuple[int, ...]:
        sizes = []
        size = self.config.resolution
        skip = 0
        while size >= SMALLEST_PREVIEW and skip <= len(self.config.channels) - 1:
            sizes.append(size)
            size //= 2
            skip += 1
        return tuple(sorted(sizes))


    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        return self.forward_at(latents, None)

    def forward_at(self, latents: torch.Tensor, size: int | None,
                   cancel: CancelCheck | None = None) -> torch.Tensor:
        skip = self.skip_for(size)
        images = self.synthesis(latents.to(self.device), skip=skip, cancel=cancel)
        return images.clamp(-1.0, 1.0)

    def skip_for(self, size: int | None) -> int:
        """How many final blocks run without upsampling to produce `size` px."""
        if size is None or size == self.resolution:
            return 0
        if size not in self.preview_sizes:
            sizes = ", ".join(str(s) for s in self.preview_sizes)
            raise TlganError(f"{self.info.name} renders at {sizes} px, not {size}")
        return (self.resolution // size).bit_length() - 1

    def sefa_weight(self) -> torch.Tensor:
        """Every style affine of the synthesis network, stacked: (sum of widths, w_dim)."""
        weights = [module.weight.detach().float().cpu() for module in self.synthesis.modules()
                   if isinstance(module, nn.Linear)]
        return torch.cat(weights, dim=0)

    def activation_bytes_per_sample(self, size: int | None = None) -> int:
        side = size or self.resolution
        element = 2 if self.dtype == torch.float16 else 4
        return int((side // 2) ** 2 * self.config.channels[-1] * element * 6)
