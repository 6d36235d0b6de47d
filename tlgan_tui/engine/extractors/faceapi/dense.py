"""face-api's 68-point landmark net and expression net: four dense blocks + a linear layer."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from tlgan_tui.engine.extractors.faceapi.layers import Conv, Dense, SeparableConv, normalize
from tlgan_tui.engine.extractors.faceapi.weights import NetWeights

INPUT_SIZE = 112
MEAN_RGB = (122.782, 117.001, 104.298)
EXPRESSIONS = ("neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised")


class DenseBlock(nn.Module):
    """Four convolutions, each fed the sum of all earlier outputs (stride 2 first)."""

    def __init__(self, w: NetWeights, prefix: str, first: bool) -> None:
        super().__init__()
        self.conv0: nn.Module = (Conv(w, f"{prefix}/conv0", stride=2) if first
                                 else SeparableConv(w, f"{prefix}/conv0", stride=2))
        self.convs = nn.ModuleList(SeparableConv(w, f"{prefix}/conv{i}") for i in (1, 2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        total = F.relu(self.conv0(x))
        inp = total
        for conv in self.convs:
            total = total + conv(inp)
            inp = F.relu(total)
        return inp


class DenseNet(nn.Module):
    """112 x 112 RGB (0..255) -> the fully connected layer's raw outputs."""

    def __init__(self, w: NetWeights) -> None:
        super().__init__()
        self.blocks = nn.Sequential(*(DenseBlock(w, f"dense{i}", i == 0) for i in range(4)))
        self.fc = Dense(w, "fc")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.blocks(normalize(x, MEAN_RGB))
        out = F.avg_pool2d(out, 7, 2)
        # tfjs flattens NHWC; with a 1 x 1 map that is just the channels.
        return self.fc(out.flatten(1))


class LandmarkNet(DenseNet):
    """-> (N, 68, 2) landmarks as fractions of the 112 px input (x, y)."""

    def __init__(self, path: Path | None = None) -> None:
        super().__init__(NetWeights("face_landmark_68_model", path))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x).view(-1, 68, 2)


class ExpressionNet(DenseNet):
    """-> (N, 7) probabilities in EXPRESSIONS order."""

    def __init__(self, path: Path | None = None) -> None:
        super().__init__(NetWeights("face_expression_model", path))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(super().forward(x), dim=1)
