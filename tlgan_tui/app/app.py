"""`tlgan`: the keyboard-driven face editor.

The app holds the undo history (immutable `EditState`s) and never waits on
the generator: every change bumps a generation counter and starts an
exclusive thread worker; the worker renders only if its request is still the
newest, then posts the frame and, after it, the measured feature values.
The session is saved after every change on a background thread.

Locks: a locked feature never moves. Moving or resetting it is refused with
a notification ("Male is locked — space to unlock"); moving other features
is conditioned on the locked axes; `R` resets the unlocked features only.
Once keys settle, the measured lock (lock_holding.py) corrects the locked
feature's own offset so it measures what it did when locked; otherwise only
undo, redo and a new random face change it.
"""

from __future__ import annotations

import gc
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import ClassVar

import numpy as np
from PIL import Image
from textual import events, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.timer import Timer
from textual.widgets import Footer, Input
from textual.worker import get_current_worker

from tlgan_tui.app.knob_actions import KnobActions, sectioned_order
from tlgan_tui.app.lock_holding import LockHolding
from tlgan_tui.app.pacing import (
    CURSOR_POSITION_QUERY,
    DEFAULT_MAX_FPS,
    FramePacer,
    full_quality_fits,
)
from tlgan_tui.app.renderers import Renderer
from tlgan_tui.app.renderers.wire import Prepared, prepare, wire_bytes
from tlgan_tui.app.screens.help import HelpScreen
from tlgan_tui.app.screens.open_photo import OpenPhotoScreen, ProjectionDone, ProjectionProgress
from tlgan_tui.app.widgets.face_view import FaceView, FitTarget, fit_face
from tlgan_tui.app.widgets.feature_list import FeatureList, FeatureRow
from tlgan_tui.app.widgets.status_line import StatusLine
from tlgan_tui.app.worker import (
    DeviceFellBack,
    Exported,
    ExtractorFactory,
    FrameReady,
    FrameTimings,
    GeneratorFactory,
    NewStart,
    RenderEngine,
    ScoresReady,
    WorkerFailed,
    _describe,
)
from tlgan_tui.engine.axes import FeatureAxes
from tlgan_tui.engine.edit_state import EditState
from tlgan_tui.engine.errors import TlganError
from tlgan_tui.engine.export import snapshot_metadata, write_gif, write_new_png
from tlgan_tui.engine.features import knob_label, ordered_feature_names
from tlgan_tui.engine.generators.base import Generator, RenderCancelled
from tlgan_tui.engine.session import History, Session, SessionWriter

DEFAULT_STEP = 0.4  # sigmas per key press, as in TL-GAN
MIN_STEP, MAX_STEP = 0.4 / 64, 0.4 * 16
BIG_STEP = 5
PSI_STEP = 0.1
MAX_GIF_FRAMES = 300
GIF_MIN_SIZE = 256
DISPLAY_WAIT_S = 0.5  # longest a worker waits for its frame to be drawn before scoring
FULL_AFTER_IDLE_S = 0.15  # keys stopped this long: replace the preview by the full image


@dataclass(frozen=True)
class FrameRecord:
    """Timings of one frame, key press to the terminal (benchmarks and tests)."""

    total_ms: float  # key press -> frame handed to the terminal driver
    forward_ms: float  # latent maths + generator forward (worker)
    fit_ms: float  # scaling to the widget's pixels (worker)
    encode_ms: float  # textual-image's encoding for the terminal (UI thread)
    preview: bool = False  # a cheaper, smaller rendering shown while keys arrive
    nbytes: int = 0  # written to the terminal for this frame
    requested_at: float = 0.0  # time.monotonic() of the key (benchmarks match frames to keys)


@dataclass
class AppConfig:
    """Everything the app needs, built by `tlgan edit` (or a test)."""

    generator: Generator
    axes: FeatureAxes
    renderer: Renderer
    history: History
    step: float = DEFAULT_STEP
    selected: int = 0  # row in the feature list
    out_dir: Path = Path("tlgan-snapshots")
    session_path: Path | None = None
    generator_path: Path | None = None  # None: the embedded default
    axes_path: Path | None = None  # None: the default file, or made in memory
    extractor_factory: ExtractorFactory | None = None
    cpu_fallback: GeneratorFactory | None = None
    notices: list[tuple[str, str]] = field(default_factory=list)  # (message, severity)
    show_frame_time: bool = True
    order: list[int] | None = None  # feature rows -> axes indices (None: axes order)
    random_seed: int | None = None  # seeds the "random face" sequence (tests)
    max_fps: float = DEFAULT_MAX_FPS
    quality: str = "auto"  # "auto", "full" or "preview": the frame sent once keys stop
    pace: bool | None = None  # wait for the terminal's answer per frame (None: unless headless)
    projection_steps: int = 300  # `o`: inversion steps and working size (px)
    projection_size: int = 256


