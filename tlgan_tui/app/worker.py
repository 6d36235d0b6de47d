"""The render engine the app's thread workers share, and the messages they send back.

Threads never touch widgets: they post these messages (thread-safe) and the
app applies them on its own loop. One lock serializes every use of the
generator and the extractors (neither is thread-safe), so a burst of key
presses queues at most one waiting worker per press, and each waiting
worker gives up at once when a newer request exists (the generation
counter), so only the newest state is ever rendered.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image
from textual.message import Message
from textual.strip import Strip

from tlgan_tui.engine.axes import FeatureAxes
from tlgan_tui.engine.edit_state import EditState
from tlgan_tui.engine.extractors.base import ExtractorSet
from tlgan_tui.engine.generators.base import CancelCheck, Generator, RenderCancelled

if TYPE_CHECKING:
    from tlgan_tui.app.renderers.kitty import KittyFrame

PREVIEW_MAX_SIDE = 256
MAX_RENDER_THREADS = 4
ExtractorFactory = Callable[[], ExtractorSet]
GeneratorFactory = Callable[[], Generator]


# -- messages -------------------------------------------------------------------


@dataclass
class FrameTimings:
    forward_ms: float  # latent maths + generator forward + conversion to uint8
    fit_ms: float  # scaling to the widget's pixel size
    requested_at: float  # time.monotonic() of the key press that asked for it
    encode_ms: float = 0.0  # terminal encoding done in the worker (half cells)
    preview: bool = False  # rendered at the generator's preview size
    # A full image of a generator with previews: once a newer request exists its
    # preview comes soon, so a stale full frame is dropped instead of holding the link.
    replaceable: bool = False


class FrameReady(Message):
    """A rendered frame for request `generation`."""

    def __init__(self, generation: int, state: EditState, frame: np.ndarray,
                 fitted: Image.Image | None, target: object, timings: FrameTimings,
                 prepared: list[Strip] | str | KittyFrame | None = None) -> None:
        super().__init__()
        # `fitted` made ready for the terminal in the worker: half-cell strips,
        # sixel data or a kitty transmit command.
        self.prepared = prepared
        self.generation = generation
        self.state = state
        self.frame = frame
        self.fitted = fitted
        self.target = target
        self.timings = timings


class ScoresReady(Message):
    """Measured feature values (extractor name -> value) of the frame for `generation`."""

    def __init__(self, generation: int, values: dict[str, float]) -> None:
        super().__init__()
        self.generation = generation
        self.values = values


class WorkerFailed(Message):
    """Something in a worker went wrong; the app shows it and carries on."""

    def __init__(self, what: str, error: str) -> None:
        super().__init__()
        self.what = what
        self.error = error


class DeviceFellBack(Message):
    """The generator moved to the CPU after failing on its device."""

    def __init__(self, device: str, reason: str) -> None:
        super().__init__()
        self.device = device
        self.reason = reason


class NewStart(Message):
    """A start latent computed in a worker (w-space random face, psi change)."""

    def __init__(self, seed: int | None, latent: np.ndarray, psi: float | None,
                 keep_offsets: bool) -> None:
        super().__init__()
        self.seed = seed
        self.latent = latent
        self.psi = psi
        self.keep_offsets = keep_offsets


class Exported(Message):
    """A snapshot PNG or history GIF was written."""

    def __init__(self, kind: str, path: str) -> None:
        super().__init__()
        self.kind = kind
        self.path = path


# -- the engine -------------------------------------------------------------------


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _describe(error: BaseException) -> str:
    """One line for a toast: a user's problem in plain words, a bug with its class name."""
    from tlgan_tui.engine.errors import TlganError

    if isinstance(error, OSError) and error.strerror:
        where = f": {error.filename}" if error.filename else ""
        return f"{error.strerror}{where}"[:300]
    text = str(error).strip().splitlines()
    first = text[0] if text else ""
    if isinstance(error, TlganError):
        return first[:300]
    return f"{type(error).__name__}: {first}"[:300]


