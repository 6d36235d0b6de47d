"""The default extractor: face-api's nets plus geometry and colour measured from their landmarks.

One pass per batch, as face-api's own detect -> landmarks -> expressions/age/
gender pipeline does it (same crops, same resizing, so a photo gives face-api's
numbers):
1. find the face with the tiny face detector. Generated faces fill the frame
   (`mode="frame"`): the detector runs on the whole batch at 64 px, and a face
   whose best score is under FRAME_MIN_SCORE is not scored; flat colour and
   noise score under 0.03, 94.5% of the default generator's faces over 0.05.
   Photos (`mode="detect"`): face-api's defaults, 416 px and score 0.5; the
   best-scoring face is measured; a square picture with no face found that
   way is tried as a generated frame.
2. 68 landmarks on the detection box, rejected when they cannot be a face;
3. the box around the landmarks, padded by 20% ("aligned"), feeds the
   expression and age/gender nets;
4. `measures.measure_faces` turns image + landmarks into geometry and colour.
A face that fails any step is NaN in every column.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from tlgan_tui.engine.extractors.base import Extractor, Feature
from tlgan_tui.engine.extractors.faceapi import dense, xception
from tlgan_tui.engine.extractors.faceapi.detector import TinyFaceDetector, decode
from tlgan_tui.engine.extractors.faceapi.layers import pad_to_square, resize_bilinear
from tlgan_tui.engine.extractors.measures import MEASURE_FEATURES, measure_faces

Mode = Literal["frame", "detect"]

FRAME_INPUT_SIZE = 64
FRAME_MIN_SCORE = 0.05
PHOTO_INPUT_SIZE = 416
PHOTO_MIN_SCORE = 0.5
ALIGN_PADDING = 0.2

# Expression columns in the net's output order; "happy" is TL-GAN's Smiling.
EXPRESSION_NAMES = ("Neutral", "Smiling", "Sad", "Angry", "Fearful", "Disgusted", "Surprised")
NET_FEATURES: tuple[Feature, ...] = (
    Feature("Male", "probability"),
    Feature("Age", "continuous", "years"),
    *(Feature(name, "probability") for name in EXPRESSION_NAMES),
)
DESCRIPTIONS: dict[str, str] = {
    "Male": "face-api's probability that the face is male",
    "Age": "face-api's age estimate",
    **{name: f"face-api's probability of the expression {label!r}"
       for name, label in zip(EXPRESSION_NAMES, dense.EXPRESSIONS, strict=True)},
}

Box = tuple[float, float, float, float]  # x, y, width, height in pixels


@dataclass(frozen=True)
class FaceAnalysis:
    """Everything one pass found; rows of faces that failed are NaN."""

    found: np.ndarray  # (N,) bool: a face was found and its landmarks are plausible
    detection_score: np.ndarray  # (N,)
    landmarks: np.ndarray  # (N, 68, 2) pixel (x, y) in the given images, iBUG-68 order
    male: np.ndarray  # (N,) probability
    age: np.ndarray  # (N,) years
    expressions: np.ndarray  # (N, 7) probabilities, dense.EXPRESSIONS order


class FaceFeatures(Extractor):
    """Male, Age, the seven expressions, then `measures.MEASURE_FEATURES`."""

    ident = "faceapi-1.7.15+measures"
    features = NET_FEATURES + MEASURE_FEATURES

    def __init__(self, mode: Mode = "frame", device: torch.device | str | None = None,
                 weights: Path | None = None, detector_size: int | None = None,
                 min_score: float | None = None) -> None:
        """`detector_size` (a multiple of 32) and `min_score` override the mode's defaults."""
        self.mode = mode
        self.device = torch.device(device or "cpu")
        size, threshold = ((FRAME_INPUT_SIZE, FRAME_MIN_SCORE) if mode == "frame"
                           else (PHOTO_INPUT_SIZE, PHOTO_MIN_SCORE))
        self.detector_size = detector_size or size
        self.min_score = min_score if min_score is not None else threshold

        def prepare(net: torch.nn.Module) -> torch.nn.Module:
            # channels_last makes the depthwise convolutions ~1.5x faster on CPU.
            return net.eval().to(self.device, memory_format=torch.channels_last)

        self._detector = prepare(TinyFaceDetector(weights))
        self._landmarks = prepare(dense.LandmarkNet(weights))
        self._expressions = prepare(dense.ExpressionNet(weights))
        self._age_gender = prepare(xception.AgeGenderNet(weights))

    def score(self, images: np.ndarray) -> np.ndarray:
        scores = np.full((len(images), len(self.features)), np.nan)
        if len(images) == 0:
            return scores
        result = self.analyse(images)
        ok = result.found
        scores[:, 0] = result.male
        scores[:, 1] = result.age
        scores[:, 2:len(NET_FEATURES)] = result.expressions
        if ok.any():
            scores[ok, len(NET_FEATURES):] = measure_faces(images[ok], result.landmarks[ok])
        scores[~ok] = np.nan
        return scores

    @torch.inference_mode()
    def analyse(self, images: np.ndarray) -> FaceAnalysis:
        """uint8 RGB images (N, H, W, 3) -> the face in each, as face-api sees it."""
        n = len(images)
        x = torch.from_numpy(np.array(images, dtype=np.uint8)).to(self.device)
        x = x.permute(0, 3, 1, 2).float()
        boxes, det_scores = self._detect(x)
        landmarks = np.full((n, 68, 2), np.nan)
        has_box = [i for i in range(n) if boxes[i] is not None]
        if has_box:
            crops = [crop_to_box(x[i], boxes[i]) for i in has_box]  # type: ignore[arg-type]
            usable = [(i, c) for i, c in zip(has_box, crops, strict=True) if c is not None]
            if usable:
                batch = self._to_input([c[0] for _, c in usable], dense.INPUT_SIZE)
                rel = self._landmarks(batch).double().cpu().numpy()
                for k, (i, (crop, _)) in enumerate(usable):
                    side = max(crop.shape[1], crop.shape[2])
                    pad = np.array([(side - crop.shape[2]) / 2, (side - crop.shape[1]) / 2])
                    # face-api shifts by the unrounded detection box, not the cropped one.
                    landmarks[i] = rel[k] * side - pad + boxes[i][:2]  # type: ignore[index]
        found = np.array([_plausible(landmarks[i], boxes[i]) for i in range(n)], dtype=bool)
        male, age = np.full(n, np.nan), np.full(n, np.nan)
        expressions = np.full((n, 7), np.nan)
        aligned = {i: crop_to_box(x[i], _aligned_box(landmarks[i])) for i in np.flatnonzero(found)}
        found &= np.array([aligned.get(i) is not None for i in range(n)])
        rows = np.flatnonzero(found)
        if len(rows):
            batch = self._to_input([aligned[i][0] for i in rows], dense.INPUT_SIZE)  # type: ignore[index]
            expressions[rows] = self._expressions(batch).double().cpu().numpy()
            ages, males = self._age_gender(batch)
            age[rows], male[rows] = ages.double().cpu().numpy(), males.double().cpu().numpy()
        landmarks[~found] = np.nan
        return FaceAnalysis(found, det_scores, landmarks, male, age, expressions)

    def _detect(self, x: torch.Tensor) -> tuple[list[np.ndarray | None], np.ndarray]:
        boxes, det_scores = self._run_detector(x, self.detector_size, self.min_score)
        height, width = x.shape[2], x.shape[3]
        if self.mode == "detect" and abs(height - width) <= 0.02 * width:
            # A square picture the photo settings find nothing in may be a generated
            # face filling the frame (the old "fall back to the frame" rule).
            missed = [i for i, box in enumerate(boxes) if box is None]
            if missed:
                again, scores = self._run_detector(x[missed], FRAME_INPUT_SIZE, FRAME_MIN_SCORE)
                for k, i in enumerate(missed):
                    boxes[i], det_scores[i] = again[k], scores[k]
        return boxes, det_scores

    def _run_detector(self, x: torch.Tensor, size: int,
                      threshold: float) -> tuple[list[np.ndarray | None], np.ndarray]:
        n, _, height, width = x.shape
        boxes: list[np.ndarray | None] = [None] * n
        det_scores = np.zeros(n)
        scale = size / max(height, width)
        fx, fy = size / round(width * scale), size / round(height * scale)
        for start in range(0, n, 64):
            batch = resize_bilinear(pad_to_square(x[start:start + 64], centre=False), size, size)
            raw = self._detector(batch.contiguous(memory_format=torch.channels_last))
            raw = raw.double().cpu().numpy()
            for k in range(len(raw)):
                found = decode(raw[k], fx, fy, width, height, threshold)
                if found:
                    det_scores[start + k] = found[0].score
                    boxes[start + k] = np.array(found[0].box)
        return boxes, det_scores

    def _to_input(self, crops: list[torch.Tensor], size: int) -> torch.Tensor:
        batch = torch.cat([resize_bilinear(pad_to_square(c[None], centre=True), size, size)
                           for c in crops])
        return batch.contiguous(memory_format=torch.channels_last)


