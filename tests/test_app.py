"""The editor driven with Textual's Pilot: keys, files written, the worker."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
from app_fixtures import (
    FailingGenerator,
    SlowGenerator,
    WSpaceGenerator,
    async_test,
    make_app,
    parse_edit_args,
    settle,
)
from link_fixtures import kitty_png
from PIL import Image
from textual import events

from tlgan_tui.app.screens.help import HelpScreen
from tlgan_tui.engine.editing import feature_coordinates
from tlgan_tui.engine.export import read_snapshot
from tlgan_tui.engine.session import load_session

SIZE = (100, 30)


@async_test
async def test_first_frame_values_and_status(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.last_frame is not None
        state, frame = app.last_frame
        assert frame.shape == (64, 64, 3) and state.same_as(app.state)
        rows = app.feature_list.rows
        assert [r.name for r in rows] == ["Male", "Age", "Direction 1", "Direction 2"]
        mean = frame.mean() / 255.0
        assert rows[0].value == f"{mean:.2f}"
        assert rows[1].value == f"{20 + 40 * mean:.1f} years"
        assert rows[2].value == ""  # an unsupervised direction has no measured value
        status = app.status_line.status
        assert (status.seed, status.step, status.protocol, status.device) == (
            5, 0.4, "halfcell", "cpu")
        assert status.frame_ms is not None and status.frame_ms > 0
        # The face is drawn at the widget's size, square on screen (10x20 px cells).
        image = app.face_view.image_widget
        target = app.face_view._shown_target
        assert image.image.size == target.canvas_size
        assert target.cols == 2 * target.rows or abs(target.cols - 2 * target.rows) <= 1


@async_test
async def test_move_select_step_and_reset_keys(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("l", "right", "plus")
        assert app.state.offsets[0] == pytest.approx(1.2)
        await pilot.press("h", "minus", "left")
        assert app.state.offsets[0] == pytest.approx(0.0)
        await pilot.press("j", "down", "k")
        assert app.selected == 1
        await pilot.press("shift+right")
        assert app.state.offsets[1] == pytest.approx(2.0)
        await pilot.press("shift+left", "shift+left")
        assert app.state.offsets[1] == pytest.approx(-2.0)
        await pilot.press("right_square_bracket")
        assert app.step == pytest.approx(0.8)
        await pilot.press("left_square_bracket", "left_square_bracket")
        assert app.step == pytest.approx(0.2)
        await pilot.press("l")
        assert app.state.offsets[1] == pytest.approx(-1.8)
        await pilot.press("0")
        assert app.state.offsets[1] == 0.0
        await pilot.press("up", "l", "R")
        assert app.state.offsets == (0.0,) * 4
        assert app.state.latent(app.axes.directions, app.axes.sigmas) == pytest.approx(
            app.state.start)
        await settle(pilot)
        assert app.last_frame is not None and app.last_frame[0].same_as(app.state)
        # Selection wraps around.
        await pilot.press("k")
        assert app.selected == 3


@async_test
async def test_locked_feature_never_moves(tmp_path: Path) -> None:
    # No extractors: no measured-lock corrections between keys (tests/test_app_locks.py).
    app = make_app(tmp_path, extractors=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("l", "space")
        assert app.state.locked == (0,)
        before = app.state.offsets[0]
        coordinate = feature_coordinates(app.engine.latent(app.state), app.axes.directions)[0]
        await pilot.press("l", "h", "shift+right", "0")
        assert app.state.offsets[0] == before
        assert any("Male is locked — space to unlock" in m for m in app.messages)
        await pilot.press("j", "l", "l", "j", "shift+left", "R")
        latent = app.engine.latent(app.state)
        assert feature_coordinates(latent, app.axes.directions)[0] == pytest.approx(
            coordinate, abs=1e-4)
        assert app.state.offsets[0] == before  # R resets the unlocked features only
        await pilot.press("k", "k", "space", "l")
        assert app.state.locked == () and app.state.offsets[0] == pytest.approx(before + 0.4)


@async_test
async def test_toggling_a_lock_keeps_the_face(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("l", "l", "j", "h")
        before = app.engine.latent(app.state)
        await pilot.press("space")
        assert app.engine.latent(app.state) == pytest.approx(before, abs=1e-5)


@async_test
async def test_every_change_is_undoable(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        first = app.state
        # move, lock, move, new face, move x5, reset all, move, reset one
        await pilot.press("l", "j", "space", "j", "l", "r", "shift+right", "R", "l", "0")
        assert app.state.seed != first.seed
        steps = len(app.history) - 1
        assert steps == 8
        last = app.state
        for _ in range(steps):
            await pilot.press("u")
        assert app.state.same_as(first)
        await pilot.press("u")
        assert any("nothing to undo" in m for m in app.messages)
        for _ in range(steps):
            await pilot.press("ctrl+r")
        assert app.state.same_as(last)
        await settle(pilot)
        assert app.last_frame is not None and app.last_frame[0].same_as(last)


@async_test
async def test_random_face(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("l", "r")
        state = app.state
        assert state.seed != 5 and state.offsets == (0.0,) * 4
        assert state.start == pytest.approx(app.engine.generator.latent_for_seed(state.seed))
        await settle(pilot)
        assert app.status_line.status.seed == state.seed


@async_test
async def test_snapshot_png_reopens_with_from(tmp_path: Path) -> None:
    # No extractors: a measured-lock correction after the snapshots would replace
    # the state they recorded (tests/test_app_locks.py covers the corrections).
    app = make_app(tmp_path, extractors=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("l", "l", "j", "space", "j", "h", "s", "s")
        await settle(pilot)
        state = app.state
        assert len(app.exports) == 2 and app.exports[0] != app.exports[1]
        for path in app.exports:
            assert path.parent == tmp_path / "out" and path.name.startswith("face-seed0005-")
        assert any("saved" in m and str(app.exports[0]) in m for m in app.messages)
        snapshot = read_snapshot(app.exports[0])
        assert snapshot.edit_state(4).same_as(state)
        assert snapshot.generator["sha256"] == app.engine.generator.info.sha256
        image = Image.open(app.exports[0])
        assert image.size == (64, 64)  # the generator's full resolution
        expected = app.engine.generator.render(app.engine.latent(state))
        assert np.array_equal(np.asarray(image.convert("RGB")), np.asarray(expected))
    # `tlgan render --from` reproduces the snapshot pixel for pixel.
    from tlgan_tui.cli import main

    again = tmp_path / "again.png"
    assert main(["render", "--from", str(app.exports[0]), "--axes",
                 str(tmp_path / "axes.safetensors"), "-o", str(again)]) == 0
    assert np.array_equal(np.asarray(Image.open(again).convert("RGB")), np.asarray(expected))
    reopened = make_app(tmp_path, "--from", str(app.exports[0]), extractors=False)
    async with reopened.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert reopened.state.same_as(state)
        assert reopened.last_frame is not None
        assert np.array_equal(reopened.last_frame[1], np.asarray(expected))


@async_test
async def test_gif_of_the_history(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("l", "l", "l", "j", "h", "g")
        await settle(pilot)
        [gif] = app.exports
        assert gif.suffix == ".gif"
        with Image.open(gif) as image:
            assert image.n_frames == len(app.history) == 5
            assert image.size == (256, 256)


@async_test
async def test_rapid_keys_coalesce(tmp_path: Path) -> None:
    app = make_app(tmp_path, wrap_generator=SlowGenerator)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        rendered, requested = app.engine.frames_rendered, app._generation
        # A burst of key events, as a held-down key sends them (faster than the
        # 80 ms each frame takes).
        for _ in range(12):
            app.post_message(events.Key("l", "l"))
        await settle(pilot)
        assert app.state.offsets[0] == pytest.approx(12 * 0.4)
        new_frames = app.engine.frames_rendered - rendered
        assert 1 <= new_frames <= 4, new_frames
        assert app._generation - requested == 12  # every key asked for a frame...
        # ...stale requests were dropped (cancelled or skipped by the generation
        # counter) and only the newest state ends up on screen.
        assert app.last_frame is not None and app.last_frame[0].same_as(app.state)
        assert app._shown_generation == app._generation


@async_test
async def test_keys_never_wait_for_the_generator(tmp_path: Path) -> None:
    app = make_app(tmp_path, wrap_generator=SlowGenerator)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.engine.generator.delay = 0.5
        await pilot.press("l")  # starts a slow frame
        await pilot.press("j", "l", "space", "u")  # handled while it renders
        assert app.state.offsets[:2] == (0.4, 0.4) and app.state.locked == ()
        assert app.engine.frames_rendered <= 2


@async_test
async def test_worker_failure_is_shown_and_the_app_lives_on(tmp_path: Path) -> None:
    app = make_app(tmp_path, wrap_generator=FailingGenerator)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.errors and "CUDA out of memory" in app.errors[0]
        assert "render failed" in app.status_line.status.message
        await pilot.press("l", "s")
        await settle(pilot)
        assert app.state.offsets[0] == pytest.approx(0.4)
        assert any("snapshot failed" in e for e in app.errors)
        assert app.is_running


@async_test
async def test_failing_accelerator_falls_back_to_cpu(tmp_path: Path) -> None:
    def on_cuda(inner: object) -> FailingGenerator:
        return FailingGenerator(inner, device="cuda")

    app = make_app(tmp_path, wrap_generator=on_cuda)
    real = app.engine.generator.inner
    app.engine.cpu_fallback = lambda: real
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.engine.generator is real
        assert app.last_frame is not None
        assert app.status_line.status.device == "cpu"
        assert any("now running on cpu" in m for m in app.messages)
        assert not app.errors


@async_test
async def test_psi_keys(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("p")
        assert any("this generator has no truncation" in m for m in app.messages)
    app = make_app(tmp_path, wrap_generator=WSpaceGenerator)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("l", "P")
        await settle(pilot)
        assert app.state.psi == pytest.approx(0.8) and app.state.offsets[0] == 0.4
        generator = app.engine.generator
        assert generator.psi == pytest.approx(0.8)
        assert app.state.start == pytest.approx(generator.latent_for_seed(5))
        assert app.status_line.status.psi == pytest.approx(0.8)
        # A new face is drawn on the device; keys pressed meanwhile apply after it.
        await pilot.press("r", "l")
        await settle(pilot)
        assert app.state.seed != 5 and app.state.offsets[0] == pytest.approx(0.4)
        await pilot.press("u", "u")
        assert app.state.seed == 5 and app.state.psi == pytest.approx(0.8)


@async_test
async def test_help_screen(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


@async_test
async def test_resize_redraws_at_the_new_size(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        small = app.face_view._shown_target
        await pilot.resize_terminal(160, 50)
        await settle(pilot)
        large = app.face_view._shown_target
        assert large.rows > small.rows and large.cols > small.cols
        assert app.face_view.image_widget.image.size == large.canvas_size


@async_test
async def test_session_is_saved_after_every_change_and_quit(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("l", "j", "right_square_bracket")
        assert app.writer.flush()
        session = load_session(tmp_path / "session.json")
        assert session.history.current.same_as(app.state)
        assert (session.step, session.selected) == (0.8, 1)
        await pilot.press("q")
    assert not app.is_running


@async_test
async def test_corrupt_session_is_kept_aside(tmp_path: Path) -> None:
    path = tmp_path / "session.json"
    path.write_text('{"format": "tlgan-session", "version": 1, "latents": [')
    app = make_app(tmp_path, "--resume")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert any("could not resume" in m and "starting fresh" in m for m in app.messages)
        kept = [p for p in tmp_path.iterdir() if p.name.startswith("session.json.corrupt-")]
        assert len(kept) == 1 and kept[0].read_text().startswith('{"format"')
        assert app.last_frame is not None


@async_test
async def test_resume_restores_the_session(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("l", "j", "space", "j", "h", "u", "right_square_bracket", "q")
    again = make_app(tmp_path, "--resume")
    assert again.history.index == app.history.index
    assert all(a.same_as(b) for a, b in
               zip(again.history.states, app.history.states, strict=True))
    assert (again.step, again.selected) == (app.step, app.selected)


def test_fresh_start_keeps_the_previous_session(tmp_path: Path) -> None:
    (tmp_path / "session.json").write_text("old")
    make_app(tmp_path)
    assert (tmp_path / "session.json.previous").read_text() == "old"


def test_resume_with_another_generator_is_refused(tmp_path: Path) -> None:
    from tlgan_tui.engine.errors import TlganError

    app = make_app(tmp_path)
    app._save_session()
    app.writer.close()
    text = (tmp_path / "session.json").read_text()
    sha = app.engine.generator.info.sha256
    (tmp_path / "session.json").write_text(text.replace(sha, "0" * 64))
    with pytest.raises(TlganError, match="made with generator"):
        make_app(tmp_path, "--resume")


def test_cli_runs_the_editor_on_a_real_generator_and_extractor(tmp_path: Path) -> None:
    """`tlgan edit --help` works and the real extractors score inside the worker."""
    import asyncio

    from tlgan_tui.app.app import TlganApp
    from tlgan_tui.app.renderers import resolve_renderer
    from tlgan_tui.cli.edit import build_config

    config = build_config(parse_edit_args(tmp_path), resolve_renderer("unicode"))
    app = TlganApp(config)

    async def run() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, rounds=5)

    asyncio.run(run())
    assert set(app._values) >= {"Male", "Age"}
    assert app.feature_list.rows[0].value not in ("", "…")


def test_kitty_frames_send_the_worker_encoded_png(tmp_path: Path,
                                                  capfd: pytest.CaptureFixture[str]) -> None:
    """The kitty path: one image id, a PNG made in the worker at the face's own size."""
    from tlgan_tui.app.renderers import resolve_renderer

    app = make_app(tmp_path, renderer=resolve_renderer("kitty"))
    sent: list[str] = []

    async def run() -> None:
        async with app.run_test(size=SIZE) as pilot:
            write = app._driver.write
            app._driver.write = lambda text: (sent.append(text), write(text))[1]
            await settle(pilot)
            await pilot.press("l")
            await settle(pilot)

    asyncio.run(run())
    frames = [t for t in sent if t.startswith("\x1b_Ga=T")]
    widget = app.face_view.image_widget
    assert len(frames) >= 2
    assert all(f"i={widget.image_id}," in f and "U=1" in f for f in frames)
    image = kitty_png(frames[-1])
    assert image.size == (64, 64)  # the generator's pixels, not the cell area's
    assert widget.last_frame.cells == (app.face_view._shown_target.cols,
                                       app.face_view._shown_target.rows)


