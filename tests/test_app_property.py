"""Random key sequences never crash the editor and never move a locked feature
(only the measured lock corrects it, between keys)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
from app_fixtures import make_app, settle
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tlgan_tui.engine.editing import feature_coordinates

# Every key of the main screen except q (quit) and g/s (files; tested elsewhere).
KEYS = ["up", "down", "k", "j", "right", "left", "l", "h", "plus", "minus", "shift+right",
        "shift+left", "space", "0", "R", "r", "u", "ctrl+r", "left_square_bracket",
        "right_square_bracket", "p", "P"]
# Keys after which a locked feature may legitimately change: they restore a
# recorded state or draw a new face.
RESTORING = {"u", "ctrl+r", "r"}


KEY_LISTS = st.lists(st.sampled_from(KEYS), min_size=1, max_size=20)
HEALTH = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]


@settings(max_examples=15, deadline=None, suppress_health_check=HEALTH)
@given(keys=KEY_LISTS)
def test_random_keys_never_crash_nor_move_a_locked_feature(tmp_path: Path,
                                                           keys: list[str]) -> None:
    asyncio.run(_drive(tmp_path, keys))


@pytest.mark.slow
@settings(max_examples=80, deadline=None, suppress_health_check=HEALTH)
@given(keys=st.lists(st.sampled_from(KEYS), min_size=1, max_size=60))
def test_many_random_key_sequences(tmp_path: Path, keys: list[str]) -> None:
    asyncio.run(_drive(tmp_path, keys))


async def _drive(tmp_path: Path, keys: list[str]) -> None:
    app = make_app(tmp_path)
    directions, sigmas = app.axes.directions, app.axes.sigmas
    async with app.run_test(size=(90, 26)) as pilot:
        for key in keys:
            before = app.state
            await pilot.press(key)
            after = app.state
            if key in RESTORING:
                continue
            correction = app.last_lock_correction
            if correction is not None and correction[0] is before:
                before = correction[1]  # keys settled first: the measured lock corrected it
            # A lock held before and after the key: its offset and its coordinate
            # along its own axis are unchanged by the key.
            for i in set(before.locked) & set(after.locked):
                assert after.offsets[i] == before.offsets[i], (key, i)
                was = feature_coordinates(before.latent(directions, sigmas), directions)[i]
                now = feature_coordinates(after.latent(directions, sigmas), directions)[i]
                assert np.isclose(now, was, atol=1e-4), (key, i, was, now)
            if key == "space":
                assert np.allclose(after.latent(directions, sigmas),
                                   before.latent(directions, sigmas), atol=1e-5)
        await pilot.pause(0.3)  # past the settle timer: a measured-lock hold starts now
        await settle(pilot)
        assert app.is_running and not app.errors
        # The face on screen is the current one (a lock toggle re-bases the
        # state without a new frame: same latent).
        assert app.last_frame is not None
        assert np.allclose(app.last_frame[0].latent(directions, sigmas),
                           app.state.latent(directions, sigmas), atol=1e-5)
