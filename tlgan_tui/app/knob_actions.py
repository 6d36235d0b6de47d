"""The editor's knob keys: teach (t), rename (n), delete (x), filter (/), and the
suggested descriptions of unlabelled directions. Mixed into `TlganApp`.

Adding, renaming or deleting a knob swaps the app's and the render engine's
axes (under the engine's lock, so no worker sees half of it) and carries
every state of the undo history over (`engine/axes_edits.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
from textual import work
from textual.message import Message
from textual.widgets import Input

from tlgan_tui.app.screens.prompt import Confirm, NamePrompt
from tlgan_tui.app.screens.teach import TeachScreen
from tlgan_tui.engine.axes import FeatureAxes
from tlgan_tui.engine.axes_edits import (
    appended,
    state_with_new_axis,
    state_without_axis,
    with_row,
    without_row,
)
from tlgan_tui.engine.describe import describe_change
from tlgan_tui.engine.directions import GANSPACE
from tlgan_tui.engine.edit_state import EditState
from tlgan_tui.engine.errors import TlganError
from tlgan_tui.engine.features import knob_label, ordered_feature_names
from tlgan_tui.engine.fitting import latent_spread
from tlgan_tui.engine.knobs import TAUGHT, Knob, check_name, knob_meta, load_store, store_path
from tlgan_tui.engine.session import History
from tlgan_tui.engine.teaching import Answers, Teacher

if TYPE_CHECKING:
    from tlgan_tui.app.app import TlganApp

SECTIONS = {TAUGHT: (1, "taught knobs"), "direction": (2, "SeFa directions"),
            GANSPACE: (3, "GANSpace directions")}
NAMED = (0, "named features")
DESCRIBE_FACES = 16
DESCRIBE_STEP = 2.0
SPREAD_SAMPLES = 2000


def section_of(kind: str) -> tuple[int, str]:
    return SECTIONS.get(kind, NAMED)


def sectioned_order(names: list[str], kinds: list[str]) -> list[int]:
    """Rows: named features in TL-GAN's order, then taught knobs, SeFa, GANSpace."""
    position = {name: i for i, name in enumerate(names)}
    tlgan = [position[name] for name in ordered_feature_names(names)]
    return sorted(tlgan, key=lambda i: section_of(kinds[i])[0])


def show_sections(kinds: list[str]) -> bool:
    """Headings appear once the list holds more than the fitted axes file's kinds."""
    return any(kind in (TAUGHT, GANSPACE) for kind in kinds)



def name_checker(taken: Iterable[str]) -> Callable[[str], str | None]:
    """A NamePrompt check: a valid knob name that no other feature uses, or why not."""
    taken_lower = {n.lower() for n in taken}

    def check(name: str) -> str | None:
        try:
            name = check_name(name)
        except TlganError as error:
            return str(error)
        if name.lower() in taken_lower:
            return f"a feature named {name!r} already exists; choose another name"
        return None

    return check

class DescriptionsReady(Message):
    """Re-scoring text per feature name (lower case), from a worker."""

    def __init__(self, notes: dict[str, str]) -> None:
        super().__init__()
        self.notes = notes


