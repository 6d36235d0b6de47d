"""How many pixels a frame crosses the link with.

A graphics terminal can scale an image itself (kitty: the placement's size in
cells), so sending more pixels than the face has, or than its place on screen
shows, only costs bytes. Previews go smaller still: they are replaced by the
full frame as soon as the keys stop.
"""

from __future__ import annotations

from PIL import Image

PREVIEW_WIRE_SIDE = 256  # longest side of a preview frame on the wire (kitty)


def screen_pixels(cols: int, rows: int, cell_size: tuple[int, int],
                  aspect: float) -> tuple[int, int]:
    """The face's size in screen pixels inside cols x rows cells (width / height = aspect)."""
    room_w, room_h = cols * cell_size[0], rows * cell_size[1]
    height = min(room_h, room_w / aspect)
    return max(1, round(height * aspect)), max(1, round(height))


def wire_size(image_size: tuple[int, int], screen: tuple[int, int],
              max_side: int | None = None) -> tuple[int, int]:
    """The image's own size when it is smaller than `screen`, else the screen's,
    and never a side above `max_side`; the aspect ratio is kept."""
    width, height = image_size
    scale = min(1.0, screen[0] / width, screen[1] / height)
    if max_side is not None:
        scale = min(scale, max_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def scale_for_wire(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """`image` at `size` (a good filter when shrinking; unchanged when already there)."""
    if image.size == size:
        return image
    shrinking = size[0] < image.width or size[1] < image.height
    return image.resize(size, Image.Resampling.LANCZOS if shrinking
                        else Image.Resampling.BICUBIC)
