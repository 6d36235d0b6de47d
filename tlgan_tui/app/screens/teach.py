"""Teach mode (`t`): faces in a grid, y / n / s(kip) per face, u undoes.

After 10 answers of each kind every answer refits the knob (a class-balanced
logistic regression with the generator's principal-directions prior, see
`engine/teaching.py`) and shows its cross-validated accuracy; the knob joins
the feature list at once. Later faces are mostly near the current boundary
(active learning). Faces are drawn with half-block characters, so the grid
works in every terminal; a worker renders them and posts them as a message.
"""

from __future__ import annotations

import time
from typing import Protocol

import numpy as np
from PIL import Image
from rich.color import Color
from rich.markup import escape
from rich.segment import Segment
from rich.style import Style
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Static

from tlgan_tui.engine.errors import TlganError
from tlgan_tui.engine.teaching import MIN_PER_CLASS, NO, YES, Answers, KnobFit, Teacher

MAX_COLS, MAX_ROWS = 4, 3
FACE_COLS = 20  # a face is FACE_COLS cells wide and FACE_COLS / 2 tall (two pixels a cell)
CELL_COLS, CELL_ROWS = FACE_COLS + 2, FACE_COLS // 2 + 3  # with border and its label
RENDER_CHUNK = 4  # faces rendered per hold of the generator lock


class TeachHost(Protocol):
    """What the editor does with the answers (implemented by the app)."""

    def knob_fitted(self, name: str, teacher: Teacher) -> None: ...

    def knob_answers_changed(self, name: str, teacher: Teacher) -> None: ...


