"""Building the editor app for tests: small axes, a fast fake extractor, wrappers
that make the generator slow or failing. Used by tests/test_app*.py."""

from __future__ import annotations

import argparse
import asyncio
import functools
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import numpy as np
import torch
from textual.pilot import Pilot

from tlgan_tui.engine.axes import FeatureAxes
from tlgan_tui.engine.extractors.base import Extractor, ExtractorSet, Feature
from tlgan_tui.engine.generators.base import CancelCheck

FEATURES = ["Male", "Age", "Direction 1", "Direction 2"]
KINDS = ["probability", "continuous", "direction", "direction"]


def async_test(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test with asyncio.run (no pytest plugin needed)."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


def write_axes(path: Path, dim: int = 100, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    directions = rng.standard_normal((len(FEATURES), dim))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    FeatureAxes(list(FEATURES), list(KINDS), directions, np.ones(len(FEATURES)),
                info={"method": "random (test)"}).save(path)
    return path


class FakeExtractor(Extractor):
    """Deterministic, instant scores from the mean pixel value."""

    ident = "fake"
    features = (Feature("Male", "probability"), Feature("Age", "continuous", "years"))

    def score(self, images: np.ndarray) -> np.ndarray:
        mean = images.reshape(len(images), -1).mean(axis=1) / 255.0
        return np.stack([mean, 20.0 + 40.0 * mean], axis=1)


def fake_extractors() -> ExtractorSet:
    return ExtractorSet([FakeExtractor()])


def parse_edit_args(tmp_path: Path, *extra: str) -> argparse.Namespace:
    from tlgan_tui.cli import build_parser

    axes = tmp_path / "axes.safetensors"
    if not axes.exists():
        write_axes(axes)
    base = ["edit", "--device", "cpu", "--axes", str(axes), "--session",
            str(tmp_path / "session.json"), "--out-dir", str(tmp_path / "out"),
            "--renderer", "halfcell"]
    if "--seed" not in extra and "--resume" not in extra and "--from" not in extra:
        base += ["--seed", "5"]
    if "--pca" not in extra:
        base += ["--pca", "0"]  # the GANSpace section has tests of its own
    return build_parser().parse_args([*base, *extra])


def make_app(tmp_path: Path, *extra: str, extractors: bool = True,
             wrap_generator: Any = None, **overrides: Any) -> Any:
    """The app as `tlgan edit` builds it, with test-friendly replacements."""
    from tlgan_tui.app.app import TlganApp
    from tlgan_tui.app.renderers import resolve_renderer
    from tlgan_tui.cli.edit import build_config

    config = build_config(parse_edit_args(tmp_path, *extra), resolve_renderer("halfcell"))
    config.extractor_factory = fake_extractors if extractors else None
    config.random_seed = 0
    if wrap_generator is not None:
        config.generator = wrap_generator(config.generator)
    for name, value in overrides.items():
        setattr(config, name, value)
    return TlganApp(config)


async def settle(pilot: Pilot, rounds: int = 3) -> None:
    """Wait until workers are done and their messages are handled."""
    app = pilot.app
    for _ in range(rounds):
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()


class GeneratorProxy:
    """Delegates to a real generator; subclasses change one behaviour."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def synthesize(self, latents: np.ndarray, batch_size: int = 64,
                   size: int | None = None, cancel: CancelCheck | None = None) -> np.ndarray:
        self.calls += 1
        return self.inner.synthesize(latents, batch_size, size, cancel)


class SlowGenerator(GeneratorProxy):
    delay = 0.08

    def synthesize(self, latents: np.ndarray, batch_size: int = 64,
                   size: int | None = None, cancel: CancelCheck | None = None) -> np.ndarray:
        time.sleep(self.delay)
        return super().synthesize(latents, batch_size, size, cancel)


class FailingGenerator(GeneratorProxy):
    """Fails like a GPU out of memory (on whatever device it claims)."""

    def __init__(self, inner: Any, device: str = "cpu") -> None:
        super().__init__(inner)
        self.device = torch.device(device)

    def synthesize(self, latents: np.ndarray, batch_size: int = 64,
                   size: int | None = None, cancel: CancelCheck | None = None) -> np.ndarray:
        self.calls += 1
        raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")


class WSpaceGenerator(GeneratorProxy):
    """Pretends to edit in w with truncation psi: the start latent depends on psi."""

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self.psi: float | None = 0.7
        self.info = inner.info.__class__(**{**inner.info.__dict__, "latent_space": "w"})

    def set_psi(self, psi: float) -> None:
        self.psi = psi

    def latent_for_seed(self, seed: int) -> np.ndarray:
        time.sleep(0.05)  # a mapping network on the device
        assert self.psi is not None
        return (self.inner.latent_for_seed(seed) * self.psi).astype(np.float32)
