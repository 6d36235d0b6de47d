"""face-api's face recognition net (dlib's ResNet): 150 px face -> 128-d descriptor."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from tlgan_tui.engine.extractors.faceapi.layers import Conv, normalize
from tlgan_tui.engine.extractors.faceapi.weights import NetWeights

INPUT_SIZE = 150
MEAN_RGB = (122.782, 117.001, 104.298)


class ScaledConv(nn.Module):
    """Convolution + bias, then a per-channel scale and shift (dlib's affine layer)."""

    def __init__(self, w: NetWeights, prefix: str, stride: int = 1, same: bool = True) -> None:
        super().__init__()
        self.conv = Conv(w, f"{prefix}/conv", stride=stride, same=same)
        self.scale = nn.Parameter(w[f"{prefix}/scale/weights"].view(1, -1, 1, 1),
                                  requires_grad=False)
        self.shift = nn.Parameter(w[f"{prefix}/scale/biases"].view(1, -1, 1, 1),
                                  requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x) * self.scale + self.shift


class Residual(nn.Module):
    def __init__(self, w: NetWeights, prefix: str, down: bool) -> None:
        super().__init__()
        self.conv1 = ScaledConv(w, f"{prefix}/conv1", stride=2 if down else 1, same=not down)
        self.conv2 = ScaledConv(w, f"{prefix}/conv2")
        self.down = down

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(F.relu(self.conv1(x)))
        if not self.down:
            return F.relu(out + x)
        shortcut = F.avg_pool2d(x, 2, 2)
        # A "valid" stride-2 conv can come out one pixel smaller than the pooled
        # shortcut; face-api pads it with zeros at the bottom and right.
        out = F.pad(out, (0, shortcut.shape[3] - out.shape[3], 0, shortcut.shape[2] - out.shape[2]))
        # More channels than the shortcut: face-api appends zero channels to it.
        shortcut = F.pad(shortcut, (0, 0, 0, 0, 0, out.shape[1] - shortcut.shape[1]))
        return F.relu(shortcut + out)


LAYERS = (
    ("conv32_1", False), ("conv32_2", False), ("conv32_3", False),
    ("conv64_down", True), ("conv64_1", False), ("conv64_2", False), ("conv64_3", False),
    ("conv128_down", True), ("conv128_1", False), ("conv128_2", False),
    ("conv256_down", True), ("conv256_1", False), ("conv256_2", False),
    ("conv256_down_out", True),
)


class RecognitionNet(nn.Module):
    """150 x 150 RGB (0..255) -> (N, 128) descriptors (distance < 0.6: same person)."""

    def __init__(self, path: Path | None = None) -> None:
        super().__init__()
        w = NetWeights("face_recognition_model", path)
        self.stem = ScaledConv(w, "conv32_down", stride=2, same=False)
        self.layers = nn.Sequential(*(Residual(w, name, down) for name, down in LAYERS))
        self.fc = nn.Parameter(w["fc"], requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.stem(normalize(x, MEAN_RGB)))
        out = F.max_pool2d(out, 3, 2)
        out = self.layers(out)
        return out.mean(dim=(2, 3)) @ self.fc
