"""Which textual-image widget draws the face, and what it is called in the status line.

Importing this module imports `textual_image.widget`, which asks the terminal
what it supports (graphics protocol, cell size in pixels). That query only
works before a Textual app starts reading stdin, so the CLI imports this
module before `App.run()`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import textual_image.renderable
import textual_image.widget as image_widgets
from PIL import Image as PILImage
from rich.color import Color, ColorType
from rich.color_triplet import ColorTriplet
from rich.console import Console, ConsoleOptions
from rich.measure import Measurement
from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget
from textual_image._terminal import get_cell_size
from textual_image.renderable.halfcell import Image as HalfcellRenderable
from textual_image.renderable.sixel import Image as SixelRenderable
from textual_image.renderable.tgp import Image as TGPRenderable
from textual_image.renderable.unicode import Image as UnicodeRenderable
from textual_image.widget._base import Image as BaseImage
from textual_image.widget.sixel import _ImageSixelImpl, _NoopRenderable

from tlgan_tui.app import RENDERER_CHOICES
from tlgan_tui.app.renderers.kitty import KittyImage


class _StripCache:
    """Renders textual-image's renderable once per image, straight into strips.

    textual-image's widgets hand Textual a new Rich renderable on every
    repaint and ask for a full layout on every new image; through Textual's
    generic renderable path that costs tens of milliseconds per frame for
    a few thousand half-cell segments. Here the same renderable is rendered
    once per image with the app's console and the strips are served from a
    cache (Textual's line API); a new image of the same size repaints without
    a layout pass. The kitty image is replaced before the old one is deleted,
    so frames do not flash.
    """

    _image_serial: int = 0
    last_encode_ms: float = 0.0  # textual-image's encoding of the last frame
    _strip_cache: tuple[tuple[int, int, int], list[Strip]] | None = None

    @property
    def image(self) -> Any:
        return self._image  # type: ignore[attr-defined]

    @image.setter
    def image(self, value: Any) -> None:
        if value is not None and not isinstance(value, PILImage.Image):
            BaseImage.image.fset(self, value)  # type: ignore[attr-defined]
            self._image_serial += 1
            return
        old_size = (self._image_width, self._image_height)  # type: ignore[has-type]
        self._image = value
        self._image_width, self._image_height = value.size if value is not None else (0, 0)
        self._image_serial += 1
        self.refresh(layout=(self._image_width, self._image_height) != old_size)  # type: ignore[attr-defined]

    def show_prepared(self, image: PILImage.Image, strips: list[Strip]) -> None:
        """Show an image whose strips were already rendered (in a worker)."""
        self.image = image
        width = strips[0].cell_length if strips else 0
        self._strip_cache = ((self._image_serial, width, len(strips)), strips)
        self.last_encode_ms = 0.0

    def _strips(self) -> list[Strip] | None:
        width, height = self.content_size  # type: ignore[attr-defined]
        if self._image is None or width <= 0 or height <= 0:
            return None
        key = (self._image_serial, width, height)
        if self._strip_cache is None or self._strip_cache[0] != key:
            self._strip_cache = (key, self._render_strips(width, height))
        return self._strip_cache[1]

    def render_line(self, y: int) -> Strip:
        strips = self._strips()
        width = self.content_size.width  # type: ignore[attr-defined]
        if strips is None or y >= len(strips):
            return Strip.blank(max(width, 0))
        return strips[y]

    def render_lines(self, crop: Region) -> list[Strip]:
        """The cached strips themselves (no border or padding on this widget), so
        their terminal sequences, made once, are reused by Textual."""
        strips = self._strips()
        if strips is None:
            return [Strip.blank(crop.width)] * crop.height
        lines = []
        for y in range(crop.y, crop.bottom):
            strip = strips[y] if y < len(strips) else Strip.blank(crop.right)
            if crop.x != 0 or crop.right != strip.cell_length:
                strip = strip.crop_extend(crop.x, crop.right, None)
            lines.append(strip)
        return lines

    def _new_renderable(self, width: int, height: int) -> Any:
        return self._Renderable(self._image, width, height)  # type: ignore[attr-defined]

    def _render_strips(self, width: int, height: int) -> list[Strip]:
        start = time.perf_counter()
        previous = self._renderable  # type: ignore[has-type]
        renderable = self._new_renderable(width, height)
        console = self.app.console  # type: ignore[attr-defined]
        options = console.options.update_dimensions(width, height)
        lines = console.render_lines(renderable, options, pad=True)
        self._renderable = renderable
        if previous is not None:
            previous.cleanup()
        strips = [Strip(line, width) for line in lines]
        self.last_encode_ms = (time.perf_counter() - start) * 1000
        return strips


class QuickHalfcell:
    """The same picture as textual-image's half-cell renderable, built faster.

    Upper half block, foreground = upper pixel, background = lower pixel, one
    cell per image column and two image rows per cell. Colours are made once
    per distinct pixel value and styles with `Style.from_color` (no parsing),
    which halves the cost per frame; the image arrives already scaled to
    (width, 2 * height) by the face view, so nothing is resampled here.
    """

    def __init__(self, image: Any, width: int | str | None = None,
                 height: int | str | None = None) -> None:
        self.image = image.convert("RGB") if image.mode != "RGB" else image
        self.width = width if isinstance(width, int) else self.image.width
        self.height = height if isinstance(height, int) else (self.image.height + 1) // 2

    def cleanup(self) -> None:
        """Nothing is held in the terminal."""

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(self.width, self.width)

    def __rich_console__(self, console: Console, options: ConsoleOptions
                         ) -> Iterator[Segment]:
        width, height = min(self.width, options.max_width), self.height
        for row in halfcell_rows(self.image, width, height):
            yield from row
            yield Segment.line()


def halfcell_rows(image: PILImage.Image, width: int, height: int,
                  span: int = 1) -> list[list[Segment]]:
    """Rows of upper-half-block segments showing `image` in width x height cells.

    `span` > 1 (previews): each image column covers `span` cells and is sent once
    for all of them, which divides the bytes by about `span`.
    """
    if image.mode != "RGB":
        image = image.convert("RGB")
    columns = -(-width // span)
    if image.size != (columns, 2 * height):
        image = image.resize((columns, 2 * height), PILImage.Resampling.BOX)
    pixels = np.asarray(image, dtype=np.uint32)
    packed = (pixels[..., 0] << 16) | (pixels[..., 1] << 8) | pixels[..., 2]
    # Rich's Color and ColorTriplet are named tuples; building them with
    # tuple.__new__ skips their Python-level constructors (4,000+ per frame).
    truecolor, new = ColorType.TRUECOLOR, tuple.__new__
    values = np.unique(packed)
    colors = {value: new(Color, (f"#{value:06x}", truecolor, None,
                                 new(ColorTriplet, (red, green, blue))))
              for value, red, green, blue in zip(
                  values.tolist(), (values >> 16).tolist(), ((values >> 8) & 255).tolist(),
                  (values & 255).tolist(), strict=True)}
    from_color = Style.from_color
    rows = packed.tolist()
    cells = ["▀" * span] * (columns - 1) + ["▀" * (width - span * (columns - 1))]
    return [[Segment(text, from_color(colors[top], colors[bottom]))
             for text, top, bottom in zip(cells, upper, lower, strict=True)]
            for upper, lower in zip(rows[0::2], rows[1::2], strict=True)]


def prepare_halfcell(image: PILImage.Image, width: int, height: int,
                     console: Console, span: int = 1) -> list[Strip]:
    """Half-cell strips with their terminal sequences already made.

    Runs in the render worker: the UI thread then only copies finished text
    to the terminal (Textual passes a full-width strip through unchanged and
    reuses its cached rendering).
    """
    strips = [Strip(row, width) for row in halfcell_rows(image, width, height, span)]
    for strip in strips:
        strip.render(console)
    return strips


class FastHalfcellImage(_StripCache, image_widgets.HalfcellImage, Renderable=QuickHalfcell):
    """Coloured half blocks, rendered once per frame."""


class FastUnicodeImage(_StripCache, image_widgets.UnicodeImage, Renderable=UnicodeRenderable):
    """Unicode shading, rendered once per frame."""


class _PreencodedSixels(_ImageSixelImpl):
    """textual-image's Sixel painter, using sixel data encoded in the render worker
    when it is asked for exactly the image the worker encoded (else it encodes)."""

    payload: tuple[tuple[int, int], str] | None = None

    def _image_to_sixels(self, image: PILImage.Image, sixel_options: Any = None,
                         background: Any = None) -> str:
        if (self.payload is not None and sixel_options is None
                and image.size == self.payload[0]):
            return self.payload[1]
        return super()._image_to_sixels(image, sixel_options, background)


class FastSixelImage(image_widgets.SixelImage, Renderable=_NoopRenderable):
    """Sixel, with each frame's sixel data made in the render worker."""

    _payload: tuple[PILImage.Image, str] | None = None

    def show_encoded(self, image: PILImage.Image, payload: str) -> None:
        self._payload = (image, payload)
        self.image = image

    def compose(self) -> Any:
        painter = _PreencodedSixels(self.image, self._sixel_options)
        if self._payload is not None and self._payload[0] is self.image:
            painter.payload = (self._payload[0].size, self._payload[1])
        yield painter


@dataclass(frozen=True)
class Renderer:
    """A way of drawing images in the terminal."""

    name: str  # "kitty", "sixel", "halfcell", "unicode"
    widget_class: type[Widget]
    # Image pixels one terminal cell shows: the cell's size in pixels for the
    # graphics protocols, 1 x 2 for half cells, 1 x 1 for the unicode shading.
    pixels_per_cell: tuple[int, int]
    cell_size: tuple[int, int]  # the terminal's cell in screen pixels (w, h)
    note: str = ""  # why auto picked something else than the terminal claims


def _name_of(renderable: type) -> str:
    if renderable is TGPRenderable:
        return "kitty"
    if renderable is SixelRenderable:
        return "sixel"
    if renderable is HalfcellRenderable:
        return "halfcell"
    return "unicode"


def detected_renderer_name() -> str:
    """What `auto` picks in this terminal."""
    return _name_of(textual_image.renderable.Image)


KITTY_PLACEHOLDERS = (0, 28)  # kitty draws textual-image's unicode placeholders from 0.28


def terminal_version() -> str | None:
    """The terminal's XTVERSION answer ("kitty(0.26.5)"), or None when it says nothing.

    Only works before the app starts reading stdin, like textual-image's own queries.
    """
    import sys

    from textual_image._terminal import TerminalError, capture_terminal_response

    if not (sys.__stdout__ and sys.__stdout__.isatty() and sys.__stdin__
            and sys.__stdin__.isatty()):
        return None
    try:
        with capture_terminal_response("\x1bP>|", "\x1b\\", timeout=0.1) as response:
            sys.__stdout__.write("\x1b[>q")
            sys.__stdout__.flush()
    except (TerminalError, TimeoutError, OSError):
        return None
    return response.sequence[4:-2] or None


def kitty_too_old(version: str | None) -> bool:
    """True for a kitty that predates unicode placeholders (it shows boxes instead)."""
    if not version or not version.startswith("kitty("):
        return False
    try:
        numbers = tuple(int(p) for p in version[6:].rstrip(")").split(".")[:2])
    except ValueError:
        return False
    return numbers < KITTY_PLACEHOLDERS


def resolve_renderer(name: str = "auto") -> Renderer:
    """The renderer for `--renderer NAME` (`auto` asks the terminal)."""
    if name not in RENDERER_CHOICES:
        from tlgan_tui.engine.errors import TlganError

        raise TlganError(f"unknown renderer {name!r}; choose one of {', '.join(RENDERER_CHOICES)}")
    note = ""
    if name == "auto":
        name = detected_renderer_name()
        version = terminal_version() if name == "kitty" else None
        if kitty_too_old(version):
            name = "halfcell"
            note = (f"{version} cannot show textual-image's kitty images (0.28 or later "
                    "can): drawing with half cells")
    classes: dict[str, type[Widget]] = {
        "kitty": KittyImage,
        "sixel": FastSixelImage,
        "halfcell": FastHalfcellImage,
        "unicode": FastUnicodeImage,
    }
    cell = get_cell_size()
    cell_size = (max(1, cell.width), max(1, cell.height))
    per_cell = {"kitty": cell_size, "sixel": cell_size, "halfcell": (1, 2), "unicode": (1, 1)}
    return Renderer(name, classes[name], per_cell[name], cell_size, note)