GC_THRESHOLDS = (50_000, 20, 100)  # while the app runs (Python's default: 700, 10, 10)


def _freeze_startup_objects() -> None:
    """Keep the garbage collector off everything that exists once the app is up.

    A frame allocates thousands of short-lived objects (half-cell segments and
    styles), which makes Python run full collections every few frames; each
    one walks every object of torch, numpy and Textual and took up to 200 ms
    on 2 cores. After `gc.freeze()` those long-lived objects are skipped, and
    a larger first-generation threshold makes the remaining collections rare
    (p90 key-to-frame 59 -> 36 ms on 2 cores).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def feature_order(names: list[str]) -> list[int]:
    """Rows in TL-GAN's order: its 21 knobs first (those present), then the rest."""
    position = {name: i for i, name in enumerate(names)}
    return [position[name] for name in ordered_feature_names(names)]


class TlganApp(KnobActions, LockHolding, App[None]):
    """Face on the left, features on the right, status and keys at the bottom."""

    CSS_PATH = "app.tcss"
    TITLE = "tlgan"
    ENABLE_COMMAND_PALETTE = False

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "select(-1)", "feature", show=False),
        Binding("down,j", "select(1)", "feature", key_display="↑↓"),
        Binding("right,l,plus", "move(1)", "move +", key_display="→"),
        Binding("left,h,minus", "move(-1)", "move −", key_display="←"),
        Binding("shift+right", "move(5)", "+5 steps", show=False),
        Binding("shift+left", "move(-5)", "−5 steps", show=False),
        Binding("space", "toggle_lock", "lock"),
        Binding("0", "reset_one", "reset", show=False),
        Binding("R", "reset_all", "reset all", show=False),
        Binding("r", "random_face", "random"),
        Binding("u", "undo", "undo"),
        Binding("ctrl+r", "redo", "redo", show=False),
        Binding("left_square_bracket", "scale_step(0.5)", "step ÷2", show=False),
        Binding("right_square_bracket", "scale_step(2)", "step ×2", show=False),
        Binding("p", "psi(-1)", "ψ −", show=False),
        Binding("P", "psi(1)", "ψ +", show=False),
        Binding("s", "snapshot", "snapshot"),
        Binding("g", "gif", "gif", show=False),
        Binding("t", "teach", "teach", show=False),
        Binding("n", "rename_knob", "rename", show=False),
        Binding("x", "delete_knob", "delete knob", show=False),
        Binding("slash", "filter", "filter", key_display="/", show=False),
        Binding("o", "open_photo", "photo", show=False),
        Binding("escape", "escape", "cancel", show=False),
        Binding("question_mark", "help", "help", key_display="?"),
        Binding("q", "quit", "quit"),
    ]

    def __init__(self, config: AppConfig) -> None:
        super().__init__()
        self.config = config
        self.axes = config.axes
        self.history = config.history
        self.step = config.step
        self.order = config.order if config.order is not None else sectioned_order(
            list(config.axes.names), list(config.axes.kinds))
        # TL-GAN's labels ("Hairline" for CelebA's Receding_Hairline), computed once.
        self.labels = [knob_label(name, config.axes.names) for name in config.axes.names]
        self.selected = min(max(config.selected, 0), max(len(self.order) - 1, 0))
        self.engine = RenderEngine(config.generator, config.axes, config.extractor_factory,
                                   config.cpu_fallback)
        self.writer = SessionWriter(config.session_path) if config.session_path else None
        self._init_knobs()
        self._init_lock_holding()
        self._rng = random.Random(config.random_seed)
        self._generation = 0  # newest render request
        self._shown_generation = 0  # newest frame on screen
        self._scored_generation = 0
        self._values: dict[str, float] = {}
        self._value_texts: dict[str, str] = {}
        self._key_time: float | None = None
        self._last_key_time: float | None = None  # the full image is timed from it
        self._full_timer: Timer | None = None
        self._full_after_preview = False  # keys stopped while the last preview rendered
        self._pending_display: FrameTimings | None = None
        self._save_error_shown = False
        self._gc_thresholds = gc.get_threshold()
        self._awaiting_start = False  # a worker is computing a new start latent
        self._deferred: list[Callable[[], None]] = []
        self.last_frame: tuple[EditState, np.ndarray] | None = None
        self.frame_log: list[FrameRecord] = []
        self.first_frame_at: float | None = None  # time.monotonic() of the first frame drawn
        self.exports: list[Path] = []
        self.errors: list[str] = []
        self.messages: list[str] = []  # every notification shown (tests read it)
        self._displayed = threading.Event()  # set when a new frame reached the terminal
        self.pacer = FramePacer(config.max_fps, acknowledge=bool(config.pace))
        self._held: FrameReady | None = None  # the newest frame waiting for the link
        self._pace_timer: Timer | None = None
        self.frames_dropped = 0  # frames replaced while waiting for the link
        self._bytes_out = 0  # everything written to the terminal
        self._frame_bytes_from = 0
        self._full_bytes: int | None = None  # the last full-quality frame's size
        self._projection_cancel: threading.Event | None = None  # set: `o` is running
        # Half cells are plain text, kitty images a PNG, Sixel images sixel data:
        # the worker makes them ready for the terminal, off the UI thread.
        widget_class = config.renderer.widget_class
        self._prepare_in_worker = any(hasattr(widget_class, method) for method in (
            "show_prepared", "show_encoded", "show_frame"))

    # -- layout ---------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        self.face_view = FaceView(self.config.renderer, id="face")
        self.feature_list = FeatureList(self._rows(), id="features")
        self.status_line = StatusLine(show_frame_time=self.config.show_frame_time, id="status")
        with Horizontal(id="main"):
            yield self.face_view
            with VerticalScroll(id="features-pane", can_focus=False):
                box = Input(placeholder="filter features", id="feature-filter")
                box.display = False
                box.can_focus = False  # until `/`: the editor's keys are not typing
                yield box
                yield self.feature_list
        yield self.status_line
        yield Footer()

    def on_mount(self) -> None:
        if self.config.pace is None:
            self.pacer.acknowledge = not self.is_headless
        self._count_output()
        generator = self.engine.generator
        self.status_line.set(generator=generator.info.name, device=self.engine.device_name,
                             protocol=self.config.renderer.name, step=self.step,
                             seed=self.state.seed, psi=self.state.psi)
        self.feature_list.update(self._rows(), self.selected)
        for message, severity in self.config.notices:
            self.notify(message, severity=severity, timeout=10)  # type: ignore[arg-type]
        self.call_after_refresh(self._request_render)
        self._warm_up_extractors()
        self._describe_worker(self.axes)
        self._save_session()

    def notify(self, message: str, *, title: str = "", severity: str = "information",
               timeout: float | None = None, markup: bool = False) -> None:
        # Plain text by default: messages carry file names and feature names, and "[/]"
        # in one of them must not be read as Rich markup.
        self.messages.append(message)
        super().notify(message, title=title, severity=severity,  # type: ignore[arg-type]
                       timeout=timeout, markup=markup)

    def _count_output(self) -> None:
        """Count the bytes the app writes to the terminal (frame sizes, link speed)."""
        driver = self._driver
        if driver is None:
            return
        write = driver.write

        def counting_write(data: str) -> None:
            self._bytes_out += len(data.encode("utf-8", "surrogateescape"))
            write(data)

        driver.write = counting_write  # type: ignore[method-assign]

    # -- state ----------------------------------------------------------------------
    @property
    def state(self) -> EditState:
        return self.history.current

    @property
    def feature(self) -> int:
        """Axes index of the selected feature."""
        return self.order[self.selected]

    def _value_text(self, index: int) -> str:
        if self.axes.kinds[index] == "direction":
            return ""
        if self.engine.extractor_error is not None:
            return ""
        text = self._value_texts.get(self.axes.names[index].lower())
        if text is not None:
            return text
        if self._values or self._scored_generation:
            return ""  # scored, but no extractor measures this feature
        return "…"

    def _rows(self) -> list[FeatureRow]:
        state = self.state
        locked = set(state.locked)
        return [FeatureRow(self.labels[i], state.offsets[i], i in locked, self._value_text(i),
                           **self._row_extras(i))
                for i in self.order]

    def _refresh_view(self) -> None:
        self.feature_list.update(self._rows(), self.selected)
        self.status_line.set(seed=self.state.seed, step=self.step, psi=self.state.psi)

    def _change(self, make: Callable[[EditState], EditState | None]) -> None:
        """Apply a change to the current state as one undo step."""
        if self._awaiting_start:
            self._deferred.append(lambda: self._change(make))
            return
        new = make(self.state)
        if new is not None and self.history.push(new):
            self._after_change()

    def _after_change(self, render: bool = True) -> None:
        self._refresh_view()
        if render:
            self._request_render()
        self._save_session()

    def _save_session(self) -> None:
        if self.writer is None:
            return
        error = self.writer.last_error
        if error is not None and not self._save_error_shown:
            self._save_error_shown = True
            reason = getattr(error, "strerror", None) or error
            text = f"cannot save the session to {self.writer.path}: {reason}"
            self.errors.append(text)
            self.status_line.set(message=text)
            self.notify(text, severity="error", timeout=15)
        elif error is None:
            self._save_error_shown = False
        generator = self.engine.generator.info
        self.writer.submit(Session(
            history=self.history.copy(),
            generator={"path": None if self.config.generator_path is None
                       else str(self.config.generator_path),
                       "sha256": generator.sha256, "ident": generator.ident,
                       "name": generator.name},
            axes={"path": None if self.config.axes_path is None else str(self.config.axes_path),
                  "sha256": self.axes.sha256, "ident": self.axes.ident,
                  "names": list(self.axes.names)},
            step=self.step,
            selected=self.selected,
        ))

    def _locked_refusal(self, index: int) -> bool:
        if index in self.state.locked:
            self.notify(f"{self.axes.names[index]} is locked — space to unlock",
                        severity="warning", timeout=3)
            return True
        return False

    # -- keys -----------------------------------------------------------------------
    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key):
            self._key_time = event.time
        elif isinstance(event, events.CursorPosition):
            self._frame_answered()
            return
        await super().on_event(event)

    def action_select(self, delta: int) -> None:
        if not self.order:
            return
        self.selected = (self.selected + delta) % len(self.order)
        self.feature_list.update(self._rows(), self.selected)
        self._save_session()

    def action_move(self, steps: int) -> None:
        index = self.feature
        if self._locked_refusal(index):
            return
        self._change(lambda s: s.move(index, steps * self.step))

    def action_toggle_lock(self) -> None:
        index = self.feature
        directions, sigmas = self.axes.directions, self.axes.sigmas
        # Re-basing keeps the face identical, so no new frame is needed.
        if self._awaiting_start:
            self._deferred.append(self.action_toggle_lock)
            return
        if self.history.push(self.state.toggle_lock(index, directions, sigmas)):
            self._after_change(render=False)

    def action_reset_one(self) -> None:
        index = self.feature
        if self._locked_refusal(index):
            return
        self._change(lambda s: s.reset(index))

    def action_reset_all(self) -> None:
        def reset(state: EditState) -> EditState:
            if not state.locked:
                return state.reset_all()
            for i in range(len(state.offsets)):
                if i not in state.locked:
                    state = state.reset(i)
            return state

        if self.state.locked:
            self.notify(f"reset the unlocked features ({len(self.state.locked)} locked kept)",
                        timeout=3)
        self._change(reset)

    def action_random_face(self) -> None:
        if self._awaiting_start:
            self._deferred.append(self.action_random_face)
            return
        seed = self._rng.randrange(1_000_000)
        generator = self.engine.generator
        if generator.info.latent_space == "z":
            # Drawing z is numpy on the CPU: no need to wait for the device.
            start = generator.latent_for_seed(seed)
            self._change(lambda s: s.with_start(start, seed, s.psi))
        else:
            self._awaiting_start = True
            self._start_worker(seed, self.state.psi, keep_offsets=False)

    def action_undo(self) -> None:
        self._walk_history(self.history.undo, "undo", self.action_undo)

    def action_redo(self) -> None:
        self._walk_history(self.history.redo, "redo", self.action_redo)

    def _walk_history(self, walk: Callable[[], bool], name: str,
                      again: Callable[[], None]) -> None:
        if self._awaiting_start:
            self._deferred.append(again)
            return
        if walk():
            self._after_change()
        else:
            self.notify(f"nothing to {name}", timeout=2)

    def action_scale_step(self, factor: float) -> None:
        step = min(MAX_STEP, max(MIN_STEP, self.step * factor))
        if step == self.step:
            self.notify(f"step stays {self.step:g}σ", timeout=2)
            return
        self.step = step
        self.status_line.set(step=step)
        self._save_session()

    def action_psi(self, direction: int) -> None:
        generator = self.engine.generator
        if generator.psi is None:
            self.notify("this generator has no truncation", timeout=3)
            return
        if self._awaiting_start:
            self._deferred.append(lambda: self.action_psi(direction))
            return
        current = self.state.psi if self.state.psi is not None else generator.psi
        psi = round(min(1.0, max(0.0, current + direction * PSI_STEP)), 2)
        if psi == current:
            self.notify(f"ψ stays {psi:.1f}", timeout=2)
            return
        if self.state.seed is None:
            self.notify("this face has no seed, so ψ cannot re-draw it", severity="warning")
            return
        self._awaiting_start = True
        self._start_worker(self.state.seed, psi, keep_offsets=True)

    def action_snapshot(self) -> None:
        self._snapshot_worker(self.state)

    def action_gif(self) -> None:
        states = self.history.up_to_current()[-MAX_GIF_FRAMES:]
        self._gif_worker(states)

    def action_escape(self) -> None:
        """Escape cancels a running photo projection, else clears the feature filter."""
        if self._projection_cancel is not None:
            self.action_cancel_projection()
        else:
            self.clear_filter()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    # -- `o`: edit your own photo ---------------------------------------------------
    def action_open_photo(self) -> None:
        if self._projection_cancel is not None:
            self.notify("a photo is being projected — Escape cancels it", timeout=3)
            return
        self.push_screen(OpenPhotoScreen(), callback=self._project_photo)

    def _project_photo(self, path: Path | None) -> None:
        if path is None:
            return
        self._projection_cancel = threading.Event()
        self.status_line.set(message=f"projecting {path.name}… (Escape cancels)")
        self._projection_worker(path, self._projection_cancel)

    def action_cancel_projection(self) -> None:
        if self._projection_cancel is not None:
            self._projection_cancel.set()

    @work(thread=True, group="project", exit_on_error=False)
    def _projection_worker(self, path: Path, cancel: threading.Event) -> None:
        from tlgan_tui.engine.inversion import InversionCancelled, InversionSettings, Progress
        from tlgan_tui.engine.projection import project_photo

        def progress(p: Progress) -> None:
            self.post_message(ProjectionProgress(
                f"projecting {path.name}: step {p.step}/{p.steps}, loss {p.loss:.4f} "
                "(Escape cancels)"))

        settings = InversionSettings(steps=self.config.projection_steps,
                                     size=self.config.projection_size)
        try:
            result = project_photo(path, self.engine.generator, settings, progress, cancel,
                                   notes=lambda text: self.post_message(ProjectionProgress(text)))
        except InversionCancelled:
            self.post_message(ProjectionDone(None, "projection cancelled"))
            return
        except Exception as error:
            self.post_message(ProjectionDone(None, ""))
            self.post_message(WorkerFailed("projection", _describe(error)))
            return
        self.post_message(ProjectionDone(
            result.latent, f"{path.name}: {result.face_note}; PSNR {result.psnr:.1f} dB, "
            f"descriptor distance {result.descriptor_distance:.2f} (u undoes)"))

    def on_projection_progress(self, message: ProjectionProgress) -> None:
        self.status_line.set(message=message.text)

    def on_projection_done(self, message: ProjectionDone) -> None:
        self._projection_cancel = None
        if message.summary:
            self.status_line.set(message=message.summary)
            self.notify(message.summary, timeout=8)
        if message.latent is not None:
            latent = np.asarray(message.latent, dtype=np.float32)
            self._change(lambda s: s.with_start(latent, None, None))

    async def action_quit(self) -> None:
        if self.writer is not None:
            self._save_session()
            self.writer.flush()
        self.exit()

    def on_unmount(self) -> None:
        if self.writer is not None:
            self.writer.close()
        gc.unfreeze()  # give what the app kept back to the collector
        gc.set_threshold(*self._gc_thresholds)

    # -- rendering --------------------------------------------------------------------
    def _request_render(self, full: bool = False) -> None:
        """Render the current state: a preview (if the generator has one) then, once
        no key has come for FULL_AFTER_IDLE_S, the full image."""
        self._generation += 1
        requested_at = self._key_time if self._key_time is not None else time.monotonic()
        if self._key_time is not None:
            self._last_key_time = self._key_time
        self._key_time = None
        target = self.face_view.target()
        side = max(target.canvas_size) if target is not None else None
        size = None if full else self.engine.preview_size(side)
        if full and self._last_key_time is not None:
            requested_at = self._last_key_time
        wire_preview = size is not None or not self._full_quality()
        kitty_id = getattr(self.face_view.image_widget, "image_id", None)
        self._render_worker(self._generation, self.state, target, requested_at, size,
                            wire_preview, kitty_id)
        self._full_after_preview = False
        if size is not None or self._hold_wanted():  # a full frame may follow a hold
            if self._full_timer is not None:
                self._full_timer.stop()
            self._full_timer = self.set_timer(FULL_AFTER_IDLE_S, self._request_full)

    def _full_quality(self) -> bool:
        """Whether the frame sent once keys stop is full quality (--quality)."""
        quality = self.config.quality
        if quality == "auto":
            return full_quality_fits(self.pacer, self._full_bytes)
        return quality == "full"

    def _request_full(self) -> None:
        self._full_timer = None
        if self._hold_first():
            return  # the measured lock corrects the offsets, then comes back here
        if self.engine.preview_size() is None:
            return  # no previews: every frame was full already
        if not self._full_quality():
            return  # the preview stays: a full frame would not cross the link in time
        if self._shown_generation < self._generation:
            # Let the newest preview reach the screen first (a slow CPU would
            # otherwise drop every preview for the full image).
            self._full_after_preview = True
            return
        self._request_render(full=True)

    @work(thread=True, exclusive=True, group="render", exit_on_error=False)
    def _render_worker(self, generation: int, state: EditState, target: FitTarget | None,
                       requested_at: float, size: int | None = None,
                       wire_preview: bool = False, kitty_id: int | None = None) -> None:
        worker = get_current_worker()
        engine = self.engine
        with engine.lock:
            if worker.is_cancelled or generation != self._generation:
                engine.requests_dropped += 1
                return
            # A key pressed meanwhile stops a full render between two blocks of the
            # generator, so the next preview never waits a whole one. A preview
            # (short) runs on and is shown even if stale: while a key is held
            # down, faces keep coming instead of every one being given up.
            cancel = None if size is not None else (
                lambda: worker.is_cancelled or generation != self._generation)
            try:
                frame, forward_ms = engine.timed_frame(state, self._fell_back, size, cancel)
            except RenderCancelled:
                engine.requests_dropped += 1
                return
            except Exception as error:
                self.post_message(WorkerFailed("render", _describe(error)))
                return
            if generation != self._generation and size is None:
                engine.requests_dropped += 1
                return
            start = time.perf_counter()
            fitted: Image.Image | None = None
            prepared: Prepared = None
            if target is not None and self._prepare_in_worker:
                fitted, prepared = prepare(self.config.renderer.name, Image.fromarray(frame),
                                           target, preview=wire_preview, console=self.console,
                                           kitty_id=kitty_id)
            elif target is not None:
                fitted = fit_face(Image.fromarray(frame), target)
            elapsed = (time.perf_counter() - start) * 1000
            replaceable = size is None and engine.preview_size() is not None
            if replaceable and generation != self._generation:
                engine.requests_dropped += 1  # a key came while it was encoded
                return
            # Scaling and encoding happen together for the prepared renderers.
            fit_ms, encode_ms = (0.0, elapsed) if prepared is not None else (elapsed, 0.0)
            self._displayed.clear()
            self.post_message(FrameReady(generation, state, frame, fitted, target,
                                         FrameTimings(forward_ms, fit_ms, requested_at,
                                                      encode_ms, wire_preview, replaceable),
                                         prepared))
        if size is not None:
            return  # previews are not measured: the full image follows
        # Score after the frame is on screen: on a small CPU the extractor
        # would otherwise compete with drawing the frame.
        self._displayed.wait(DISPLAY_WAIT_S)
        with engine.extractor_lock:
            if worker.is_cancelled or generation != self._generation:
                return
            try:
                values = engine.measure(frame)
            except Exception as error:
                self.post_message(WorkerFailed("measuring", _describe(error)))
                return
        if generation == self._generation:
            self.post_message(ScoresReady(generation, values))

    @work(thread=True, group="warmup", exit_on_error=False)
    def _warm_up_extractors(self) -> None:
        """Load the extractors off the key path, while the first face renders."""
        with self.engine.extractor_lock:
            self.engine.extractors()
        error = self.engine.extractor_error
        if error is not None and self.config.extractor_factory is not None:
            self.post_message(WorkerFailed("loading the extractors", error))

    def _fell_back(self, reason: str) -> None:
        self.post_message(DeviceFellBack(self.engine.device_name, reason))

    def on_frame_ready(self, message: FrameReady) -> None:
        if message.generation <= self._shown_generation:
            return  # an older frame than the one on screen
        if self._replaced(message):
            return
        if self._too_slow_for_full(message):
            return
        if self._pending_display is not None or not self.pacer.can_write(time.monotonic()):
            # The link still carries the previous frame: keep only the newest.
            if self._held is not None and self._held.generation < message.generation:
                self.frames_dropped += 1
            if self._held is None or self._held.generation < message.generation:
                self._held = message
            self._schedule_release()
            return
        self._show_frame(message)

    def _too_slow_for_full(self, message: FrameReady) -> bool:
        """`--quality auto`: drop a full-quality frame the link would carry too slowly
        (the preview stays; later full frames are not rendered until the link is faster)."""
        if (message.timings.preview or self.config.quality != "auto"
                or self.engine.preview_size() is None):
            return False
        nbytes = wire_bytes(message.prepared)
        if nbytes is None or full_quality_fits(self.pacer, nbytes):
            return False
        self._full_bytes = nbytes
        self.frames_dropped += 1
        self.status_line.set(message="slow link: showing previews (--quality full to override)")
        return True

    def _schedule_release(self) -> None:
        if self._pace_timer is not None:
            return
        now = time.monotonic()
        delay = self.pacer.wait_before_next(now)
        if self.pacer.in_flight is not None:
            delay = max(delay, self.pacer.in_flight[0] + self.pacer.ack_timeout - now)
        self._pace_timer = self.set_timer(max(delay, 0.001) + 0.001, self._release_held)

    def _release_held(self) -> None:
        self._pace_timer = None
        held = self._held
        if held is None:
            return
        if self._pending_display is not None or not self.pacer.can_write(time.monotonic()):
            self._schedule_release()
            return
        self._held = None
        if held.generation > self._shown_generation and not self._replaced(held):
            self._show_frame(held)

    def _replaced(self, message: FrameReady) -> bool:
        """A full image that a newer request's preview will replace: dropped, as on a
        slow link writing it would delay that preview (counted as dropped)."""
        if message.timings.replaceable and message.generation != self._generation:
            self.frames_dropped += 1
            return True
        return False

    def _show_frame(self, message: FrameReady) -> None:
        self._shown_generation = message.generation
        self.last_frame = (message.state, message.frame)
        self._frame_bytes_from = self._bytes_out
        self.face_view.show(message.frame, message.fitted, message.target,  # type: ignore[arg-type]
                            message.prepared)
        self._pending_display = message.timings
        if getattr(self.face_view.image_widget, "last_frame", None) is not None:
            self.post_display_hook()  # kitty: the image went out already, by id
        if self._full_after_preview and message.generation == self._generation:
            self._full_after_preview = False
            self._request_render(full=True)

    def _frame_answered(self) -> None:
        delivery = self.pacer.answered(time.monotonic())
        if delivery is None:
            return
        if delivery.seconds is not None:
            self.status_line.set(link_ms=delivery.seconds * 1000)
        self._release_held()

    def post_display_hook(self) -> None:
        timings = self._pending_display
        if timings is None:
            return
        now = time.monotonic()
        nbytes = self._bytes_out - self._frame_bytes_from
        if nbytes == 0 and not self.is_headless and now - timings.requested_at < DISPLAY_WAIT_S:
            return  # Textual calls this hook after batched updates too: not drawn yet
        self._pending_display = None
        if self.pacer.acknowledge and self._driver is not None:
            self._driver.write(CURSOR_POSITION_QUERY)
        self.pacer.written(now, nbytes, timings.preview)
        if not timings.preview:
            self._full_bytes = nbytes
        if self.first_frame_at is None:
            self.first_frame_at = now
            self.call_later(_freeze_startup_objects)
        elapsed = (now - timings.requested_at) * 1000
        encode_ms = timings.encode_ms + float(
            getattr(self.face_view.image_widget, "last_encode_ms", 0.0))
        self.frame_log.append(FrameRecord(elapsed, timings.forward_ms, timings.fit_ms,
                                          encode_ms, timings.preview, nbytes,
                                          timings.requested_at))
        self.status_line.set(frame_ms=elapsed, frame_bytes=nbytes, link_ms=None)
        self._displayed.set()

    def on_scores_ready(self, message: ScoresReady) -> None:
        if message.generation < self._scored_generation:
            return
        self._scored_generation = message.generation
        self._values = message.values
        self._value_texts = self._format_values(message.values)
        self.feature_list.update(self._rows(), self.selected)

    def _format_values(self, values: dict[str, float]) -> dict[str, str]:
        """Lower-case feature name -> its display text, made once per scored frame."""
        extractors = self.engine._extractors
        if extractors is None:
            return {name.lower(): f"{value:.2f}" for name, value in values.items()}
        features = {f.name: f for f in extractors.features}
        return {name.lower(): (features[name].format_value(value) if name in features
                               else f"{value:.2f}") for name, value in values.items()}

    def on_worker_failed(self, message: WorkerFailed) -> None:
        text = f"{message.what} failed: {message.error}"
        self.errors.append(text)
        self.status_line.set(message=text)
        self.notify(text, severity="error", timeout=10)
        if message.what == "new face":
            self._awaiting_start = False
            self._replay_deferred()

    def on_device_fell_back(self, message: DeviceFellBack) -> None:
        self.status_line.set(device=message.device)
        self.notify(f"the generator failed on its device ({message.reason}); "
                    f"now running on {message.device}", severity="warning", timeout=10)

    # -- new start latents (w-space generators draw them on the device) ----------------
    @work(thread=True, group="start", exit_on_error=False)
    def _start_worker(self, seed: int, psi: float | None, keep_offsets: bool) -> None:
        engine = self.engine
        try:
            with engine.lock:
                generator = engine.generator
                if psi is not None and generator.psi is not None and generator.psi != psi:
                    generator.set_psi(psi)
                latent = generator.latent_for_seed(seed)
        except Exception as error:
            self.post_message(WorkerFailed("new face", _describe(error)))
            return
        self.post_message(NewStart(seed, latent, psi, keep_offsets))

    def on_new_start(self, message: NewStart) -> None:
        self._awaiting_start = False
        latent = np.asarray(message.latent, dtype=np.float32)
        if message.keep_offsets:
            new = replace(self.state, start=latent, psi=message.psi, seed=message.seed,
                          base=None, base_offsets=None)
        else:
            new = self.state.with_start(latent, message.seed, message.psi)
        if self.history.push(new):
            self._after_change()
        self._replay_deferred()

    def _replay_deferred(self) -> None:
        while self._deferred and not self._awaiting_start:
            self._deferred.pop(0)()

    # -- exports ----------------------------------------------------------------------
    def _stamp(self) -> str:
        return time.strftime("%Y%m%d-%H%M%S")

    @work(thread=True, group="export", exit_on_error=False)
    def _snapshot_worker(self, state: EditState) -> None:
        engine = self.engine
        try:
            with engine.lock:
                latent = engine.latent(state)
                frame = engine.synthesize(latent[None], self._fell_back)[0]
                info = engine.generator.info
            metadata = snapshot_metadata(info, self.axes.ident, self.axes.sha256,
                                         self.axes.names, state, latent, info.resolution)
            seed = f"seed{state.seed:04d}-" if state.seed is not None else ""
            path = write_new_png(Image.fromarray(frame), self.config.out_dir,
                                 f"face-{seed}{self._stamp()}", metadata)
        except Exception as error:
            self.post_message(WorkerFailed("snapshot", _describe(error)))
            return
        self.post_message(Exported("snapshot", str(path)))

    @work(thread=True, group="export", exit_on_error=False)
    def _gif_worker(self, states: tuple[EditState, ...]) -> None:
        engine = self.engine
        try:
            frames: list[Image.Image] = []
            for start in range(0, len(states), 16):
                chunk = states[start : start + 16]
                with engine.lock:  # released between chunks so edits keep rendering
                    latents = np.stack([engine.latent(s) for s in chunk])
                    images = engine.synthesize(latents, self._fell_back)
                for image in images:
                    face = Image.fromarray(image)
                    if face.width < GIF_MIN_SIZE:
                        face = face.resize((GIF_MIN_SIZE, GIF_MIN_SIZE * face.height // face.width),
                                           Image.Resampling.LANCZOS)
                    frames.append(face)
            last = states[-1]
            seed = f"seed{last.seed:04d}-" if last.seed is not None else ""
            stem = f"history-{seed}{self._stamp()}"
            path = None
            for n in range(1, 1000):
                candidate = self.config.out_dir / (f"{stem}.gif" if n == 1 else f"{stem}-{n}.gif")
                if candidate.exists():
                    continue
                try:
                    path = write_gif(frames, candidate, frame_ms=200,
                                     comment=f"tlgan edit history, {len(frames)} steps")
                    break
                except FileExistsError:
                    continue
            if path is None:
                raise TlganError(f"no free file name for {stem}.gif in {self.config.out_dir}")
        except Exception as error:
            self.post_message(WorkerFailed("GIF", _describe(error)))
            return
        self.post_message(Exported("GIF", str(path)))

    def on_exported(self, message: Exported) -> None:
        path = Path(message.path)
        self.exports.append(path)
        self.status_line.set(message=f"saved {path}")
        self.notify(f"saved {message.kind}: {path}", timeout=6)
