"""Teach mode and the knob keys in the editor, driven with Textual's Pilot."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from app_fixtures import async_test, make_app, settle
from textual.pilot import Pilot

from tlgan_tui.app.screens.prompt import NamePrompt
from tlgan_tui.app.screens.teach import TeachScreen
from tlgan_tui.engine.directions import ganspace_directions
from tlgan_tui.engine.knobs import Knob, KnobFile, knob_meta, load_store, store_path

SIZE = (120, 50)


async def _type(pilot: Pilot, text: str) -> None:
    for char in text:
        await pilot.press("space" if char == " " else char)


def _names(app: object) -> list[str]:
    return [row.name for row in app.feature_list.rows]  # type: ignore[attr-defined]


async def _select(pilot: Pilot, name: str) -> None:
    app = pilot.app
    while _names(app)[app.selected] != name:  # type: ignore[attr-defined]
        await pilot.press("j")


def _store_knob(tmp_path: Path, app_generator_info: object, name: str) -> None:
    rng = np.random.default_rng(1)
    direction = rng.standard_normal(100)
    store = KnobFile.empty(app_generator_info)  # type: ignore[arg-type]
    store.add(Knob(name, direction / np.linalg.norm(direction), 1.0,
                   rng.standard_normal((20, 100)).astype(np.float32),
                   np.array([1, 0] * 10, np.int8), knob_meta("answers", 0.9, 10, 10)))
    store.save(store_path(app_generator_info))  # type: ignore[arg-type]


@async_test
async def test_pilot_teaches_a_hidden_direction_and_it_survives_a_restart(
        tmp_path: Path) -> None:
    app = make_app(tmp_path)
    basis = ganspace_directions(app.engine.generator, 16)
    hidden = np.random.default_rng(5).standard_normal(16) @ basis
    hidden /= np.linalg.norm(hidden)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("t")
        await _type(pilot, "Age")  # taken: one line, the prompt stays
        await pilot.press("enter")
        assert isinstance(app.screen, NamePrompt)
        assert "already exists" in str(app.screen.query_one("#prompt-error").render())
        await pilot.press("backspace", "backspace", "backspace")
        await _type(pilot, "Hat")
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, TeachScreen) and len(screen.cells) == 12  # a 4 x 3 grid
        answered = 0
        while answered < 60:
            if screen.loading:
                await settle(pilot)
            latent = screen.latents[screen.cursor]
            await pilot.press("y" if latent @ hidden > 0 else "n")
            answered += 1
            if answered == 5:  # undo one answer and give it again
                await pilot.press("u")
                assert len(screen.teacher.answers) == 4
                await pilot.press("y" if latent @ hidden > 0 else "n")
        assert len(screen.teacher.answers) == 60
        assert "Hat" in _names(app)  # joined the list while teaching
        index = app.axes.names.index("Hat")
        cosine = float(app.axes.directions[index] @ hidden)
        assert cosine >= 0.8, cosine
        assert max(screen.refit_ms) < 500  # a generous bound: this is a busy 2-core CI box
        await pilot.press("escape")
        await settle(pilot)
        row = app.feature_list.rows[_names(app).index("Hat")]
        assert row.section == "taught knobs"
        await _select(pilot, "Hat")
        await pilot.press("l")
        assert app.state.offsets[index] == pytest.approx(0.4)
        await pilot.press("q")
    # A new editor: the knob and its 60 answers are back.
    again = make_app(tmp_path)
    async with again.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "Hat" in _names(again)
        index = again.axes.names.index("Hat")
        assert float(again.axes.directions[index] @ hidden) == pytest.approx(cosine, abs=1e-5)
        assert load_store(again.engine.generator.info).get("Hat").counts[0] + \
            load_store(again.engine.generator.info).get("Hat").counts[1] == 60


@async_test
async def test_answers_are_kept_before_there_are_enough_to_fit(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("t")
        await _type(pilot, "Tired")
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("y", "n", "s", "y")
        await pilot.press("escape")
        await settle(pilot)
        assert "Tired" not in _names(app)  # no fit yet, so no knob in the list
        knob = load_store(app.engine.generator.info).get("Tired")
        assert knob.counts == (2, 1) and not knob.fitted
        # Teaching it again continues from those answers.
        await pilot.press("t")
        await _type(pilot, "tired")
        await pilot.press("enter")
        await settle(pilot)
        assert len(app.screen.teacher.answers) == 3


@async_test
async def test_rename_and_delete_knobs_and_name_a_direction(tmp_path: Path) -> None:
    first = make_app(tmp_path)
    _store_knob(tmp_path, first.engine.generator.info, "Hat")
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert _names(app) == ["Male", "Age", "Hat", "Direction 1", "Direction 2"]
        assert [r.section for r in app.feature_list.rows][1:4] == [
            "named features", "taught knobs", "SeFa directions"]
        await pilot.press("n")  # Male comes from an extractor
        assert not isinstance(app.screen, NamePrompt) and "only taught knobs" in app.messages[-1]
        await _select(pilot, "Hat")
        await pilot.press("l", "l")
        before = app.state.latent(app.axes.directions, app.axes.sigmas)
        await pilot.press("n", "ctrl+u")
        await _type(pilot, "Cap")
        await pilot.press("enter")
        await settle(pilot)
        assert "Cap" in _names(app) and "Hat" not in _names(app)
        store = load_store(app.engine.generator.info)
        assert store.find("Cap") is not None and store.find("Hat") is None
        await _select(pilot, "Direction 1")
        await pilot.press("n", "ctrl+u")
        await _type(pilot, "Smile")
        await pilot.press("enter")
        await settle(pilot)
        assert app.axes.kinds[app.axes.names.index("Smile")] == "taught"
        assert load_store(app.engine.generator.info).find("Smile") is not None
        await _select(pilot, "Cap")
        await pilot.press("x", "n")  # n keeps it
        assert "Cap" in _names(app)
        await pilot.press("x", "y")
        await settle(pilot)
        assert "Cap" not in _names(app)
        assert load_store(app.engine.generator.info).find("Cap") is None
        # The face does not jump, and undo still walks the carried-over history.
        after = app.state.latent(app.axes.directions, app.axes.sigmas)
        assert after == pytest.approx(before, abs=1e-5)
        await pilot.press("u")
        assert len(app.state.offsets) == len(app.axes.names)
        await pilot.press("q")
    # Next time the renamed direction is a knob, and is not listed twice.
    again = make_app(tmp_path)
    async with again.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert _names(again) == ["Male", "Age", "Smile", "Direction 2"]


@async_test
async def test_filter_and_ganspace_section(tmp_path: Path) -> None:
    app = make_app(tmp_path, "--pca", "3")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        names = _names(app)
        assert names[-3:] == ["PCA 1", "PCA 2", "PCA 3"]
        rows = app.feature_list.rows
        assert rows[-1].section == "GANSpace directions"
        assert all(row.note for row in rows[-3:])  # re-scoring suggests what each does
        assert "Male" in rows[-1].note or "Age" in rows[-1].note
        await pilot.press("slash")
        await _type(pilot, "pca")
        assert _names(app) == ["PCA 1", "PCA 2", "PCA 3"]
        await pilot.press("enter", "j", "l")  # editor keys work again
        assert app.state.offsets[app.axes.names.index("PCA 2")] == pytest.approx(0.4)
        await pilot.press("escape")
        assert _names(app) == names
