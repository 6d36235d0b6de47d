"""The measured lock in the editor: once keys settle, correct the locked knobs'
offsets on a worker thread (engine/measured_lock.py), then render the full image.

While keys arrive, previews show the instant linear lock. When they stop,
`_request_full` first asks `_hold_first`: if the face has locks the
extractors measure, a worker renders it at the axes' fit size, measures the
locked features, corrects their offsets and posts `LocksHeld`; the app puts
the corrected state in place of the current one (the same undo step) and
renders it. A state that changed meanwhile drops the result: the next settle
holds the newer one. Mixed into `TlganApp`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from textual import work
from textual.message import Message
from textual.worker import get_current_worker

from tlgan_tui.app.worker import WorkerFailed, _describe
from tlgan_tui.engine.edit_state import EditState
from tlgan_tui.engine.measured_lock import (
    MEASURE_SIZE,
    hold_locks,
    locked_columns,
    needs_hold,
    reference_latent,
)
from tlgan_tui.engine.sampling import images_for_scoring

if TYPE_CHECKING:
    from tlgan_tui.app.app import TlganApp

REFERENCES_KEPT = 8


class LocksHeld(Message):
    """`after` is `before` with its locked offsets corrected (or `before` itself)."""

    def __init__(self, before: EditState, after: EditState) -> None:
        super().__init__()
        self.before = before
        self.after = after


class _Superseded(Exception):
    """The state being held is no longer the current one."""


class LockHolding:
    _lock_holding: EditState | None  # the state a hold worker is busy with
    _lock_settled: EditState | None  # the last state held (corrected or found fine)
    _lock_references: dict[bytes, np.ndarray]  # reference latent -> its scores
    last_lock_correction: tuple[EditState, EditState] | None  # (replaced, its correction)

    def _init_lock_holding(self: TlganApp) -> None:
        self.last_lock_correction = None
        self._lock_holding = None
        self._lock_settled = None
        self._lock_references = {}

    def _hold_wanted(self: TlganApp) -> bool:
        state = self.state
        if not state.locked or state is self._lock_settled or state is self._lock_holding:
            return False
        if self.config.extractor_factory is None or self.engine.extractor_error is not None:
            return False
        return needs_hold(state) and any(self.axes.kinds[j] != "direction"
                                         for j in state.locked)

    def _hold_first(self: TlganApp) -> bool:
        """Start correcting the current state's locks; True if the full render waits for it."""
        if not self._hold_wanted():
            return False
        self._lock_holding = self.state
        self._hold_worker(self.state)
        return True

    @work(thread=True, group="hold", exclusive=True, exit_on_error=False)
    def _hold_worker(self: TlganApp, state: EditState) -> None:
        engine, axes, worker = self.engine, self.axes, get_current_worker()
        size = MEASURE_SIZE

        def measure_all(latents: np.ndarray) -> np.ndarray:
            if worker.is_cancelled or self.state is not state:
                raise _Superseded
            with engine.lock:
                images = images_for_scoring(engine.generator, latents, size)
            with engine.extractor_lock:
                extractors = engine.extractors()
                if extractors is None:
                    raise _Superseded
                return extractors.score(images)

        try:
            with engine.extractor_lock:
                extractors = engine.extractors()
            if extractors is None:
                after = state
            else:
                reference = reference_latent(state).astype(np.float32)
                key = reference.tobytes() + str(size).encode()
                scores = self._lock_references.get(key)
                if scores is None:
                    scores = measure_all(reference[None])[0]
                    if len(self._lock_references) >= REFERENCES_KEPT:
                        self._lock_references.pop(next(iter(self._lock_references)))
                    self._lock_references[key] = scores
                after = hold_locks(state, axes, locked_columns(state, axes, extractors.names),
                                   measure_all, scores)
        except _Superseded:
            after = state  # the app ignores it: its state moved on
        except Exception as error:
            self.post_message(WorkerFailed("holding the locks", _describe(error)))
            after = state
        self.post_message(LocksHeld(state, after))

    def on_locks_held(self: TlganApp, message: LocksHeld) -> None:
        if self._lock_holding is message.before:
            self._lock_holding = None
        if message.before is not self.state:
            if self._full_timer is None and self._hold_wanted():
                self._request_full()  # keys stopped while this one ran: hold the new state
            return
        self._lock_settled = message.after
        if message.after is not message.before and not message.after.same_as(message.before):
            self.history.replace_current(message.after)
            self.last_lock_correction = (message.before, message.after)
            self._refresh_view()
            self._save_session()
            self._request_render(full=self.engine.preview_size() is None
                                 or self._full_quality())
        elif self.engine.preview_size() is not None:
            self._request_full()
