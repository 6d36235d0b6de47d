"""`o` in the editor: ask for a photo, project it, show it; u goes back; Escape cancels."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
import textual_image
from app_fixtures import async_test, make_app, settle

PHOTO = Path(textual_image.__file__).parent / "gracehopper.jpg"
pytestmark = pytest.mark.skipif(not PHOTO.is_file(), reason="textual-image's photo is absent")


async def _type_path(pilot, path: Path) -> None:  # type: ignore[no-untyped-def]
    await pilot.press("o")
    await pilot.pause()
    for char in str(path):
        await pilot.press(char)
    await pilot.press("enter")


@async_test
async def test_o_opens_a_photo_and_undo_returns_to_the_previous_face(tmp_path: Path) -> None:
    app = make_app(tmp_path, projection_steps=3)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        before = app.state.start.copy()
        await _type_path(pilot, PHOTO)
        for _ in range(600):  # the worker posts its result; wait for it
            await settle(pilot)
            if app._projection_cancel is None and app.history.can_undo:
                break
            await asyncio.sleep(0.1)
        assert not app.errors, app.errors
        assert not np.array_equal(app.state.start, before)
        assert app.state.seed is None
        assert any("gracehopper.jpg" in m and "PSNR" in m for m in app.messages)
        await pilot.press("u")
        await settle(pilot)
        np.testing.assert_array_equal(app.state.start, before)


@async_test
async def test_escape_cancels_a_projection_and_keeps_the_face(tmp_path: Path) -> None:
    app = make_app(tmp_path, projection_steps=10_000)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        before = app.state.start.copy()
        await _type_path(pilot, PHOTO)
        for _ in range(600):
            await pilot.pause()
            if app._projection_cancel is not None and "step" in app.status_line.status.message:
                break
            await asyncio.sleep(0.05)
        await pilot.press("escape")
        await settle(pilot)
        assert app._projection_cancel is None
        assert "projection cancelled" in app.messages
        np.testing.assert_array_equal(app.state.start, before)


@async_test
async def test_a_path_without_a_face_is_one_error_and_no_change(tmp_path: Path) -> None:
    app = make_app(tmp_path, projection_steps=3)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        before = app.state.start.copy()
        await _type_path(pilot, tmp_path / "missing.jpg")
        await settle(pilot)
        assert any("photo not found" in e for e in app.errors)
        np.testing.assert_array_equal(app.state.start, before)
        assert app._projection_cancel is None
