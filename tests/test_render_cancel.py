"""A key pressed while a frame renders stops that render: the next frame never
waits for a stale one to finish."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from app_fixtures import GeneratorProxy, async_test, make_app, settle

from tlgan_tui.engine.generators.base import CancelCheck, RenderCancelled, check_cancel
from tlgan_tui.engine.generators.loading import load_generator
from tlgan_tui.engine.paths import shipped_generator

SIZE = (100, 30)
SLOW_RENDER_S = 0.6


class CancellableSlowGenerator(GeneratorProxy):
    """A render that takes SLOW_RENDER_S in small steps, asking `cancel` between them
    (like MobileStyleGAN's blocks); records which renders were given up."""

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self.slow = False
        self.cancelled = 0

    def synthesize(self, latents: np.ndarray, batch_size: int = 64,
                   size: int | None = None, cancel: CancelCheck | None = None) -> np.ndarray:
        if self.slow:
            for _ in range(int(SLOW_RENDER_S / 0.01)):
                try:
                    check_cancel(cancel)
                except RenderCancelled:
                    self.cancelled += 1
                    raise
                time.sleep(0.01)
        return super().synthesize(latents, batch_size, size, cancel)


class CountingCancel:
    """Says stop from its `stop_at`-th question on; counts the questions."""

    def __init__(self, stop_at: int | None = None) -> None:
        self.stop_at = stop_at
        self.asked = 0

    def __call__(self) -> bool:
        self.asked += 1
        return self.stop_at is not None and self.asked >= self.stop_at


@async_test
async def test_a_key_stops_the_render_in_progress(tmp_path: Path) -> None:
    app = make_app(tmp_path, wrap_generator=CancellableSlowGenerator)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        generator = app.engine.generator
        generator.slow = True
        await pilot.press("l")  # a slow render starts
        await pilot.pause(0.1)
        pressed = time.monotonic()
        await pilot.press("l")  # while it renders
        while app._shown_generation < app._generation and time.monotonic() - pressed < 5:
            await pilot.pause(0.02)
        waited = time.monotonic() - pressed
        await settle(pilot)
        assert generator.cancelled == 1  # the stale render gave up...
        # ...so the newest frame took one render, not the rest of the stale one too.
        assert waited < SLOW_RENDER_S * 1.6, waited
        assert app.last_frame is not None and app.last_frame[0].same_as(app.state)
        assert app.state.offsets[0] == pytest.approx(0.8)


def test_mobilestylegan_asks_between_blocks_and_stops_at_once() -> None:
    shipped = shipped_generator("ffhq")
    assert shipped is not None
    ffhq = load_generator(shipped.weights_path, torch.device("cpu"))
    latent = ffhq.latent_for_seed(3)[None]
    counting = CountingCancel()
    ffhq.synthesize(latent, size=128, cancel=counting)
    blocks = len(ffhq.synthesis.blocks)  # type: ignore[attr-defined]
    assert counting.asked >= 2 * blocks  # before each block and inside it
    # Stop halfway: the render ends at that question, asking nothing more.
    halfway = CountingCancel(stop_at=counting.asked // 2)
    with pytest.raises(RenderCancelled):
        ffhq.synthesize(latent, size=128, cancel=halfway)
    assert halfway.asked == halfway.stop_at
    # A render nobody stops is unchanged by being asked.
    np.testing.assert_array_equal(ffhq.synthesize(latent, size=128, cancel=CountingCancel()),
                                  ffhq.synthesize(latent, size=128))


def test_other_generators_stop_between_batches() -> None:
    shipped = shipped_generator("digiface")
    assert shipped is not None
    dcgan = load_generator(shipped.weights_path, torch.device("cpu"))
    latents = dcgan.sample(6, seed=1)
    cancel = CountingCancel(stop_at=2)
    with pytest.raises(RenderCancelled):
        dcgan.synthesize(latents, batch_size=2, cancel=cancel)
    assert cancel.asked == 2  # the second of three batches never started


class PreviewingGenerator(GeneratorProxy):
    """The DCGAN with a 32-px "preview" (its image box-shrunk)."""

    preview_sizes = (32, 64)

    def synthesize(self, latents: np.ndarray, batch_size: int = 64,
                   size: int | None = None, cancel: CancelCheck | None = None) -> np.ndarray:
        images = super().synthesize(latents, batch_size, None, cancel)
        if size == 32:
            return images.reshape(len(images), 32, 2, 32, 2, 3).mean(axis=(2, 4)).astype(np.uint8)
        return images


@async_test
async def test_a_stale_full_image_never_reaches_the_screen(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tlgan_tui.app import app as app_module

    encoded_full: list[float] = []

    def slow_full_prepare(*args: Any, preview: bool, **kwargs: Any) -> Any:
        if not preview:  # encoding a full frame is slow (Sixel: ~0.1 s) and not cancellable
            time.sleep(0.4)
            encoded_full.append(time.monotonic())
        return prepare(*args, preview=preview, **kwargs)

    prepare = app_module.prepare
    monkeypatch.setattr(app_module, "prepare", slow_full_prepare)
    app = make_app(tmp_path, wrap_generator=PreviewingGenerator)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("l")
        # Past the idle time: the full image of this state is being encoded...
        await pilot.pause(app_module.FULL_AFTER_IDLE_S + 0.15)
        pressed = time.monotonic()
        await pilot.press("l")  # ...when the next key comes
        await pilot.pause(0.8)
        await settle(pilot)
        assert any(t > pressed for t in encoded_full)  # (the full frame was encoded late)
        stale = [f for f in app.frame_log if not f.preview and f.requested_at < pressed
                 and f.requested_at + f.total_ms / 1000 > pressed]
        assert stale == []  # the first key's full image never went out...
        # ...and the newest state is what stays on screen, in full.
        assert app.last_frame is not None and app.last_frame[0].same_as(app.state)
        assert app.last_frame[1].shape[0] == 64
