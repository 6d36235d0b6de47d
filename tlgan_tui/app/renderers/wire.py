"""A rendered face made ready for the terminal, in the render worker.

Each renderer gets the fewest bytes that still show the face well: kitty the
image at its own size (the terminal scales it to the cells), previews as
smaller palette PNGs; Sixel the screen's pixels, with 32 colours for previews;
half cells their text, made once, previews at half the columns.
"""

from __future__ import annotations

from PIL import Image
from rich.console import Console
from textual.strip import Strip

from tlgan_tui.app.renderers import prepare_halfcell
from tlgan_tui.app.renderers.kitty import KittyFrame, encode_frame
from tlgan_tui.app.renderers.sixel import encode_sixels
from tlgan_tui.app.renderers.sizing import (
    PREVIEW_WIRE_SIDE,
    scale_for_wire,
    screen_pixels,
    wire_size,
)
from tlgan_tui.app.widgets.face_view import FitTarget, fit_face

SIXEL_PREVIEW_COLOURS = 32
# Half-cell previews: one image column per two cells. 24-bit colour costs ~35
# bytes a cell; a 68 x 34-cell face is ~80 KiB a frame at full resolution.
HALFCELL_PREVIEW_SPAN = 2
Prepared = list[Strip] | str | KittyFrame | None


def sixels(image: Image.Image, preview: bool = False) -> str:
    """Sixel data; previews with 32 colours (a 610 x 600 px face: ~68 KiB and ~40 ms
    to encode, against 104 KiB and ~50 ms with 64 colours and 330 KiB with 256)."""
    return encode_sixels(image, SIXEL_PREVIEW_COLOURS) if preview else encode_sixels(image)


def kitty_image(face: Image.Image, target: FitTarget, preview: bool) -> Image.Image:
    """The face at the pixel size kitty gets: its own, the screen's or the preview's."""
    screen = screen_pixels(target.cols, target.rows, target.cell_size, face.width / face.height)
    return scale_for_wire(face, wire_size(face.size, screen,
                                          PREVIEW_WIRE_SIDE if preview else None))


def prepare(renderer: str, face: Image.Image, target: FitTarget, *, preview: bool,
            console: Console, kitty_id: int | None = None) -> tuple[Image.Image, Prepared]:
    """(the image the widget shows, its terminal-ready form) for one frame."""
    if renderer == "kitty" and kitty_id is not None:
        image = kitty_image(face, target, preview)
        return image, encode_frame(image, kitty_id, target.cols, target.rows, palette=preview)
    fitted = fit_face(face, target)
    if renderer == "sixel":
        return fitted, sixels(fitted, preview)
    if renderer == "halfcell":
        span = HALFCELL_PREVIEW_SPAN if preview else 1
        return fitted, prepare_halfcell(fitted, target.cols, target.rows, console, span)
    return fitted, None


def wire_bytes(prepared: object) -> int | None:
    """The bytes a prepared kitty or Sixel frame takes on the wire (None: not known here)."""
    if isinstance(prepared, KittyFrame):
        return len(prepared.command)
    if isinstance(prepared, str):
        return len(prepared)
    return None
