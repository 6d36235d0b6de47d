"""Frames over a slow link: bytes per frame, images at their own size, no backlog."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from app_fixtures import async_test, make_app, parse_edit_args, settle
from link_fixtures import kitty_png
from PIL import Image
from textual import events

from tlgan_tui.app.pacing import FramePacer, check_max_fps, full_quality_fits
from tlgan_tui.app.renderers.sizing import PREVIEW_WIRE_SIDE
from tlgan_tui.app.renderers.wire import kitty_image, prepare
from tlgan_tui.app.widgets.face_view import FitTarget

SIZE = (120, 36)  # the terminal of the issue: 10 x 20 px cells
TARGET = FitTarget(cols=68, rows=34, pixels_per_cell=(10, 20), cell_size=(10, 20))


def recording(app: Any) -> list[str]:
    """Everything the app writes to its (headless) terminal from now on."""
    sent: list[str] = []
    write = app._driver.write

    def record(text: str) -> None:
        sent.append(text)
        write(text)

    app._driver.write = record
    return sent


def face(side: int) -> Image.Image:
    """A smooth test face-like picture (photos compress like this, noise does not)."""
    y, x = np.mgrid[0:side, 0:side] / side
    rgb = np.stack([180 + 60 * np.sin(6 * x), 120 + 80 * y, 90 + 50 * np.cos(5 * x * y)], -1)
    return Image.fromarray(rgb.astype(np.uint8))


def test_kitty_sends_a_small_face_at_its_own_size_and_a_large_one_at_the_screens() -> None:
    assert kitty_image(face(64), TARGET, preview=False).size == (64, 64)
    assert kitty_image(face(1024), TARGET, preview=False).size == (680, 680)
    assert max(kitty_image(face(1024), TARGET, preview=True).size) == PREVIEW_WIRE_SIDE


def test_preview_frames_are_cheaper_on_the_wire() -> None:
    import io

    from rich.console import Console

    console = Console(file=io.StringIO(), color_system="truecolor", force_terminal=True)

    def nbytes(renderer: str, preview: bool) -> int:
        _, prepared = prepare(renderer, face(1024), TARGET, preview=preview, console=console,
                              kitty_id=7)
        if renderer == "kitty":
            return len(prepared.command)  # type: ignore[union-attr]
        if renderer == "sixel":
            return len(prepared)  # type: ignore[arg-type]
        return sum(len(s.render(console).encode()) for s in prepared)  # type: ignore[union-attr]

    assert nbytes("kitty", True) <= 64 * 1024 < nbytes("kitty", False)
    assert nbytes("sixel", True) <= 160 * 1024
    assert nbytes("sixel", True) < nbytes("sixel", False)
    assert nbytes("halfcell", True) < 0.6 * nbytes("halfcell", False)


@async_test
async def test_a_dcgan_frame_over_kitty_is_at_most_16_kib(tmp_path: Path) -> None:
    from tlgan_tui.app.renderers import resolve_renderer

    app = make_app(tmp_path, renderer=resolve_renderer("kitty"))
    async with app.run_test(size=SIZE) as pilot:
        sent = recording(app)
        await settle(pilot)
        await pilot.press("l")
        await settle(pilot)
    frames = [t for t in sent if t.startswith("\x1b_Ga=T")]
    assert frames and kitty_png(frames[-1]).size == (64, 64)
    assert all(len(f) <= 16 * 1024 for f in frames)
    assert 0 < app.frame_log[-1].nbytes <= 16 * 1024
    # The placeholders were painted once: a new frame writes little else.
    assert app.frame_log[-1].nbytes < len(frames[-1]) + 2048
    assert "KiB" in str(app.status_line.render())


@async_test
async def test_no_frame_is_written_before_the_terminal_answered_the_last(tmp_path: Path) -> None:
    app = make_app(tmp_path, pace=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.post_message(events.CursorPosition(0, 0))  # the first frame arrived
        await settle(pilot)
        sent = recording(app)
        await pilot.press("l")
        await settle(pilot)
        assert sent.count("\x1b[6n") == 1  # one frame out, then waiting for the answer
        shown = app.frame_log[-1]
        await pilot.press("l", "l", "l")
        await settle(pilot)
        assert sent.count("\x1b[6n") == 1 and app.frame_log[-1] == shown  # held back
        assert app._held is not None and app.frames_dropped >= 1
        app.post_message(events.CursorPosition(0, 0))
        await settle(pilot)
        assert sent.count("\x1b[6n") == 2  # only the newest of the held frames
        state, _ = app.last_frame
        assert state.same_as(app.state)
        assert app.pacer.deliveries[-1].seconds is not None


@async_test
async def test_a_terminal_that_never_answers_does_not_freeze_the_face(tmp_path: Path) -> None:
    app = make_app(tmp_path, pace=True)
    async with app.run_test(size=SIZE) as pilot:
        app.pacer.ack_timeout = 0.2
        await settle(pilot)
        await pilot.press("l")
        await settle(pilot)
        await pilot.pause(0.4)
        await settle(pilot)
        state, _ = app.last_frame
        assert state.same_as(app.state)


@async_test
async def test_quality_preview_keeps_the_cheaper_frame(tmp_path: Path) -> None:
    full = make_app(tmp_path / "a")
    cheap = make_app(tmp_path / "b", quality="preview")
    sizes = []
    for app in (full, cheap):
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("l")
            await settle(pilot)
            # Headless Textual writes no screen updates: measure the face's lines.
            strips = app.face_view.image_widget._strip_cache[1]
            sizes.append(sum(len(s.render(app.console).encode()) for s in strips))
    assert cheap.frame_log[-1].preview and not full.frame_log[-1].preview
    assert sizes[1] < 0.7 * sizes[0]


def test_max_fps_and_quality_options_are_validated(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    args = parse_edit_args(tmp_path)
    assert (args.max_fps, args.quality) == (30.0, "auto")
    args = parse_edit_args(tmp_path, "--max-fps", "12.5", "--quality", "preview")
    assert (args.max_fps, args.quality) == (12.5, "preview")
    for bad in (["--max-fps", "0"], ["--max-fps", "fast"], ["--quality", "best"]):
        with pytest.raises(SystemExit):
            parse_edit_args(tmp_path, *bad)
    assert "--max-fps" in capsys.readouterr().err
    with pytest.raises(argparse.ArgumentTypeError):
        check_max_fps("-3")


def test_the_pacer_learns_the_link_and_auto_quality_follows_it() -> None:
    pacer = FramePacer(max_fps=10)
    pacer.written(0.0, 100, preview=True)
    assert pacer.busy(0.05) and not pacer.can_write(0.05)
    pacer.answered(0.04)  # a tiny frame: the round trip
    assert not pacer.busy(0.05) and pacer.wait_before_next(0.05) == pytest.approx(0.05)
    pacer.written(1.0, 125_000, preview=True)
    pacer.answered(1.14)  # 125 kB in 0.1 s after the round trip: 1.25 MB/s, 10 Mbit/s
    assert pacer.bytes_per_second == pytest.approx(1.25e6)
    assert full_quality_fits(pacer, 300_000)
    assert not full_quality_fits(pacer, 1_000_000)
    assert full_quality_fits(FramePacer(), 1_000_000)  # nothing measured yet
    pacer.written(2.0, 10, preview=False)
    assert not pacer.busy(4.5) and pacer.deliveries[-1].seconds is None  # timed out


@async_test
async def test_auto_quality_keeps_a_full_frame_off_a_link_too_slow_for_it(tmp_path: Path) -> None:
    from tlgan_tui.app.renderers.kitty import KittyFrame
    from tlgan_tui.app.worker import FrameReady, FrameTimings

    for quality, shown in (("auto", False), ("full", True)):
        app = make_app(tmp_path / quality, quality=quality)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            app.engine.preview_size = lambda side=None: 32  # as if it had previews
            app.pacer.latency_s, app.pacer.bytes_per_second = 0.04, 250_000  # 2 Mbit/s
            state, frame = app.last_frame
            big = KittyFrame("x" * 1_000_000, (680, 680), (68, 34))  # 4 s on this link
            app.on_frame_ready(FrameReady(app._generation + 1, state, frame, None, None,
                                          FrameTimings(1.0, 1.0, 0.0), big))
            await settle(pilot)
            assert (app._shown_generation == app._generation + 1) is shown
            assert (app.frames_dropped == 1) is not shown