@async_test
async def test_a_session_that_cannot_be_saved_is_reported(tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the session directory should be")
    app = make_app(tmp_path, "--session", str(blocked / "session.json"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.writer.flush()
        await pilot.press("l")
        assert any("cannot save the session" in e for e in app.errors)
        await pilot.press("l")
        assert app.state.offsets[0] == pytest.approx(0.8)  # editing goes on


@async_test
async def test_sixel_frames_use_the_worker_encoded_sixels(tmp_path: Path) -> None:
    from tlgan_tui.app.renderers import _PreencodedSixels, resolve_renderer

    app = make_app(tmp_path, renderer=resolve_renderer("sixel"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("l")
        await settle(pilot)
        widget = app.face_view.image_widget
        [painter] = list(widget.query(_PreencodedSixels))
        assert painter.payload is not None and painter.payload[0] == widget.image.size
        assert painter._cached_sixels is not None
        assert painter._cached_sixels.sixel_data == painter.payload[1]  # not re-encoded
        assert painter.payload[1].startswith("\x1bP")  # a sixel DCS sequence
        assert all(r.encode_ms > 0 for r in app.frame_log)


def test_quick_halfcell_draws_what_textual_image_draws() -> None:
    import io

    from rich.console import Console
    from textual_image.renderable.halfcell import Image as HalfcellRenderable

    from tlgan_tui.app.renderers import QuickHalfcell

    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (62, 60, 3),
                                                              dtype=np.uint8))
    console = Console(file=io.StringIO(), width=200, color_system="truecolor",
                      force_terminal=True)
    options = console.options.update_dimensions(60, 31)
    ours = console.render_lines(QuickHalfcell(image, 60, 31), options, pad=True)
    theirs = console.render_lines(HalfcellRenderable(image, 60, 31), options, pad=True)
    assert ours == theirs


@async_test
async def test_features_are_listed_in_tlgan_order_with_its_labels(tmp_path: Path) -> None:
    from tlgan_tui.engine.axes import FeatureAxes

    names = ["Direction 1", "Receding_Hairline", "Age", "Male"]
    directions = np.random.default_rng(1).standard_normal((4, 100))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    FeatureAxes(names, ["direction", "probability", "continuous", "probability"], directions,
                np.ones(4)).save(tmp_path / "axes.safetensors")
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert [r.name for r in app.feature_list.rows] == [
            "Male", "Age", "Hairline", "Direction 1"]
        await pilot.press("l")  # the first row is Male, axis 3 in the file
        assert app.state.offsets[3] == pytest.approx(0.4)
