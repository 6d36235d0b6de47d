"""Building blocks shared by the pg-GAN and StyleGAN2 architectures.

Plain torch functions, no custom CUDA kernels: each is written from the
papers' definitions (pixel norm, equalized learning rate, modulated convolution
with demodulation, upfirdn resampling) so they run on any device and dtype.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

SQRT2 = math.sqrt(2.0)


def pixel_norm(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Normalize each position's feature vector (dim 1) to unit mean square.

    The mean square is taken in float32: in float16 it overflows once
    activations pass ~256.
    """
    scale = torch.rsqrt(x.float().square().mean(dim=1, keepdim=True) + eps)
    return x * scale.to(x.dtype)


def equalized_scale(weight_shape: torch.Size | tuple[int, ...], gain: float = SQRT2) -> float:
    """He constant for equalized learning rate: gain / sqrt(fan_in).

    `weight_shape` is torch's (out, in, ...) layout; fan_in = in * kernel area.
    """
    fan_in = 1
    for size in tuple(weight_shape)[1:]:
        fan_in *= int(size)
    return gain / math.sqrt(fan_in)


def lrelu_gain(x: torch.Tensor, slope: float = 0.2, gain: float = SQRT2) -> torch.Tensor:
    """Leaky ReLU followed by a constant gain (StyleGAN2's 'lrelu' activation)."""
    return F.leaky_relu(x, slope) * gain


def binomial_filter(taps: tuple[int, ...] = (1, 3, 3, 1)) -> torch.Tensor:
    """Separable 2-D low-pass filter: outer(taps, taps), normalized to sum 1."""
    # numpy, not torch.outer: under a meta-device context torch.outer pulls in torch._dynamo
    # (seconds of import time at every start).
    row = np.asarray(taps, dtype=np.float64)
    kernel = np.outer(row, row)
    return torch.from_numpy((kernel / kernel.sum()).astype(np.float32))


def upfirdn2d(
    x: torch.Tensor,
    kernel: torch.Tensor,
    up: int = 1,
    down: int = 1,
    pad: tuple[int, int, int, int] = (0, 0, 0, 0),
    gain: float = 1.0,
) -> torch.Tensor:
    """Upsample by zero insertion, pad, convolve with a 2-D FIR filter, downsample.

    `pad` is (left, right, top, bottom); negative values crop. The filter is
    applied as a true convolution (flipped), scaled by `gain`.
    """
    n, c, h, w = x.shape
    if up > 1:
        x = x.reshape(n, c, h, 1, w, 1)
        x = F.pad(x, (0, up - 1, 0, 0, 0, up - 1))
        x = x.reshape(n, c, h * up, w * up)
    x = F.pad(x, pad)
    weight = (kernel * gain).flip((0, 1)).to(dtype=x.dtype, device=x.device)
    weight = weight[None, None].expand(c, 1, *kernel.shape)
    x = F.conv2d(x, weight, groups=c)
    if down > 1:
        x = x[:, :, ::down, ::down]
    return x


def upsample2d(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """2x upsampling with the 4-tap FIR filter (StyleGAN2's image skip path).

    Equal to upfirdn2d(x, kernel, up=2, pad=(2, 1, 2, 1), gain=4), computed as a
    stride-2 transposed depthwise convolution so no inserted zeros are multiplied.
    """
    c = x.shape[1]
    weight = (kernel * 4.0).to(dtype=x.dtype, device=x.device)
    weight = weight[None, None].expand(c, 1, *kernel.shape)
    return F.conv_transpose2d(x, weight, stride=2, padding=1, groups=c)


def modulated_conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    styles: torch.Tensor,
    demodulate: bool = True,
    up: bool = False,
    kernel: torch.Tensor | None = None,
) -> torch.Tensor:
    """StyleGAN2's modulated convolution (Karras et al. 2020, eq. 1-3).

    Per sample n: w'[o, i] = w[o, i] * s[n, i]; with demodulation each output
    channel's weights are rescaled to unit L2 norm (eps 1e-8). Implemented as
    scale-input / shared-weight conv / scale-output, which equals the grouped
    per-sample convolution and keeps cuDNN's fast path for big batches.

    x (N, in, H, W); weight (out, in, k, k); styles (N, in). With `up`, the
    transposed conv (stride 2) is followed by the FIR filter `kernel`.
    """
    kh = weight.shape[2]
    weight = weight.to(x.dtype)
    styles = styles.to(x.dtype)
    if x.dtype == torch.float16 and demodulate:
        # Constant factors cancel under demodulation; keep fp16 in range.
        weight = weight / weight.abs().amax(dim=(1, 2, 3), keepdim=True)
        styles = styles / styles.abs().amax(dim=1, keepdim=True)
    x = x * styles[:, :, None, None]
    if up:
        x = F.conv_transpose2d(x, weight.transpose(0, 1), stride=2)
        assert kernel is not None, "upsampling needs the FIR kernel"
        x = upfirdn2d(x, kernel, pad=(1, 1, 1, 1), gain=4.0)
    else:
        x = F.conv2d(x, weight, padding=kh // 2)
    if demodulate:
        # sum_{i,k} (w[o,i,k] s[n,i])^2 = (s^2) @ (sum_k w^2)^T
        wsq = weight.float().square().sum(dim=(2, 3))  # (out, in)
        dcoefs = torch.rsqrt(styles.float().square() @ wsq.T + 1e-8)  # (N, out)
        x = x * dcoefs.to(x.dtype)[:, :, None, None]
    return x
