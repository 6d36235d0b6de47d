"""Reading a user's photo safely: every bad file ends in one TlganError line.

The image's size comes from its header (PIL's `Image.open` parses only the
header); a picture too large, or a decompression bomb, is refused before any
pixel is decoded. A truncated or corrupt file is refused when it is decoded
(PIL raises rather than padding with grey, unless someone set
`ImageFile.LOAD_TRUNCATED_IMAGES`, which this module checks).
"""

from __future__ import annotations

import os
import stat
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from tlgan_tui.engine.errors import TlganError

MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_PIXELS = 40_000_000  # a 40-megapixel photo decodes to 120 MB of RGB
MAX_SIDE = 20_000
FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "TIFF", "MPO", "GIF")


def read_photo(path: Path | str) -> np.ndarray:
    """A photo file -> uint8 RGB (H, W, 3), upright (EXIF orientation applied)."""
    path = Path(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise TlganError(f"photo not found: {path}") from None
    except OSError as error:
        raise TlganError(f"cannot read {path}: {error.strerror or error}") from None
    if stat.S_ISDIR(info.st_mode):
        raise TlganError(f"{path} is a directory, not a photo")
    if not stat.S_ISREG(info.st_mode):
        raise TlganError(f"{path} is not a regular file")
    if info.st_size == 0:
        raise TlganError(f"{path} is empty")
    if info.st_size > MAX_FILE_BYTES:
        raise TlganError(f"{path} is too large ({info.st_size / 2**20:.0f} MB; "
                         f"photos up to {MAX_FILE_BYTES // 2**20} MB)")
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        raise TlganError("PIL is set to accept truncated images "
                         "(ImageFile.LOAD_TRUNCATED_IMAGES); refusing to read photos so")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(path)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise TlganError(f"{path}: its header declares an image too large to decode "
                         "(a decompression bomb)") from None
    except UnidentifiedImageError:
        raise TlganError(f"{path} is not an image PIL can read") from None
    except OSError as error:
        raise TlganError(f"cannot read {path}: {error}") from None
    with image:
        width, height = image.size
        if image.format not in FORMATS:
            raise TlganError(f"{path}: {image.format} images are not accepted "
                             f"(use {', '.join(FORMATS[:4])})")
        if width < 1 or height < 1:
            raise TlganError(f"{path}: the image has no pixels ({width} x {height})")
        if width * height > MAX_PIXELS or max(width, height) > MAX_SIDE:
            raise TlganError(f"{path}: {width} x {height} pixels is too large to decode "
                             f"(at most {MAX_PIXELS // 1_000_000} megapixels, "
                             f"{MAX_SIDE} px a side)")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                image.load()
                upright = ImageOps.exif_transpose(image)
                rgb = _to_rgb(upright if upright is not None else image)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise TlganError(f"{path}: refused, it decodes as a decompression bomb") from None
        except (OSError, ValueError, SyntaxError, EOFError) as error:
            raise TlganError(f"{path}: truncated or corrupt image ({error})") from None
    array = np.asarray(rgb, dtype=np.uint8)
    if array.ndim != 3 or array.shape[2] != 3:
        raise TlganError(f"{path}: could not be turned into an RGB picture")
    return np.ascontiguousarray(array)


def _to_rgb(image: Image.Image) -> Image.Image:
    """Any mode -> RGB; transparency is laid over white."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        canvas.alpha_composite(rgba)
        return canvas.convert("RGB")
    if image.mode == "I;16" or image.mode.startswith("I"):
        array = np.asarray(image, dtype=np.float64)
        top = array.max() or 1.0
        return Image.fromarray((array / top * 255).astype(np.uint8)).convert("RGB")
    return image.convert("RGB")
