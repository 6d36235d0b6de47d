"""TensorFlow-semantics building blocks shared by the face-api nets (NCHW tensors).

TensorFlow's "same" padding puts the odd pixel after, not before, so a stride-2
"same" convolution is not PyTorch's symmetric `padding=k//2`; these blocks pad
explicitly to get the same numbers as tfjs.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from tlgan_tui.engine.extractors.faceapi.weights import NetWeights


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def pad_same(x: torch.Tensor, kernel: int, stride: int, value: float = 0.0) -> torch.Tensor:
    top, bottom = same_padding(x.shape[2], kernel, stride)
    left, right = same_padding(x.shape[3], kernel, stride)
    if top == bottom == left == right == 0:
        return x
    return F.pad(x, (left, right, top, bottom), value=value)


def max_pool_same(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    return F.max_pool2d(pad_same(x, kernel, stride, -math.inf), kernel, stride)


class Conv(nn.Module):
    """tf.conv2d + bias, "same" or "valid" padding."""

    def __init__(self, w: NetWeights, prefix: str, stride: int = 1, same: bool = True,
                 filters: str = "filters") -> None:
        super().__init__()
        self.weight = nn.Parameter(w.conv(f"{prefix}/{filters}"), requires_grad=False)
        self.bias = nn.Parameter(w[f"{prefix}/bias"], requires_grad=False)
        self.stride = stride
        self.same = same

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.same:
            x = pad_same(x, self.weight.shape[-1], self.stride)
        return F.conv2d(x, self.weight, self.bias, self.stride)


class SeparableConv(nn.Module):
    """tf.separableConv2d ("same") + bias: depthwise 3x3, then pointwise 1x1."""

    def __init__(self, w: NetWeights, prefix: str, stride: int = 1) -> None:
        super().__init__()
        depthwise = w.depthwise(f"{prefix}/depthwise_filter")
        self.depthwise = nn.Parameter(depthwise, requires_grad=False)
        self.pointwise = nn.Parameter(w.conv(f"{prefix}/pointwise_filter"), requires_grad=False)
        self.bias = nn.Parameter(w[f"{prefix}/bias"], requires_grad=False)
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = pad_same(x, self.depthwise.shape[-1], self.stride)
        x = F.conv2d(x, self.depthwise, None, self.stride, groups=self.depthwise.shape[0])
        return F.conv2d(x, self.pointwise, self.bias)


class Dense(nn.Module):
    """tf.matMul(x, weights) + bias."""

    def __init__(self, w: NetWeights, prefix: str) -> None:
        super().__init__()
        self.weight = nn.Parameter(w[f"{prefix}/weights"].t().contiguous(), requires_grad=False)
        self.bias = nn.Parameter(w[f"{prefix}/bias"], requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, self.bias)


def normalize(x: torch.Tensor, mean_rgb: tuple[float, float, float]) -> torch.Tensor:
    """(x - mean) / 255 per channel, as face-api prepares every input."""
    mean = torch.tensor(mean_rgb, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / 255


def resize_bilinear(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """tf.image.resizeBilinear with alignCorners=false, halfPixelCenters=false.

    TensorFlow's legacy sampling (source = dest * in/out, no half-pixel shift)
    differs from every mode of F.interpolate, and face-api resizes this way.
    """
    in_h, in_w = x.shape[2], x.shape[3]
    if (in_h, in_w) == (height, width):
        return x
    x = _resize_axis(x, 3, in_w, width)  # columns first, as tfjs does
    return _resize_axis(x, 2, in_h, height)


def _resize_axis(x: torch.Tensor, axis: int, size_in: int, size_out: int) -> torch.Tensor:
    if size_in == size_out:
        return x
    source = torch.arange(size_out, dtype=torch.float64) * (size_in / size_out)
    low = source.floor().long().clamp(max=size_in - 1)
    high = (low + 1).clamp(max=size_in - 1)
    frac = (source - low).to(x.dtype).to(x.device)
    low, high = low.to(x.device), high.to(x.device)
    shape = [1, 1, 1, 1]
    shape[axis] = size_out
    frac = frac.view(shape)
    a = x.index_select(axis, low)
    b = x.index_select(axis, high)
    return a + (b - a) * frac


def pad_to_square(x: torch.Tensor, centre: bool) -> torch.Tensor:
    """face-api's padToSquare: zeros after (or, centred, split around) the short side."""
    height, width = x.shape[2], x.shape[3]
    if height == width:
        return x
    diff = abs(height - width)
    after = math.floor(diff * 0.5 + 0.5) if centre else diff  # JS Math.round
    before = diff - after
    if height > width:
        return F.pad(x, (before, after, 0, 0))
    return F.pad(x, (0, 0, before, after))
