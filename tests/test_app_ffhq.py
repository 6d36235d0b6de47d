"""The editor on the FFHQ default: previews while keys arrive, the full image once they stop."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import numpy as np
from textual.pilot import Pilot
from textual.worker import WorkerCancelled

from tests.app_fixtures import GeneratorProxy, async_test, make_app, write_axes
from tlgan_tui.engine.generators.base import CancelCheck

SIZE = (100, 34)


class RecordingGenerator(GeneratorProxy):
    """Keeps every frame the app asked for, with the size it asked for."""

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self.frames: list[tuple[int | None, np.ndarray, np.ndarray]] = []

    def synthesize(self, latents: np.ndarray, batch_size: int = 64,
                   size: int | None = None, cancel: CancelCheck | None = None) -> np.ndarray:
        images = super().synthesize(latents, batch_size, size, cancel)
        self.frames.append((size, np.array(latents), images))
        return images


async def settle(pilot: Pilot, rounds: int = 3) -> None:
    """Wait for the workers; a preview's worker may be cancelled by the full render
    that its own frame started (it has posted the frame by then)."""
    for _ in range(rounds):
        await pilot.pause()
        with contextlib.suppress(WorkerCancelled):
            await pilot.app.workers.wait_for_complete()
        await pilot.pause()


@async_test
async def test_previews_while_keys_arrive_then_the_full_image(tmp_path: Path) -> None:
    write_axes(tmp_path / "axes.safetensors", dim=512)
    app = make_app(tmp_path, "--generator", "ffhq", wrap_generator=RecordingGenerator)
    generator = app.engine.generator
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.pause(0.4)
        await settle(pilot)
        await pilot.press("l", "l", "l")
        await settle(pilot)
        await pilot.pause(0.4)  # past the idle time: the full image follows
        await settle(pilot)
        assert app.last_frame is not None
        state, frame = app.last_frame
        assert state.same_as(app.state)
        assert frame.shape == (1024, 1024, 3)  # the full image is what stays on screen
        previews = [f for f in generator.frames if f[0] is not None]
        # Half-block cells show few pixels: the cheapest preview that covers them.
        side = previews[0][0] if previews else 0
        assert side in (128, 256)
        assert all(f[2].shape == (1, side, side, 3) for f in previews)
        full = [f for f in generator.frames if f[0] is None]
        # Fewer full images than previews: they wait for the keys to stop.
        assert 1 <= len(full) < len(generator.frames)
        # A preview of the face on screen (the last key's own preview may have been
        # skipped for the full image) has its framing and colours.
        preview = generator.inner.synthesize(full[-1][1], size=side)
        factor = 1024 // side
        small = frame.astype(np.float64).reshape(side, factor, side, factor, 3).mean(axis=(1, 3))
        mse = np.mean((preview[0].astype(np.float64) - small) ** 2)
        assert 10 * np.log10(255.0**2 / mse) > 20  # same face, same framing
        assert np.abs(preview[0].mean(axis=(0, 1)) - small.mean(axis=(0, 1))).max() < 8
        assert any(record.preview for record in app.frame_log)
        assert not app.frame_log[-1].preview
