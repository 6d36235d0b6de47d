"""The face, drawn with textual-image at exactly the size the widget shows.

The generator's frame (64 px for the default) is scaled once, with a good
filter, to the pixel size of the cells the image occupies, so textual-image
never rescales it again and the terminal receives no more pixels than it
shows. The face keeps its aspect ratio on screen: cells are not square, so
the image is sized in screen pixels and letterboxed into whole cells.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image
from textual.app import ComposeResult
from textual.events import Resize
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Static

from tlgan_tui.app.renderers import Renderer
from tlgan_tui.app.renderers.kitty import KittyFrame


@dataclass(frozen=True)
class FitTarget:
    """Where and how big the face is drawn: whole cells, and the image pixels they hold."""

    cols: int
    rows: int
    pixels_per_cell: tuple[int, int]
    cell_size: tuple[int, int]
    background: tuple[int, int, int] = (0, 0, 0)

    @property
    def canvas_size(self) -> tuple[int, int]:
        return self.cols * self.pixels_per_cell[0], self.rows * self.pixels_per_cell[1]


def plan_fit(width: int, height: int, renderer: Renderer,
             background: tuple[int, int, int] = (0, 0, 0),
             aspect: float = 1.0) -> FitTarget | None:
    """The largest face (width / height = `aspect` on screen) fitting width x height cells."""
    if width <= 0 or height <= 0:
        return None
    cw, ch = renderer.cell_size
    room_w, room_h = width * cw, height * ch
    face_h = min(room_h, room_w / aspect)
    face_w = face_h * aspect
    cols = max(1, min(width, round(face_w / cw)))
    rows = max(1, min(height, round(face_h / ch)))
    return FitTarget(cols, rows, renderer.pixels_per_cell, renderer.cell_size, background)


def fit_face(face: Image.Image, target: FitTarget) -> Image.Image:
    """Scale `face` into the target's canvas, keeping its on-screen aspect ratio."""
    canvas_w, canvas_h = target.canvas_size
    (pw, ph), (cw, ch) = target.pixels_per_cell, target.cell_size
    # Screen pixels available, and the face's side in screen pixels.
    scale = min(target.cols * cw / face.width, target.rows * ch / face.height)
    face_w = min(canvas_w, max(1, round(face.width * scale * pw / cw)))
    face_h = min(canvas_h, max(1, round(face.height * scale * ph / ch)))
    if (face_w, face_h) == face.size:
        scaled = face
    else:
        shrinking = face_w < face.width or face_h < face.height
        scaled = face.resize((face_w, face_h),
                             Image.Resampling.LANCZOS if shrinking else Image.Resampling.BICUBIC)
    if scaled.size == (canvas_w, canvas_h):
        return scaled
    canvas = Image.new("RGB", (canvas_w, canvas_h), target.background)
    canvas.paste(scaled, ((canvas_w - face_w) // 2, (canvas_h - face_h) // 2))
    return canvas


class FaceView(Widget):
    """The left pane: the current face, refitted whenever the pane changes size."""

    DEFAULT_CSS = """
    FaceView {
        align: center middle;
    }
    """

    def __init__(self, renderer: Renderer, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.renderer = renderer
        self.image_widget: Widget = renderer.widget_class(id="face-image")
        self.placeholder = Static("rendering…", id="face-placeholder")
        self._frame: np.ndarray | None = None  # the last full-resolution frame
        self._shown_target: FitTarget | None = None
        self.frames_shown = 0

    def compose(self) -> ComposeResult:
        yield self.placeholder
        yield self.image_widget

    def on_mount(self) -> None:
        self.image_widget.display = False

    def _background(self) -> tuple[int, int, int]:
        color = self.styles.background
        if color.a == 0:
            return (0, 0, 0)
        return (color.r, color.g, color.b)

    def target(self) -> FitTarget | None:
        """What a frame rendered now should be scaled to (None before the first layout)."""
        size = self.content_size
        aspect = 1.0
        if self._frame is not None:
            aspect = self._frame.shape[1] / self._frame.shape[0]
        return plan_fit(size.width, size.height, self.renderer, self._background(), aspect)

    def show(self, frame: np.ndarray, fitted: Image.Image | None,
             target: FitTarget | None,
             prepared: list[Strip] | str | KittyFrame | None = None) -> None:
        """Draw a new frame; `fitted` was scaled for `target` in the worker when possible
        (and `prepared` holds its terminal-ready strips)."""
        self._frame = frame
        current = self.target()
        if current is None:
            return
        if fitted is None or target != current:
            fitted, prepared = self._prepare(frame, current)
        self._put(fitted, current, prepared)

    def _prepare(self, frame: np.ndarray,
                 target: FitTarget) -> tuple[Image.Image, list[Strip] | str | KittyFrame | None]:
        """Encode here what the worker could not (a resize, a stale target): the same
        encoder as the worker's, so kitty still sends the face at its own size."""
        from tlgan_tui.app.renderers.wire import prepare

        return prepare(self.renderer.name, Image.fromarray(frame), target, preview=False,
                       console=self.app.console,
                       kitty_id=getattr(self.image_widget, "image_id", None))

    def _put(self, image: Image.Image, target: FitTarget,
             prepared: list[Strip] | str | KittyFrame | None = None) -> None:
        widget = self.image_widget
        if target != self._shown_target:
            widget.styles.width = target.cols
            widget.styles.height = target.rows
            self._shown_target = target
        if not widget.display:
            widget.display = True
            self.placeholder.display = False
        if isinstance(prepared, KittyFrame) and hasattr(widget, "show_frame"):
            widget.show_frame(image, prepared)  # sent by image id, no repaint
        elif isinstance(prepared, str) and hasattr(widget, "show_encoded"):
            widget.show_encoded(image, prepared)  # sixel data
        elif isinstance(prepared, list) and hasattr(widget, "show_prepared"):
            widget.show_prepared(image, prepared)  # half-cell strips
        else:
            widget.image = image  # type: ignore[attr-defined]
        self.frames_shown += 1

    def on_resize(self, event: Resize) -> None:
        if self._frame is None:
            return
        target = self.target()
        if target is not None and target != self._shown_target:
            fitted, prepared = self._prepare(self._frame, target)
            self._put(fitted, target, prepared)
