"""The kitty graphics protocol with one image id and a fixed placement.

textual-image's kitty widget gives every frame a new image id, so Textual has
to repaint the widget's unicode placeholders (their colour names the id):
about 23 KiB per frame in a 120x36 terminal, on top of an image scaled up to
the cell area. Here the placeholders are painted once per layout and each new
frame re-transmits only the image, under the same id, at its own pixel size
(or the screen's, if smaller), with a virtual placement `c` x `r` cells that
the terminal scales it into. The command goes through the app's driver, so
it stays in order with Textual's output and with the pacing query after it.
"""

from __future__ import annotations

import base64
import io
import random
from dataclasses import dataclass
from typing import Any

from PIL import Image
from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget
from textual_image.renderable.tgp import _NUMBER_TO_DIACRITIC, _PLACEHOLDER

CHUNK = 4096  # the protocol's largest base64 payload per escape sequence
PALETTE_COLOURS = 256


@dataclass(frozen=True)
class KittyFrame:
    """One frame ready for the terminal: the transmit command and what it shows."""

    command: str
    pixels: tuple[int, int]
    cells: tuple[int, int]


def png_base64(image: Image.Image, palette: bool = False) -> str:
    """The image as base64 PNG; `palette`: 256 adaptive colours (previews: a photo
    face quantized per frame loses little and shrinks by about half)."""
    if image.mode != "RGB":
        image = image.convert("RGB")
    if palette:
        image = image.quantize(PALETTE_COLOURS, method=Image.Quantize.FASTOCTREE,
                               dither=Image.Dither.NONE)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1 if not palette else 6)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def transmit_command(image_id: int, payload: str, cols: int, rows: int) -> str:
    """Transmit-and-place (a=T) with a virtual placement (U=1) of cols x rows cells,
    replacing the image that had this id; quiet (q=2): the terminal sends no reply."""
    chunks = [payload[i : i + CHUNK] for i in range(0, len(payload), CHUNK)] or [""]
    parts = []
    for n, chunk in enumerate(chunks):
        more = 0 if n == len(chunks) - 1 else 1
        keys = (f"a=T,U=1,i={image_id},f=100,c={cols},r={rows},q=2,m={more}" if n == 0
                else f"m={more}")
        parts.append(f"\x1b_G{keys};{chunk}\x1b\\")
    return "".join(parts)


def encode_frame(image: Image.Image, image_id: int, cols: int, rows: int,
                 palette: bool = False) -> KittyFrame:
    return KittyFrame(transmit_command(image_id, png_base64(image, palette), cols, rows),
                      image.size, (cols, rows))


def new_image_id() -> int:
    """An id whose low 24 bits (the placeholders' colour) are not zero."""
    return random.randint(1, 2**24 - 1)


def placeholder_rows(image_id: int, cols: int, rows: int) -> list[Strip]:
    """The unicode placeholder cells that show image `image_id` in cols x rows cells."""
    style = Style(color=Color.from_rgb((image_id >> 16) & 255, (image_id >> 8) & 255,
                                       image_id & 255))
    cell = chr(_PLACEHOLDER)
    strips = []
    for r in range(rows):
        row_mark = chr(_NUMBER_TO_DIACRITIC[r])
        text = "".join(f"{cell}{row_mark}{chr(_NUMBER_TO_DIACRITIC[c])}" for c in range(cols))
        strips.append(Strip([Segment(text, style)], cols))
    return strips


class KittyImage(Widget):
    """A face over the kitty protocol: placeholders painted once, images sent by id."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.image_id = new_image_id()
        self._image: Image.Image | None = None
        self._cells: tuple[int, int] | None = None
        self._strips: list[Strip] = []
        self.last_frame: KittyFrame | None = None
        self.last_encode_ms = 0.0

    @property
    def image(self) -> Image.Image | None:
        return self._image

    @image.setter
    def image(self, value: Image.Image | None) -> None:
        """Show a PIL image (encoded here, at the widget's cells)."""
        self._image = value
        if value is None:
            return
        cols, rows = self._cell_area()
        self.show_frame(value, encode_frame(value, self.image_id, cols, rows))

    def _cell_area(self) -> tuple[int, int]:
        styles = self.styles
        width = styles.width.value if styles.width is not None else self.size.width
        height = styles.height.value if styles.height is not None else self.size.height
        return max(1, int(width)), max(1, int(height))

    def show_frame(self, image: Image.Image, frame: KittyFrame) -> None:
        """Send a frame made in the worker; repaint the placeholders only if the cells changed."""
        self._image = image
        self.last_frame = frame
        if frame.cells != self._cells:
            self._cells = frame.cells
            self._strips = placeholder_rows(self.image_id, *frame.cells)
            self.refresh()
        self._write(frame.command)

    def _write(self, text: str) -> None:
        driver: Any = getattr(self.app, "_driver", None)
        if driver is not None:
            driver.write(text)

    def render_line(self, y: int) -> Strip:
        if y < len(self._strips):
            return self._strips[y]
        return Strip.blank(self.size.width)

    def render_lines(self, crop: Region) -> list[Strip]:
        lines = []
        for y in range(crop.y, crop.bottom):
            strip = self.render_line(y)
            if crop.x != 0 or crop.right != strip.cell_length:
                strip = strip.crop_extend(crop.x, crop.right, None)
            lines.append(strip)
        return lines

    def on_unmount(self) -> None:
        self._write(f"\x1b_Ga=d,d=I,i={self.image_id},q=2\x1b\\")
