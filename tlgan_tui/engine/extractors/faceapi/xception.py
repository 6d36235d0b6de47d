"""face-api's age and gender net: a tiny Xception (2 middle blocks), then two heads."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from tlgan_tui.engine.extractors.faceapi.layers import (
    Conv,
    Dense,
    SeparableConv,
    max_pool_same,
    normalize,
)
from tlgan_tui.engine.extractors.faceapi.weights import NetWeights

INPUT_SIZE = 112
MEAN_RGB = (122.782, 117.001, 104.298)
MIDDLE_BLOCKS = 2


class ReductionBlock(nn.Module):
    def __init__(self, w: NetWeights, prefix: str, activate_input: bool) -> None:
        super().__init__()
        self.sep0 = SeparableConv(w, f"{prefix}/separable_conv0")
        self.sep1 = SeparableConv(w, f"{prefix}/separable_conv1")
        self.expansion = Conv(w, f"{prefix}/expansion_conv", stride=2)
        self.activate_input = activate_input

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(x) if self.activate_input else x
        out = self.sep1(F.relu(self.sep0(out)))
        return max_pool_same(out, 3, 2) + self.expansion(x)


class MainBlock(nn.Module):
    def __init__(self, w: NetWeights, prefix: str) -> None:
        super().__init__()
        self.convs = nn.ModuleList(SeparableConv(w, f"{prefix}/separable_conv{i}")
                                   for i in range(3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        for conv in self.convs:
            out = conv(F.relu(out))
        return out + x


class AgeGenderNet(nn.Module):
    """112 x 112 RGB (0..255) -> (age in years (N,), P(male) (N,))."""

    def __init__(self, path: Path | None = None) -> None:
        super().__init__()
        w = NetWeights("age_gender_model", path)
        self.conv_in = Conv(w, "entry_flow/conv_in", stride=2)
        self.entry = nn.Sequential(
            ReductionBlock(w, "entry_flow/reduction_block_0", activate_input=False),
            ReductionBlock(w, "entry_flow/reduction_block_1", activate_input=True),
        )
        self.middle = nn.Sequential(*(MainBlock(w, f"middle_flow/main_block_{i}")
                                      for i in range(MIDDLE_BLOCKS)))
        self.exit_reduction = ReductionBlock(w, "exit_flow/reduction_block", activate_input=True)
        self.exit_conv = SeparableConv(w, "exit_flow/separable_conv")
        self.age = Dense(w, "fc/age")
        self.gender = Dense(w, "fc/gender")

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = F.relu(self.conv_in(normalize(x, MEAN_RGB)))
        out = self.middle(self.entry(out))
        out = F.relu(self.exit_conv(self.exit_reduction(out)))
        pooled = F.avg_pool2d(out, 7, 2).flatten(1)
        # face-api's gender softmax puts "male" first.
        return self.age(pooled)[:, 0], torch.softmax(self.gender(pooled), dim=1)[:, 0]
