"""Finding the face in a photo and describing it, with face-api's nets.

The tiny face detector finds every face (face-api's 416 px input, score 0.5;
a picture where nothing is found is tried again at 608 px), the largest one is
used, and the 68-landmark net runs on its box. The 128-d descriptor net
(dlib's ResNet, distance < 0.6 = same person) runs on the box around the
landmarks; `describe` is differentiable, so inversion can use it as a loss.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from tlgan_tui.engine.errors import TlganError
from tlgan_tui.engine.extractors.face_features import Box, _plausible, crop_to_box
from tlgan_tui.engine.extractors.faceapi import dense, recognition
from tlgan_tui.engine.extractors.faceapi.detector import TinyFaceDetector
from tlgan_tui.engine.extractors.faceapi.layers import pad_to_square, resize_bilinear

MIN_FACE_PX = 40
DETECTOR_SIZES = (416, 608)
DETECTOR_SCORE = 0.5
DESCRIPTOR_PADDING = 0.1  # around the landmarks' box, for the descriptor crop



@dataclass(frozen=True)
class Face:
    box: Box  # the detector's box
    score: float
    landmarks: np.ndarray  # (68, 2) pixel x, y, iBUG-68 order

    @property
    def size(self) -> float:
        return min(self.box[2], self.box[3])


@dataclass(frozen=True)
class FoundFaces:
    faces: list[Face]  # largest first

    @property
    def largest(self) -> Face:
        return self.faces[0]

    def describe(self) -> str:
        face = self.largest
        if len(self.faces) == 1:
            return f"found 1 face ({face.size:.0f} px)"
        return f"found {len(self.faces)} faces; using the largest ({face.size:.0f} px)"


class FaceFinder:
    """face-api's detector, landmark and descriptor nets on one device (CPU by default)."""

    def __init__(self, device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        self.detector = TinyFaceDetector().eval().to(self.device)
        self.landmark_net = dense.LandmarkNet().eval().to(self.device)
        self.descriptor_net = recognition.RecognitionNet().eval().to(self.device)

    @torch.inference_mode()
    def find(self, image: np.ndarray) -> FoundFaces:
        """All plausible faces in a uint8 RGB photo, largest first (may be empty)."""
        x = torch.from_numpy(np.array(image, dtype=np.uint8)).to(self.device)
        x = x.permute(2, 0, 1).float()
        for size in DETECTOR_SIZES:
            detections = self.detector.detect(x, size, DETECTOR_SCORE)
            faces = []
            for det in detections:
                landmarks = self.landmarks(x, det.box)
                if landmarks is not None and _plausible(landmarks, np.array(det.box)):
                    faces.append(Face(det.box, det.score, landmarks))
            if faces:
                faces.sort(key=lambda f: f.box[2] * f.box[3], reverse=True)
                return FoundFaces(faces)
        return FoundFaces([])

    def largest_face(self, image: np.ndarray, what: str = "the photo") -> tuple[Face, str]:
        """The face to use and a sentence about it; TlganError for none or a tiny one."""
        found = self.find(image)
        if not found.faces:
            raise TlganError(f"no face found in {what}")
        face = found.largest
        if face.size < MIN_FACE_PX:
            raise TlganError(f"the face in {what} is too small ({face.size:.0f} px across; "
                             f"at least {MIN_FACE_PX} px needed)")
        return face, found.describe()

    def landmarks(self, x: torch.Tensor, box: Box) -> np.ndarray | None:
        """68 landmarks (pixels) of the face in `box` of a (3, H, W) 0..255 image."""
        crop = crop_to_box(x, box)
        if crop is None:
            return None
        patch, _ = crop
        side = max(patch.shape[1], patch.shape[2])
        batch = resize_bilinear(pad_to_square(patch[None], centre=True), dense.INPUT_SIZE,
                                dense.INPUT_SIZE)
        rel = self.landmark_net(batch)[0].double().cpu().numpy()
        pad = np.array([(side - patch.shape[2]) / 2, (side - patch.shape[1]) / 2])
        return rel * side - pad + np.array(box[:2])

    def describe(self, images: torch.Tensor, box: Box) -> torch.Tensor:
        """Descriptors (N, 128) of the faces at `box` of images (N, 3, H, W) in 0..255.

        Differentiable in `images` (no inference mode here).
        """
        height, width = images.shape[2], images.shape[3]
        left, top = max(0, math.floor(box[0])), max(0, math.floor(box[1]))
        right = min(width, math.ceil(box[0] + box[2]))
        bottom = min(height, math.ceil(box[1] + box[3]))
        if right - left < 8 or bottom - top < 8:
            raise TlganError("the face box is too small to describe")
        patch = pad_to_square(images[:, :, top:bottom, left:right], centre=True)
        size = recognition.INPUT_SIZE
        patch = F.interpolate(patch, size=(size, size), mode="bilinear", align_corners=False,
                              antialias=patch.shape[2] > size)
        return self.descriptor_net(patch)

    def descriptor_box(self, landmarks: np.ndarray) -> Box:
        """The landmarks' bounding box, padded by DESCRIPTOR_PADDING."""
        low, high = landmarks.min(axis=0), landmarks.max(axis=0)
        size = high - low
        low = low - size * DESCRIPTOR_PADDING / 2
        size = size * (1 + DESCRIPTOR_PADDING)
        return (float(low[0]), float(low[1]), float(size[0]), float(size[1]))

    @torch.inference_mode()
    def descriptor_distance(self, a: np.ndarray, b: np.ndarray, box: Box) -> float:
        """face-api's euclidean distance between the faces at `box` of two uint8 images."""
        pair = torch.from_numpy(np.stack([a, b]).astype(np.uint8)).to(self.device)
        images = pair.permute(0, 3, 1, 2).float()
        d = self.describe(images, box)
        return float((d[0] - d[1]).norm())


