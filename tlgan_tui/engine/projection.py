"""Photo -> latent: read, find the face, align it as the generator's data, invert.

`project_photo` is the whole pipeline behind `tlgan project` and the
editor's `o` key. It never imports Textual; progress and cancelling go
through a callback and a threading.Event.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from tlgan_tui.engine.alignment import (
    align_ffhq,
    align_to_template,
    apply_matrix,
    ffhq_matrix,
    measure_template,
    template_matrix,
)
from tlgan_tui.engine.face_finding import Box, FaceFinder
from tlgan_tui.engine.generators.base import Generator
from tlgan_tui.engine.inversion import (
    InversionResult,
    InversionSettings,
    Progress,
    invert,
    working_sizes,
)
from tlgan_tui.engine.photo import read_photo

TEMPLATE_FACES = 24
FFHQ_ARCHITECTURES = ("mobilestylegan", "stylegan2")
COMPARE_GAP = 4

_TEMPLATES: dict[str, np.ndarray] = {}
_FINDERS: dict[str, FaceFinder] = {}


@dataclass
class ProjectionResult:
    latent: np.ndarray  # float32 edit-space latent
    aligned: np.ndarray  # uint8 RGB aligned photo at the working size
    reconstruction: np.ndarray  # uint8 RGB rendering of `latent` at the working size
    face_note: str  # "found 2 faces; using the largest (212 px)"
    alignment: str  # "ffhq" | "template"
    psnr: float  # dB, reconstruction vs aligned photo at the working size
    descriptor_distance: float  # face-api distance on the face box (< 0.6: same person)
    inversion: InversionResult
    seconds: float

    def compare_image(self) -> Image.Image:
        """Aligned photo | reconstruction, side by side."""
        return side_by_side(self.aligned, self.reconstruction)


def face_finder(device: torch.device | str = "cpu") -> FaceFinder:
    key = str(device)
    if key not in _FINDERS:
        _FINDERS[key] = FaceFinder(device)
    return _FINDERS[key]


def alignment_method(generator: Generator) -> str:
    """"ffhq" for StyleGAN-family generators (trained on FFHQ-aligned faces), else "template"."""
    arch = generator.info.ident.split(":")[0].split("-")[0]
    return "ffhq" if arch in FFHQ_ARCHITECTURES else "template"


def generator_template(generator: Generator) -> np.ndarray:
    """Median eye and mouth positions (3 x 2, pixels at the generator's resolution)."""
    key = generator.info.ident
    if key not in _TEMPLATES:
        from tlgan_tui.engine.extractors.face_features import FaceFeatures

        frames = generator.synthesize(generator.sample(TEMPLATE_FACES, 2024), batch_size=16)
        analysis = FaceFeatures("frame").analyse(frames)
        _TEMPLATES[key] = measure_template(frames, analysis.landmarks)
    return _TEMPLATES[key]


def align_for(generator: Generator, photo: np.ndarray, landmarks: np.ndarray,
              size: int) -> tuple[np.ndarray, str, np.ndarray]:
    """(aligned face, method, the landmarks carried into the aligned face's pixels)."""
    method = alignment_method(generator)
    if method == "ffhq":
        matrix = ffhq_matrix(landmarks, size)
        return align_ffhq(photo, landmarks, size), method, apply_matrix(matrix, landmarks)
    template = generator_template(generator)
    matrix = template_matrix(landmarks, template, generator.resolution, size)
    aligned = align_to_template(photo, landmarks, template, generator.resolution, size)
    return aligned, method, apply_matrix(matrix, landmarks)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


def side_by_side(left: np.ndarray, right: np.ndarray) -> Image.Image:
    height = max(left.shape[0], right.shape[0])
    canvas = Image.new("RGB", (left.shape[1] + COMPARE_GAP + right.shape[1], height),
                       (255, 255, 255))
    canvas.paste(Image.fromarray(left), (0, 0))
    canvas.paste(Image.fromarray(right), (left.shape[1] + COMPARE_GAP, 0))
    return canvas


def render_at(generator: Generator, latent: np.ndarray, size: int) -> np.ndarray:
    """uint8 RGB at `size`: the preview path when the generator has it, else resized."""
    if size in generator.preview_sizes:
        return generator.synthesize(latent[None], size=size)[0]
    image = Image.fromarray(generator.synthesize(latent[None])[0])
    return np.asarray(image.resize((size, size), Image.Resampling.LANCZOS))


def face_box(finder: FaceFinder, side: int, landmarks: np.ndarray | None = None) -> Box:
    """Where the descriptor looks in an aligned face: the box of its landmarks (carried
    from the photo through the alignment; re-detecting a face that fills the frame is
    unreliable), else the central 60%."""
    if landmarks is not None and np.isfinite(landmarks).all():
        x, y, w, h = finder.descriptor_box(landmarks)
        left, top = max(0.0, x), max(0.0, y)
        right, bottom = min(float(side), x + w), min(float(side), y + h)
        if right - left >= 0.2 * side and bottom - top >= 0.2 * side:
            return (left, top, right - left, bottom - top)
    return (0.2 * side, 0.2 * side, 0.6 * side, 0.6 * side)


def project_aligned(generator: Generator, aligned: np.ndarray, settings: InversionSettings,
                    finder: FaceFinder | None = None,
                    progress: Callable[[Progress], None] | None = None,
                    cancel: threading.Event | None = None,
                    face_note: str = "", alignment: str = "",
                    landmarks: np.ndarray | None = None) -> ProjectionResult:
    """Invert an already aligned face (uint8 RGB at the working size); `landmarks`: its
    68 landmarks in the aligned pixels, when known."""
    started = time.perf_counter()
    finder = finder or face_finder()
    box = face_box(finder, aligned.shape[0], landmarks)
    identity = None
    if settings.identity_weight > 0:
        goal = torch.from_numpy(np.array(aligned, dtype=np.uint8)).permute(2, 0, 1)[None].float()
        with torch.no_grad():
            goal_descriptor = finder.describe(goal.to(finder.device), box)

        def identity(images: torch.Tensor) -> torch.Tensor:
            pixels = (images.clamp(-1.0, 1.0) + 1.0) * 127.5
            return (finder.describe(pixels.to(finder.device), box) - goal_descriptor).norm(dim=1)

    result = invert(generator, aligned, settings, identity, progress, cancel)
    reconstruction = render_at(generator, result.latent, aligned.shape[0])
    return ProjectionResult(
        latent=result.latent, aligned=aligned, reconstruction=reconstruction,
        face_note=face_note, alignment=alignment, psnr=psnr(aligned, reconstruction),
        descriptor_distance=finder.descriptor_distance(aligned, reconstruction, box),
        inversion=result, seconds=time.perf_counter() - started)


def project_photo(path: Path | str, generator: Generator, settings: InversionSettings,
                  progress: Callable[[Progress], None] | None = None,
                  cancel: threading.Event | None = None,
                  notes: Callable[[str], None] | None = None) -> ProjectionResult:
    """The whole pipeline for a photo file; TlganError for every bad input."""
    started = time.perf_counter()
    photo = read_photo(path)
    finder = face_finder()
    face, note = finder.largest_face(photo, str(path))
    if notes is not None:
        notes(note)
    fine, _ = working_sizes(generator, settings.size)
    aligned, method, landmarks = align_for(generator, photo, face.landmarks, fine)
    result = project_aligned(generator, aligned, settings, finder, progress, cancel, note,
                             method, landmarks)
    result.seconds = time.perf_counter() - started
    return result
