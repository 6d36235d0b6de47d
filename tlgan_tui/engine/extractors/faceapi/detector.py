"""face-api's tiny face detector: a small YOLOv2 on separable convolutions, 5 anchors, 1 class."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tlgan_tui.engine.extractors.faceapi.layers import (
    Conv,
    max_pool_same,
    normalize,
    pad_to_square,
    resize_bilinear,
)
from tlgan_tui.engine.extractors.faceapi.weights import NetWeights

MEAN_RGB = (117.001, 114.697, 97.404)
ANCHORS = ((1.603231, 2.094468), (6.041143, 7.080126), (2.882459, 3.518061),
           (4.266906, 5.178857), (9.041765, 10.66308))
IOU_THRESHOLD = 0.4


def leaky(x: torch.Tensor) -> torch.Tensor:
    # face-api's formulation, kept for bit-level agreement: relu(x - 0.1x) + 0.1x.
    low = x * 0.1
    return F.relu(x - low) + low


class _Separable(nn.Module):
    """Pad 1, "valid" depthwise 3x3 + pointwise 1x1 + bias, leaky ReLU."""

    def __init__(self, w: NetWeights, prefix: str) -> None:
        super().__init__()
        self.depthwise = nn.Parameter(w.depthwise(f"{prefix}/depthwise_filter"),
                                      requires_grad=False)
        self.pointwise = nn.Parameter(w.conv(f"{prefix}/pointwise_filter"), requires_grad=False)
        self.bias = nn.Parameter(w[f"{prefix}/bias"], requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.conv2d(F.pad(x, (1, 1, 1, 1)), self.depthwise, groups=self.depthwise.shape[0])
        return leaky(F.conv2d(x, self.pointwise, self.bias))


@dataclass(frozen=True)
class Detection:
    score: float
    box: tuple[float, float, float, float]  # x, y, width, height in pixels of the image


class TinyFaceDetector(nn.Module):
    """Square RGB (0..255) batch at a multiple of 32 px -> (N, cells, cells, 5 anchors, 5) raw."""

    def __init__(self, path: Path | None = None) -> None:
        super().__init__()
        w = NetWeights("tiny_face_detector_model", path)
        self.conv0 = Conv(w, "conv0", same=False)
        self.convs = nn.ModuleList(_Separable(w, f"conv{i}") for i in range(1, 6))
        self.conv8 = Conv(w, "conv8", same=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = leaky(self.conv0(normalize(x, MEAN_RGB)))
        for i, conv in enumerate(self.convs):
            out = conv(max_pool_same(out, 2, 2))
            if i == len(self.convs) - 1:
                out = max_pool_same(out, 2, 1)
        out = self.conv8(out)
        n, _, cells, _ = out.shape
        return out.permute(0, 2, 3, 1).reshape(n, cells, cells, len(ANCHORS), 5)

    def detect(self, image: torch.Tensor, input_size: int = 416,
               score_threshold: float = 0.5) -> list[Detection]:
        """One (3, H, W) float image (0..255) -> its faces, best first, as face-api finds them."""
        height, width = image.shape[1], image.shape[2]
        x = resize_bilinear(pad_to_square(image[None], centre=False), input_size, input_size)
        raw = self(x)[0].double().cpu().numpy()
        scale = input_size / max(height, width)
        fx = input_size / round(width * scale)
        fy = input_size / round(height * scale)
        return decode(raw, fx, fy, width, height, score_threshold)


def _sigmoid(v: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-v))


def decode(raw: np.ndarray, fx: float, fy: float, width: int, height: int,
           score_threshold: float) -> list[Detection]:
    cells = raw.shape[0]
    scores = _sigmoid(raw[..., 4])
    rows, cols, anchors = np.nonzero(scores > score_threshold)
    found: list[tuple[float, np.ndarray]] = []
    for r, c, a in zip(rows, cols, anchors, strict=True):
        tx, ty, tw, th = raw[r, c, a, :4]
        cx = (c + _sigmoid(tx)) / cells * fx
        cy = (r + _sigmoid(ty)) / cells * fy
        bw = math.exp(tw) * ANCHORS[a][0] / cells * fx
        bh = math.exp(th) * ANCHORS[a][1] / cells * fy
        found.append((float(scores[r, c, a]), np.array([cx - bw / 2, cy - bh / 2, bw, bh])))
    keep = nms([box for _, box in found], [score for score, _ in found])
    return [Detection(found[i][0], (found[i][1][0] * width, found[i][1][1] * height,
                                    found[i][1][2] * width, found[i][1][3] * height))
            for i in keep]


def nms(boxes: list[np.ndarray], scores: list[float]) -> list[int]:
    """Greedy non-maximum suppression on (x, y, w, h) boxes, highest score first."""
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    picked: list[int] = []
    while order:
        best = order.pop()
        picked.append(best)
        order = [i for i in order if _iou(boxes[best], boxes[i]) <= IOU_THRESHOLD]
    return picked


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    w = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = w * h
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)