def grid_shape(width: int, height: int) -> tuple[int, int]:
    """(columns, rows) of faces that fit the terminal, at most 4 x 3, at least 1 x 1."""
    cols = max(1, min(MAX_COLS, (width - 2) // CELL_COLS))
    rows = max(1, min(MAX_ROWS, (height - 6) // CELL_ROWS))
    return cols, rows


def halfblock(image: Image.Image) -> list[Strip]:
    """Two pixels per cell: '▀' in the top pixel's colour on the bottom pixel's.

    Made once per face (in the worker) and served as strips: re-rendering rich
    text for 12 faces on every answer cost the loop more than the refit.
    """
    pixels = np.asarray(image.convert("RGB"))
    strips = []
    for y in range(0, pixels.shape[0] - 1, 2):
        segments = [Segment("▀", Style(color=Color.from_rgb(*map(int, pixels[y, x])),
                                       bgcolor=Color.from_rgb(*map(int, pixels[y + 1, x]))))
                    for x in range(pixels.shape[1])]
        strips.append(Strip(segments, pixels.shape[1]))
    return strips


class FaceBatch(Message):
    def __init__(self, latents: np.ndarray, faces: list[list[Strip]]) -> None:
        super().__init__()
        self.latents = latents
        self.faces = faces


class TeachReady(Message):
    def __init__(self, teacher: Teacher | None, error: str | None = None) -> None:
        super().__init__()
        self.teacher = teacher
        self.error = error


class FaceCell(Widget):
    DEFAULT_CSS = f"""
    FaceCell {{ width: {CELL_COLS}; height: {CELL_ROWS}; border: round $panel; }}
    FaceCell.current {{ border: heavy $accent; }}
    FaceCell.yes {{ border: round green; }}
    FaceCell.no {{ border: round red; }}
    FaceCell.current.yes {{ border: heavy green; }}
    FaceCell.current.no {{ border: heavy red; }}
    """

    answer: str | None = None
    face: list[Strip] | None = None
    label: Strip = Strip.blank(FACE_COLS)

    def show(self, face: list[Strip] | None, answer: str | None) -> None:
        self.answer = answer
        self.face = face
        for name in ("yes", "no"):
            self.set_class(answer == name, name)
        label = {"yes": "✓ yes", "no": "✗ no", "skip": "– skipped"}.get(answer or "", "?")
        self.label = Strip([Segment(f"{label:<{FACE_COLS}}", Style(bold=True))], FACE_COLS)
        self.refresh()

    def render_line(self, y: int) -> Strip:
        rows = FACE_COLS // 2
        if y < rows:
            return self.face[y] if self.face is not None and y < len(self.face) else Strip.blank(
                FACE_COLS)
        return self.label if y == rows else Strip.blank(FACE_COLS)


class TeachScreen(ModalScreen[None]):
    BINDINGS = [  # noqa: RUF012
        Binding("y", "answer('yes')", "yes"),
        Binding("n", "answer('no')", "no"),
        Binding("s", "answer('skip')", "skip"),
        Binding("u", "undo", "undo"),
        Binding("right,l", "cursor(1)", "next", show=False),
        Binding("left,h", "cursor(-1)", "previous", show=False),
        Binding("escape,q,t", "close", "done"),
    ]

    DEFAULT_CSS = """
    TeachScreen { align: center middle; }
    TeachScreen > Vertical {
        width: auto; height: auto; max-height: 100%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    TeachScreen Grid { width: auto; height: auto; grid-gutter: 0 0; }
    TeachScreen #teach-status { height: auto; width: auto; }
    """

    def __init__(self, name: str, host: TeachHost, answers: Answers | None = None,
                 seed: int = 0, active: bool = True) -> None:
        super().__init__()
        self.knob_name = name
        self.host = host
        self.initial = answers
        self.seed = seed
        self.active = active
        self.teacher: Teacher | None = None
        self.latents = np.zeros((0, 0), np.float32)
        self.cells: list[FaceCell] = []
        self.faces: list[list[Strip] | None] = []
        self.cursor = 0
        self.batch = 0
        self.given: list[tuple[int, int]] = []  # (batch, cell) of each answer given here
        self.refit_ms: list[float] = []
        self.loading = False

    def compose(self) -> ComposeResult:
        cols, rows = grid_shape(self.app.size.width, self.app.size.height)
        self.cells = [FaceCell() for _ in range(cols * rows)]
        with Vertical():
            yield Static(f"[b]Teach “{escape(self.knob_name)}”[/b]: does the face show it?",
                         id="teach-title")
            grid = Grid(*self.cells, id="teach-grid")
            grid.styles.grid_size_columns = cols
            grid.styles.grid_size_rows = rows
            grid.styles.width = cols * CELL_COLS
            grid.styles.height = rows * CELL_ROWS
            yield grid
            yield Static("preparing…", id="teach-status")
            yield Static("[b]y[/b] yes  [b]n[/b] no  [b]s[/b] skip  [b]u[/b] undo  "
                         "[b]← →[/b] choose face  [b]esc[/b] done", id="teach-keys")

    def on_mount(self) -> None:
        for cell in self.cells:
            cell.show(None, None)
        self._prepare()

    # -- workers ------------------------------------------------------------------
    @work(thread=True, group="teach-prepare", exit_on_error=False)
    def _prepare(self) -> None:
        from tlgan_tui.engine.knob_fitting import generator_prior, sampler

        engine = self.app.engine  # type: ignore[attr-defined]
        try:
            with engine.lock:
                generator = engine.generator
                prior = generator_prior(generator)
            teacher = Teacher(generator.latent_dim, prior, self._locked_sampler(sampler(generator)),
                              seed=self.seed, answers=self.initial, active=self.active)
            teacher.refit()
        except Exception as error:  # a worker must report, never raise
            self.post_message(TeachReady(None, f"{type(error).__name__}: {error}"))
            return
        self.post_message(TeachReady(teacher))

    def _locked_sampler(self, sample):  # type: ignore[no-untyped-def]
        engine = self.app.engine  # type: ignore[attr-defined]

        def locked(seeds: np.ndarray) -> np.ndarray:
            with engine.lock:
                return sample(seeds)

        return locked

    @work(thread=True, group="teach-faces", exit_on_error=False)
    def _load_batch(self, n: int) -> None:
        engine = self.app.engine  # type: ignore[attr-defined]
        assert self.teacher is not None
        try:
            latents = self.teacher.next_faces(n)
            faces: list[list[Strip]] = []
            for start in range(0, n, RENDER_CHUNK):
                with engine.lock:
                    images = engine.synthesize(latents[start : start + RENDER_CHUNK],
                                               self.app._fell_back)  # type: ignore[attr-defined]
                for image in images:
                    small = Image.fromarray(image).resize((FACE_COLS, FACE_COLS),
                                                          Image.Resampling.LANCZOS)
                    faces.append(halfblock(small))
        except Exception as error:
            self.post_message(TeachReady(None, f"{type(error).__name__}: {error}"))
            return
        self.post_message(FaceBatch(latents, faces))

    # -- messages -----------------------------------------------------------------
    def on_teach_ready(self, message: TeachReady) -> None:
        if message.teacher is None:
            self._status(f"[red]teaching failed: {message.error}[/red]")
            return
        self.teacher = message.teacher
        self._status()
        self._next_batch()

    def on_face_batch(self, message: FaceBatch) -> None:
        self.loading = False
        self.batch += 1
        self.latents = message.latents
        self.faces = list(message.faces)
        for cell, face in zip(self.cells, self.faces, strict=False):
            cell.show(face, None)
        self._move_to(0)
        self._status()

    def _next_batch(self) -> None:
        self.loading = True
        self._status()
        self._load_batch(len(self.cells))

    # -- keys -----------------------------------------------------------------------
    def action_answer(self, answer: str) -> None:
        if self.teacher is None or self.loading or not len(self.latents):
            return
        cell = self.cells[self.cursor]
        if cell.answer is not None:
            self._advance()
            return
        cell.show(self.faces[self.cursor], answer)
        if answer != "skip":
            start = time.perf_counter()
            try:
                fit = self.teacher.answer(self.latents[self.cursor],
                                          YES if answer == "yes" else NO)
            except TlganError as error:
                fit = None
                self._status(f"[red]{error}[/red]")
            self.refit_ms.append((time.perf_counter() - start) * 1000)
            self.given.append((self.batch, self.cursor))
            self._report(fit)
        self._advance()

    def action_undo(self) -> None:
        if self.teacher is None or not self.given:
            self.app.notify("no answer to undo", timeout=2)
            return
        batch, index = self.given.pop()
        self.teacher.undo()
        if batch == self.batch and not self.loading:
            self.cells[index].show(self.faces[index], None)
            self._move_to(index)
        self._report(self.teacher.fit)

    def action_cursor(self, delta: int) -> None:
        if self.latents.shape[0]:
            self._move_to((self.cursor + delta) % len(self.cells))

    def action_close(self) -> None:
        self.dismiss(None)

    # -- helpers --------------------------------------------------------------------
    def _report(self, fit: KnobFit | None) -> None:
        assert self.teacher is not None
        if fit is not None:
            self.host.knob_fitted(self.knob_name, self.teacher)
        else:
            self.host.knob_answers_changed(self.knob_name, self.teacher)
        self._status()

    def _advance(self) -> None:
        for step in range(1, len(self.cells) + 1):
            index = (self.cursor + step) % len(self.cells)
            if self.cells[index].answer is None:
                self._move_to(index)
                return
        self._next_batch()

    def _move_to(self, index: int) -> None:
        self.cursor = index
        for i, cell in enumerate(self.cells):
            cell.set_class(i == index, "current")

    def _status(self, extra: str = "") -> None:
        if self.teacher is None:
            text = "preparing…"
        else:
            n_yes, n_no = self.teacher.answers.counts
            fit = self.teacher.fit
            if fit is None:
                need = f"need {MIN_PER_CLASS} of each to fit"
                text = f"{n_yes} yes, {n_no} no — {need}"
            else:
                ms = f", refit {self.refit_ms[-1]:.0f} ms" if self.refit_ms else ""
                text = (f"{n_yes} yes, {n_no} no — cross-validated accuracy "
                        f"[b]{fit.cv_accuracy:.0%}[/b]{ms}; "
                        f"“{escape(self.knob_name)}” is in the list")
            if self.loading:
                text += " — drawing faces…"
        if extra:
            text += f"\n{extra}"
        self.query_one("#teach-status", Static).update(text)
