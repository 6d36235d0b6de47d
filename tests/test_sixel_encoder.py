"""The app's faster Sixel encoder writes exactly what textual-image's would."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from textual_image._sixel import SixelOptions, image_to_sixels

from tlgan_tui.app.renderers.sixel import encode_sixels


def face_like(width: int, height: int, seed: int) -> Image.Image:
    """Smooth shading plus noise: many colours per band, like a photo face."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 / width, y * 255 / height, (x + y) * 128 / (width + height)], -1)
    noisy = base + rng.normal(0, 12, base.shape)
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


@pytest.mark.parametrize(("size", "colours"), [((61, 60), 32), ((200, 97), 256),
                                               ((37, 6), 16), ((5, 1), 2)])
def test_same_bytes_as_textual_image(size: tuple[int, int], colours: int) -> None:
    image = face_like(*size, seed=colours)
    expected = image_to_sixels(image, SixelOptions(colors=colours))
    assert encode_sixels(image, colours) == expected


def test_a_single_colour_image() -> None:
    image = Image.new("RGB", (30, 13), (200, 10, 10))
    assert encode_sixels(image) == image_to_sixels(image)
