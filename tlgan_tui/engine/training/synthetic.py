"""A synthetic data set in CelebA's exact file layout, for tests and benchmarks.

Drawn cartoon faces whose *planted* attributes are visible in the picture (a
dark band across the forehead for Bangs, a bright face for Pale_Skin, dark
frames for Eyeglasses, yellow hair for Blond_Hair, a dark chin for a beard
(No_Beard = -1), a coloured hat for Wearing_Hat). Every other attribute is a coin
flip unrelated to the picture, so a correct extractor learns the planted ones
and stays at chance on the rest.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from tlgan_tui.engine.extractors.celeba import CELEBA_ATTRIBUTES
from tlgan_tui.engine.training.celeba_data import ATTR_FILE, IMAGE_DIR, PARTITION_FILE

PLANTED: tuple[str, ...] = (
    "Bangs", "Pale_Skin", "Eyeglasses", "Blond_Hair", "No_Beard", "Wearing_Hat",
)
CELEBA_ASPECT = 218 / 178  # height / width of an aligned CelebA image


def _ellipse(h: int, w: int, cy: float, cx: float, ry: float, rx: float) -> np.ndarray:
    y, x = np.ogrid[:h, :w]
    return ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 <= 1.0


def draw_face(attrs: dict[str, bool], width: int, rng: np.random.Generator) -> np.ndarray:
    """One synthetic portrait, uint8 (round(width * 218/178), width, 3)."""
    h, w = round(width * CELEBA_ASPECT), width
    s = w / 40.0  # drawing unit: the layout was designed on a 40 px wide image
    image = np.empty((h, w, 3), dtype=np.float32)
    image[:] = rng.uniform(60, 200, size=3)  # background
    cy = h / 2 + rng.uniform(-1, 1) * s
    cx = w / 2 + rng.uniform(-1, 1) * s
    hair_colour = (225, 195, 80) if attrs["Blond_Hair"] else (70, 45, 30)
    hair_colour = tuple(c + rng.uniform(-12, 12) for c in hair_colour)
    image[_ellipse(h, w, cy - 3 * s, cx, 15 * s, 14 * s)] = hair_colour
    skin = (240, 225, 215) if attrs["Pale_Skin"] else (175, 125, 95)
    skin = tuple(c + rng.uniform(-12, 12) for c in skin)
    face = _ellipse(h, w, cy + 1 * s, cx, 13 * s, 10.5 * s)
    image[face] = skin
    y, x = np.ogrid[:h, :w]
    if not attrs["No_Beard"]:  # a beard: dark lower face
        image[face & (y > cy + 5 * s)] = (55, 40, 30)
    if attrs["Bangs"]:  # a dark fringe across the forehead, down to the eyebrows
        image[face & (y <= cy - 5.5 * s)] = (35, 25, 20)
    eye_y = cy - 3 * s
    for ex in (cx - 4.5 * s, cx + 4.5 * s):
        image[_ellipse(h, w, eye_y, ex, 1.2 * s, 1.6 * s)] = (30, 30, 40)
        if attrs["Eyeglasses"]:
            ring = _ellipse(h, w, eye_y, ex, 3.4 * s, 4.0 * s) & ~_ellipse(
                h, w, eye_y, ex, 2.0 * s, 2.6 * s)
            image[ring] = (10, 10, 10)
    if attrs["Eyeglasses"]:
        image[(np.abs(y - eye_y) <= 0.6 * s) & (np.abs(x - cx) <= 1.2 * s)] = (10, 10, 10)
    mouth_y = cy + 6.5 * s if attrs["No_Beard"] else cy + 4.5 * s
    image[_ellipse(h, w, mouth_y, cx, 0.8 * s, 2.5 * s)] = (150, 40, 50)
    if attrs["Wearing_Hat"]:  # a saturated crown and brim over the top of the head
        colour = rng.permutation([40.0, 90.0, 230.0])
        crown = (y >= cy - 19 * s) & (y <= cy - 11 * s) & (np.abs(x - cx) <= 11 * s)
        brim = (y > cy - 11 * s) & (y <= cy - 9.5 * s) & (np.abs(x - cx) <= 15 * s)
        image[crown | brim] = colour
    image += rng.normal(0, 6, size=image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def write_synthetic_celeba(root: Path, n: int = 300, width: int = 40, seed: int = 0,
                           split: tuple[float, float] = (0.65, 0.1),
                           quality: int = 90) -> np.ndarray:
    """Write `n` synthetic images and both list files under `root`.

    `split` is the (train, val) fraction; the rest is test. Returns the labels
    as written, (n, 40) in {-1, 1}, columns in CelebA order.
    """
    root = Path(root)
    (root / IMAGE_DIR).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    labels = np.where(rng.random((n, len(CELEBA_ATTRIBUTES))) < 0.5, 1, -1)
    names = [f"{i + 1:06d}.jpg" for i in range(n)]
    for i, name in enumerate(names):
        attrs = {a: bool(labels[i, CELEBA_ATTRIBUTES.index(a)] > 0) for a in PLANTED}
        Image.fromarray(draw_face(attrs, width, rng)).save(
            root / IMAGE_DIR / name, "JPEG", quality=quality)
    lines = [str(n), " ".join(CELEBA_ATTRIBUTES)]
    lines += [f"{name} " + " ".join(f"{v:2d}" for v in row) for name, row in zip(names, labels,
                                                                                  strict=True)]
    (root / ATTR_FILE).write_text("\n".join(lines) + "\n")
    n_train, n_val = round(n * split[0]), round(n * split[1])
    parts = [0] * n_train + [1] * n_val + [2] * (n - n_train - n_val)
    (root / PARTITION_FILE).write_text(
        "".join(f"{name} {p}\n" for name, p in zip(names, parts, strict=True)))
    return labels