class KnobActions:
    """Teach / rename / delete / filter, on top of TlganApp's state."""

    _filter: str = ""
    _notes: dict[str, str]

    # -- set-up (called from TlganApp.__init__ / on_mount) ---------------------------
    def _init_knobs(self: TlganApp) -> None:
        self._notes = {}
        self._filter = ""
        try:
            self.knob_store = load_store(self.engine.generator.info)
        except TlganError as error:  # the CLI refused it already; a test may not have
            self.knob_store = None
            self.config.notices.append((str(error), "error"))

    def _full_order(self: TlganApp) -> list[int]:
        return sectioned_order(list(self.axes.names), list(self.axes.kinds))

    def _row_extras(self: TlganApp, index: int) -> dict[str, str]:
        kind = self.axes.kinds[index]
        section = section_of(kind)[1] if show_sections(list(self.axes.kinds)) else ""
        note = "" if section_of(kind) == NAMED else self._notes.get(
            self.axes.names[index].lower(), "")
        return {"note": note, "section": section}

    # -- swapping the axes --------------------------------------------------------------
    def _swap_axes(self: TlganApp, axes: FeatureAxes,
                   carry: Callable[[EditState], EditState] | None = None,
                   keep: int | None = None, render: bool = True) -> None:
        """Use `axes` from now on; `carry` maps every history state to the new axes."""
        if carry is not None:
            history = self.history
            self.history = History([carry(s) for s in history.states], history.index,
                                   history.limit)
        with self.engine.lock:
            self.engine.axes = axes
        self.axes = self.config.axes = axes
        self.labels = [knob_label(name, axes.names) for name in axes.names]
        self._apply_filter(keep)
        self._after_change(render=render)

    def _apply_filter(self: TlganApp, keep: int | None = None) -> None:
        keep = self.feature if keep is None and self.order else keep
        order = self._full_order()
        text = self._filter.lower()
        if text:
            matching = [i for i in order if text in self.labels[i].lower()]
            order = matching or order
        self.order = order
        self.selected = order.index(keep) if keep in order else min(self.selected,
                                                                     len(order) - 1)

    def _taken_names(self: TlganApp) -> list[str]:
        return [n for n, k in zip(self.axes.names, self.axes.kinds, strict=True) if k != TAUGHT]

    def _save_store(self: TlganApp) -> bool:
        if self.knob_store is None:
            return False
        try:
            self.knob_store.save(store_path(self.engine.generator.info))
        except OSError as error:
            self.notify(f"cannot save your knobs: {error.strerror or error}", severity="error")
            return False
        return True

    # -- teach ----------------------------------------------------------------------------
    def action_teach(self: TlganApp) -> None:
        if self.knob_store is None:
            self.notify("your knobs file cannot be read, so teaching is off", severity="error")
            return

        check = name_checker(self._taken_names())
        self.push_screen(NamePrompt("Teach a knob. Its name (an existing taught knob "
                                    "gets more answers):", check), self._start_teaching)

    def _start_teaching(self: TlganApp, name: str | None) -> None:
        if not name or self.knob_store is None:
            return
        answers = None
        index = self.knob_store.find(name)
        if index is not None:
            knob = self.knob_store.knobs[index]
            name = knob.name
            answers = Answers([np.asarray(x) for x in knob.latents], [int(v) for v in knob.labels])
        self.push_screen(TeachScreen(name, self, answers, seed=self._rng.randrange(2**31)),
                         lambda _: self._describe_worker(self.axes))

    def knob_fitted(self: TlganApp, name: str, teacher: Teacher) -> None:
        """A new fit: the knob joins (or changes in) the list and the user's file."""
        fit = teacher.fit
        assert fit is not None and self.knob_store is not None
        latents, labels = teacher.answers.arrays(teacher.dim)
        sample = self._spread_sample()
        sigma = float(latent_spread(sample, fit.direction[None])[0])
        from tlgan_tui.engine.knob_fitting import knob_from_fit

        knob = knob_from_fit(name, fit, latents, labels, sigma, "answers")
        self.knob_store.add(knob, self._taken_names(), replace_same=True)
        self._save_store()
        existing = [i for i, n in enumerate(self.axes.names) if n.lower() == name.lower()]
        if existing:
            index = existing[0]
            # The face only changes if it is moved along this knob right now.
            self._swap_axes(with_row(self.axes, index, direction=fit.direction, sigma=sigma),
                            render=self.state.offsets[index] != 0 or bool(self.state.locked))
        else:
            self._swap_axes(appended(self.axes, name, TAUGHT, fit.direction, sigma),
                            state_with_new_axis, render=False)

    def knob_answers_changed(self: TlganApp, name: str, teacher: Teacher) -> None:
        """Answers without a (new) fit are kept too: nothing the user gave is lost."""
        assert self.knob_store is not None
        latents, labels = teacher.answers.arrays(teacher.dim)
        index = self.knob_store.find(name)
        if index is not None:
            knob = self.knob_store.knobs[index]
            knob.latents, knob.labels = latents, labels.astype(np.int8)
        else:
            n_yes, n_no = teacher.answers.counts
            self.knob_store.add(Knob(name, np.zeros(teacher.dim), 1.0, latents, labels,
                                     knob_meta("answers", None, n_yes, n_no)),
                                self._taken_names())
        self._save_store()

    def _spread_sample(self: TlganApp) -> np.ndarray:
        sample = getattr(self, "_spread_latents", None)
        if sample is None:
            with self.engine.lock:
                sample = self.engine.generator.sample(SPREAD_SAMPLES, 1)
            self._spread_latents = sample
        return sample

    # -- rename / delete ------------------------------------------------------------------
    def action_rename_knob(self: TlganApp) -> None:
        index = self.feature
        kind = self.axes.kinds[index]
        old = self.axes.names[index]
        if section_of(kind) == NAMED:
            self.notify(f"{old} is measured by an extractor; only taught knobs and "
                        "directions can be renamed", severity="warning", timeout=4)
            return
        if self.knob_store is None:
            self.notify("your knobs file cannot be read", severity="error")
            return

        check = name_checker(n for i, n in enumerate(self.axes.names) if i != index)
        def done(name: str | None) -> None:
            if not name or name == old:
                return
            assert self.knob_store is not None
            if kind == TAUGHT:
                self.knob_store.rename(old, name)
            else:  # a direction becomes a named knob of the user's
                self.knob_store.add(Knob(name, self.axes.directions[index].astype(np.float64),
                                         float(self.axes.sigmas[index]), np.zeros((0, len(
                                             self.axes.directions[index])), np.float32),
                                         np.zeros(0, np.int8),
                                         knob_meta("sefa" if kind == "direction" else "ganspace",
                                                   None, 0, 0, was=old)), self._taken_names())
            self._save_store()
            self._notes[name.lower()] = self._notes.pop(old.lower(), "")
            self._swap_axes(with_row(self.axes, index, name=name, kind=TAUGHT), keep=index)
            self.notify(f"{old} is now the knob {name}", timeout=4)

        self.push_screen(NamePrompt(f"New name for {old}:", check, old), done)

    def action_delete_knob(self: TlganApp) -> None:
        index = self.feature
        name = self.axes.names[index]
        if self.axes.kinds[index] != TAUGHT:
            self.notify(f"only taught knobs can be deleted ({name} is not one)",
                        severity="warning", timeout=4)
            return

        def done(yes: bool | None) -> None:
            if not yes:
                return
            if self.knob_store is not None and self.knob_store.find(name) is not None:
                self.knob_store.delete(name)
                self._save_store()
            old = self.axes
            keep = self.order[self.selected - 1] if self.selected > 0 else None
            keep = None if keep is None else keep - (keep > index)
            self._swap_axes(without_row(old, index),
                            lambda s: state_without_axis(s, index, old), keep=keep)
            self.notify(f"deleted the knob {name}", timeout=4)

        self.push_screen(Confirm(f"Delete the knob {name} and its answers?"), done)

    # -- filter ---------------------------------------------------------------------------
    def action_filter(self: TlganApp) -> None:
        box = self.query_one("#feature-filter", Input)
        box.display = True
        box.can_focus = True
        box.focus()

    def on_input_changed(self: TlganApp, event: Input.Changed) -> None:
        if event.input.id != "feature-filter":
            return
        self._filter = event.value.strip()
        self._apply_filter()
        self._refresh_view()

    def on_input_submitted(self: TlganApp, event: Input.Submitted) -> None:
        if event.input.id != "feature-filter":
            return
        event.input.display = bool(self._filter)
        event.input.can_focus = False
        self.set_focus(None)

    def clear_filter(self: TlganApp) -> None:
        box = self.query_one("#feature-filter", Input)
        box.value = ""
        box.display = False
        box.can_focus = False
        self._filter = ""
        self._apply_filter()
        self._refresh_view()
        self.set_focus(None)

    # -- descriptions ---------------------------------------------------------------------
    @work(thread=True, group="describe", exclusive=True, exit_on_error=False)
    def _describe_worker(self: TlganApp, axes: FeatureAxes) -> None:
        """Move faces +2 sigma along each unnamed axis and say what changed."""
        engine = self.engine
        with engine.extractor_lock:
            extractors = engine.extractors()
        if extractors is None:
            return
        wanted = [i for i, k in enumerate(axes.kinds) if section_of(k) != NAMED]
        if not wanted:
            return
        with engine.lock:
            starts = engine.generator.sample(DESCRIBE_FACES, 7)

        def scores(latents: np.ndarray) -> np.ndarray:
            with engine.lock:
                images = engine.synthesize(latents, self._fell_back)
            with engine.extractor_lock:
                return extractors.score(images)

        try:
            base = scores(starts)
            notes: dict[str, str] = {}
            for i in wanted:
                moved = (starts + DESCRIBE_STEP * float(axes.sigmas[i]) * axes.directions[i]
                         ).astype(np.float32)
                change = np.nanmean(scores(moved) - base, axis=0)
                notes[axes.names[i].lower()] = describe_change(change, base, extractors.features)
        except Exception:  # descriptions are a hint; never disturb editing
            return
        self.post_message(DescriptionsReady(notes))

    def on_descriptions_ready(self: TlganApp, message: DescriptionsReady) -> None:
        self._notes.update(message.notes)
        self.feature_list.update(self._rows(), self.selected)


__all__: list[Any] = ["KnobActions", "sectioned_order"]