def crop_to_box(image: torch.Tensor,
                box: np.ndarray | Box | None) -> tuple[torch.Tensor, Box] | None:
    """face-api's clipAtImageBorders + floor + slice; None when nothing is left."""
    if box is None or not np.all(np.isfinite(box)):
        return None
    height, width = image.shape[1], image.shape[2]
    x, y, w, h = (float(v) for v in box)
    left, top = max(x, 0.0), max(y, 0.0)
    cw = min(x + w - left, width - left)
    ch = min(y + h - top, height - top)
    left_i, top_i, cw_i, ch_i = (math.floor(v) for v in (left, top, cw, ch))
    if cw_i <= 0 or ch_i <= 0:
        return None
    return image[:, top_i:top_i + ch_i, left_i:left_i + cw_i], (left_i, top_i, cw_i, ch_i)


def _aligned_box(landmarks: np.ndarray) -> np.ndarray:
    low, high = landmarks.min(axis=0), landmarks.max(axis=0)
    size = high - low
    return np.concatenate([low - size * ALIGN_PADDING / 2, size * (1 + ALIGN_PADDING)])


def _plausible(landmarks: np.ndarray, box: np.ndarray | None) -> bool:
    """Eyes apart by a sensible share of the box, nose and mouth below them in face terms."""
    if box is None or not np.isfinite(landmarks).all():
        return False
    right_eye, left_eye = landmarks[36:42].mean(axis=0), landmarks[42:48].mean(axis=0)
    across = left_eye - right_eye
    interocular = float(np.hypot(*across))
    if not 0.15 * box[2] <= interocular <= 0.9 * box[2]:
        return False
    down = np.array([-across[1], across[0]]) / interocular  # the face's own "down"
    eyes = (right_eye + left_eye) / 2
    nose = float((landmarks[30] - eyes) @ down)
    mouth = float((landmarks[48:68].mean(axis=0) - eyes) @ down)
    return 0 < nose < mouth
