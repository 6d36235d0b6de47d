"""The editor's measured lock: once keys settle, a locked feature measures what it
did when it was locked (the fake extractor's Male is the mean brightness)."""

from __future__ import annotations

from app_fixtures import async_test, fake_extractors, make_app, settle
from textual.pilot import Pilot

from tlgan_tui.engine.session import load_session

SIZE = (100, 30)


def brightness(app, state) -> float:  # type: ignore[no-untyped-def]
    frame = app.engine.generator.synthesize(app.engine.latent(state)[None])
    return float(fake_extractors().score(frame)[0, 0])


async def held(pilot: Pilot, timeout: float = 10.0) -> None:
    """Wait past the settle timer until the hold worker's result is applied."""
    app = pilot.app
    for _ in range(int(timeout / 0.2)):
        await pilot.pause(0.2)
        await settle(pilot)
        if app.state is app._lock_settled:
            return
    raise AssertionError("the locks were never held")


@async_test
async def test_a_locked_feature_keeps_its_measured_value(tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("space")  # lock Male, the first row
        locked_on = brightness(app, app.state)
        await pilot.press("j", "l", "l", "l")  # Age up
        moves = len(app.history)
        await held(pilot)
        state = app.state
        linear = state.set_offset(0, state.base_offsets[0] if state.base_offsets else 0.0)
        linear_drift = abs(brightness(app, linear) - locked_on)
        held_drift = abs(brightness(app, state) - locked_on)
        assert linear_drift > 0.001  # the linear lock lets the brightness move
        assert held_drift < 0.3 * linear_drift
        assert state.offsets[0] != 0.0  # the correction shows on the locked row
        assert len(app.history) == moves  # part of the last move's undo step
        assert app.last_frame is not None and app.last_frame[0].same_as(state)
        await pilot.pause(0.3)
    saved = load_session(tmp_path / "session.json")
    assert saved.history.current.same_as(state)


@async_test
async def test_without_extractors_locks_stay_linear(tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = make_app(tmp_path, extractors=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("space", "j", "shift+right", "shift+right")
        await pilot.pause(0.5)
        await settle(pilot)
        assert app.state.offsets[0] == 0.0
        assert app._lock_settled is None
