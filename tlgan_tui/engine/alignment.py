"""Cropping a photo's face the way the generator's training faces were cropped.

- `align_ffhq`: the FFHQ recipe (Karras et al. 2019, NVIDIA's ffhq-dataset
  `recreate_aligned_images`): an oriented square from the eye-to-eye and
  eye-to-mouth vectors, shrunk first for big photos, cropped with a border,
  padded by reflection with the padding blurred and faded to the median
  colour, then warped to the output size.
- `align_to_template`: for other generators, a similarity transform (rotation,
  uniform scale, shift) that puts the eyes and mouth where the generator's own
  faces have them (`measure_template`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy.ndimage import gaussian_filter

from tlgan_tui.engine.errors import TlganError

Quad = np.ndarray  # (4, 2): top-left, bottom-left, bottom-right, top-right


@dataclass(frozen=True)
class KeyPoints:
    """Eye centres and mouth centre in pixels (the subject's right eye is image-left)."""

    eye_left: np.ndarray  # image-left eye (landmarks 36-41)
    eye_right: np.ndarray  # image-right eye (landmarks 42-47)
    mouth: np.ndarray  # mean of the mouth corners (48, 54)

    @classmethod
    def from_landmarks(cls, landmarks: np.ndarray) -> KeyPoints:
        lm = np.asarray(landmarks, dtype=np.float64)
        return cls(lm[36:42].mean(axis=0), lm[42:48].mean(axis=0), (lm[48] + lm[54]) / 2)

    def array(self) -> np.ndarray:
        return np.stack([self.eye_left, self.eye_right, self.mouth])


def ffhq_quad(points: KeyPoints) -> Quad:
    """FFHQ's oriented crop square for these eyes and mouth."""
    eye_avg = (points.eye_left + points.eye_right) * 0.5
    eye_to_eye = points.eye_right - points.eye_left
    eye_to_mouth = points.mouth - eye_avg
    x = eye_to_eye - np.flipud(eye_to_mouth) * [-1, 1]
    x /= np.hypot(*x)
    x *= max(np.hypot(*eye_to_eye) * 2.0, np.hypot(*eye_to_mouth) * 1.8)
    y = np.flipud(x) * [-1, 1]
    c = eye_avg + eye_to_mouth * 0.1
    return np.stack([c - x - y, c - x + y, c + x + y, c + x - y])


def ffhq_matrix(landmarks: np.ndarray, output_size: int) -> np.ndarray:
    """2 x 3 similarity taking photo pixels to the FFHQ-aligned image's pixels."""
    quad = ffhq_quad(KeyPoints.from_landmarks(landmarks))
    s = float(output_size)
    corners = np.array([[0.0, 0.0], [0.0, s], [s, s], [s, 0.0]])
    return similarity_transform(quad, corners)


def template_matrix(landmarks: np.ndarray, template: np.ndarray, template_size: int,
                    output_size: int) -> np.ndarray:
    """2 x 3 similarity taking photo pixels to the template-aligned image's pixels."""
    points = KeyPoints.from_landmarks(landmarks).array()
    return similarity_transform(points, np.asarray(template, float) * (output_size / template_size))


def apply_matrix(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    return np.asarray(points, float) @ matrix[:, :2].T + matrix[:, 2]


def align_ffhq(image: np.ndarray, landmarks: np.ndarray, output_size: int,
               enable_padding: bool = True) -> np.ndarray:
    """uint8 RGB photo + 68 landmarks -> the FFHQ-aligned face, (output_size,)*2 RGB."""
    quad = ffhq_quad(KeyPoints.from_landmarks(landmarks))
    qsize = float(np.hypot(*(quad[3] - quad[0])))  # the recipe's hypot(x) * 2
    img = Image.fromarray(image)
    transform_size = min(4 * output_size, 4096)
    # Shrink a photo much bigger than needed (the recipe's own anti-aliasing).
    shrink = math.floor(qsize / output_size * 0.5)
    if shrink > 1:
        size = (max(1, round(img.width / shrink)), max(1, round(img.height / shrink)))
        img = img.resize(size, Image.Resampling.LANCZOS)
        quad = quad / shrink
        qsize = qsize / shrink
    border = max(round(qsize * 0.1), 3)
    crop = (math.floor(quad[:, 0].min()), math.floor(quad[:, 1].min()),
            math.ceil(quad[:, 0].max()), math.ceil(quad[:, 1].max()))
    crop = (max(crop[0] - border, 0), max(crop[1] - border, 0),
            min(crop[2] + border, img.width), min(crop[3] + border, img.height))
    if crop[2] - crop[0] < img.width or crop[3] - crop[1] < img.height:
        img = img.crop(crop)
        quad = quad - crop[:2]
    pad = (math.floor(quad[:, 0].min()), math.floor(quad[:, 1].min()),
           math.ceil(quad[:, 0].max()), math.ceil(quad[:, 1].max()))
    pad = (max(-pad[0] + border, 0), max(-pad[1] + border, 0),
           max(pad[2] - img.width + border, 0), max(pad[3] - img.height + border, 0))
    if enable_padding and max(pad) > border - 4:
        pad = tuple(max(p, round(qsize * 0.3)) for p in pad)  # type: ignore[assignment]
        img = Image.fromarray(_reflect_pad_blend(np.asarray(img), pad, qsize))
        quad = quad + pad[:2]
    warped = img.transform((transform_size, transform_size), Image.Transform.QUAD,
                           tuple((quad + 0.5).flatten()), Image.Resampling.BILINEAR)
    if transform_size != output_size:
        warped = warped.resize((output_size, output_size), Image.Resampling.LANCZOS)
    return np.asarray(warped.convert("RGB"))


def _reflect_pad_blend(image: np.ndarray, pad: tuple[int, int, int, int],
                       qsize: float) -> np.ndarray:
    """Reflect-pad (left, top, right, bottom), blur the padding and fade it to the median."""
    left, top, right, bottom = pad
    # np.pad's reflect cannot pad more than the image's size minus one in one go.
    img = image.astype(np.float32)
    while (left, top, right, bottom) != (0, 0, 0, 0):
        step = [min(p, max(n - 1, 0)) for p, n in
                zip((left, top, right, bottom), (img.shape[1], img.shape[0]) * 2, strict=True)]
        if not any(step):
            img = np.pad(img, ((top, bottom), (left, right), (0, 0)), "edge")
            break
        img = np.pad(img, ((step[1], step[3]), (step[0], step[2]), (0, 0)), "reflect")
        left, top, right, bottom = (left - step[0], top - step[1], right - step[2],
                                    bottom - step[3])
    h, w, _ = img.shape
    y, x, _ = np.ogrid[:h, :w, :1]

    def ratio(dist: np.ndarray, p: int) -> np.ndarray:
        return dist / p if p > 0 else np.full_like(dist, np.inf, dtype=np.float32)

    mask = np.maximum(
        1.0 - np.minimum(ratio(np.float32(x), pad[0]), ratio(np.float32(w - 1 - x), pad[2])),
        1.0 - np.minimum(ratio(np.float32(y), pad[1]), ratio(np.float32(h - 1 - y), pad[3])))
    blur = qsize * 0.02
    img += (gaussian_filter(img, [blur, blur, 0]) - img) * np.clip(mask * 3.0 + 1.0, 0.0, 1.0)
    img += (np.median(img, axis=(0, 1)) - img) * np.clip(mask, 0.0, 1.0)
    return np.uint8(np.clip(np.rint(img), 0, 255))


def similarity_transform(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Least-squares (Umeyama) 2x3 matrix M with target ~ M @ [source, 1] (no reflection)."""
    src, dst = np.asarray(source, float), np.asarray(target, float)
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    s, d = src - mu_s, dst - mu_d
    cov = d.T @ s / len(src)
    u, sig, vt = np.linalg.svd(cov)
    flip = np.diag([1.0, np.sign(np.linalg.det(u @ vt)) or 1.0])
    rotation = u @ flip @ vt
    var = (s**2).sum() / len(src)
    if var <= 0:
        raise TlganError("the face's eyes and mouth coincide; cannot align it")
    scale = float(np.trace(np.diag(sig) @ flip) / var)
    shift = mu_d - scale * rotation @ mu_s
    return np.hstack([scale * rotation, shift[:, None]])


def align_to_template(image: np.ndarray, landmarks: np.ndarray, template: np.ndarray,
                      template_size: int, output_size: int) -> np.ndarray:
    """Warp so the eyes and mouth land on `template` (3 x 2, pixels of a template_size frame)."""
    forward = template_matrix(landmarks, template, template_size, output_size)
    # PIL wants the inverse map (output pixel -> photo pixel).
    a = np.vstack([forward, [0, 0, 1]])
    inverse = np.linalg.inv(a)
    # Reflect the photo into a margin so a face near the edge keeps a plausible frame.
    margin = int(min(image.shape[0], image.shape[1]) // 2)
    padded = _reflect_pad_blend(image, (margin,) * 4, float(max(image.shape[:2])) / 4)
    shift = np.array([[1, 0, margin], [0, 1, margin], [0, 0, 1]], dtype=float)
    inverse = shift @ inverse
    supersample = 4
    scale = np.diag([1 / supersample, 1 / supersample, 1.0])
    inverse = inverse @ scale
    big = output_size * supersample
    warped = Image.fromarray(padded).transform(
        (big, big), Image.Transform.AFFINE, tuple(inverse[:2].flatten()),
        Image.Resampling.BILINEAR)
    return np.asarray(warped.resize((output_size, output_size), Image.Resampling.LANCZOS))


def measure_template(frames: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """Median eye and mouth positions (3 x 2, pixels) over generated faces' landmarks.

    `landmarks` (N, 68, 2) with NaN rows for faces that were not found.
    """
    ok = np.isfinite(landmarks).all(axis=(1, 2))
    if ok.sum() < 4:
        raise TlganError("too few of the generator's own faces were found to measure "
                         "where its eyes and mouth sit")
    points = np.stack([KeyPoints.from_landmarks(lm).array() for lm in landmarks[ok]])
    return np.median(points, axis=0)