@dataclass
class RenderEngine:
    """The generator, axes and (lazily made) extractors, used under one lock."""

    generator: Generator
    axes: FeatureAxes
    extractor_factory: ExtractorFactory | None = None
    cpu_fallback: GeneratorFactory | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)  # generator
    extractor_lock: threading.Lock = field(default_factory=threading.Lock)
    frames_rendered: int = 0
    requests_dropped: int = 0
    scores_computed: int = 0
    fell_back: str | None = None
    # torch threads for a render on the CPU: every core. The app keeps one core
    # free for the UI thread otherwise, but while a frame renders the UI mostly
    # waits for it, and on 2 cores the full image takes ~0.28 s instead of ~0.45 s.
    render_threads: int = field(default_factory=lambda: min(MAX_RENDER_THREADS,
                                                            usable_cores()))
    _extractors: ExtractorSet | None = None
    _extractor_error: str | None = None

    @property
    def device_name(self) -> str:
        return str(self.generator.device)

    def latent(self, state: EditState) -> np.ndarray:
        return state.latent(self.axes.directions, self.axes.sigmas)

    def preview_size(self, side: int | None = None) -> int | None:
        """The size the editor renders at while keys arrive (None: always full).

        The smallest preview that covers `side` (the face's side on screen in
        image pixels), at most PREVIEW_MAX_SIDE: half-block cells need no more
        than 128 px, a graphics terminal gets 256.
        """
        sizes = self.generator.preview_sizes[:-1]
        if not sizes:
            return None
        wanted = min(side or PREVIEW_MAX_SIDE, PREVIEW_MAX_SIDE)
        covering = [s for s in sizes if s >= wanted]
        return covering[0] if covering else sizes[-1]

    def synthesize(self, latents: np.ndarray, on_fallback: Callable[[str], None] | None = None,
                   size: int | None = None, cancel: CancelCheck | None = None) -> np.ndarray:
        """Latents -> uint8 frames; on a failing accelerator, retry once on the CPU.

        `cancel` stops a render that became stale (RenderCancelled).
        Call with `lock` held.
        """
        try:
            with self._render_threads():
                return self.generator.synthesize(latents, batch_size=16, size=size,
                                                 cancel=cancel)
        except RenderCancelled:
            raise
        except Exception as error:
            if self.generator.device.type == "cpu" or self.cpu_fallback is None:
                raise
            reason = _describe(error)
            self._release_accelerator()
            self.generator = self.cpu_fallback()
            self.fell_back = reason
            if on_fallback is not None:
                on_fallback(reason)
            return self.generator.synthesize(latents, batch_size=16, size=size, cancel=cancel)

    @contextlib.contextmanager
    def _render_threads(self) -> Iterator[None]:
        import torch

        before = torch.get_num_threads()
        change = self.generator.device.type == "cpu" and before != self.render_threads
        if change:
            torch.set_num_threads(self.render_threads)
        try:
            yield
        finally:
            if change:
                torch.set_num_threads(before)

    def _release_accelerator(self) -> None:
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except Exception:  # cleaning up must never hide the original failure
            pass

    def extractors(self) -> ExtractorSet | None:
        """The extractor set, made on first use in a worker thread (None if unavailable).

        Call with `extractor_lock` held.
        """
        if self._extractors is None and self._extractor_error is None:
            if self.extractor_factory is None:
                self._extractor_error = "no extractors"
            else:
                try:
                    self._extractors = self.extractor_factory()
                except Exception as error:
                    self._extractor_error = _describe(error)
        return self._extractors

    @property
    def extractor_error(self) -> str | None:
        return self._extractor_error

    def measure(self, frame: np.ndarray) -> dict[str, float]:
        """Extractor name -> value for one frame ({} when no extractor is available).

        Call with `extractor_lock` held (not `lock`: scoring one frame may overlap
        rendering the next).
        """
        extractors = self.extractors()
        if extractors is None:
            return {}
        scores = extractors.score(frame[None])[0]
        self.scores_computed += 1
        return {name: float(v) for name, v in zip(extractors.names, scores, strict=True)}

    def timed_frame(self, state: EditState,
                    on_fallback: Callable[[str], None] | None = None,
                    size: int | None = None,
                    cancel: CancelCheck | None = None) -> tuple[np.ndarray, float]:
        start = time.perf_counter()
        frame = self.synthesize(self.latent(state)[None], on_fallback, size, cancel)[0]
        self.frames_rendered += 1
        return frame, (time.perf_counter() - start) * 1000
