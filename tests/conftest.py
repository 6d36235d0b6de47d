"""Shared fixtures: the real default generator and extractors, loaded once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from tlgan_tui.engine.axes import FeatureAxes
from tlgan_tui.engine.extractors.base import ExtractorSet
from tlgan_tui.engine.generators.base import Generator


@pytest.fixture(scope="session", autouse=True)
def small_default_generator() -> Iterator[None]:
    """Tests that need just some generator get the 64-px DCGAN: fast on 2 CPU cores.

    The FFHQ default is tested by name (`--generator ffhq`, tests/test_ffhq_*.py).
    """
    from tlgan_tui.engine import paths

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(paths, "DEFAULT_GENERATOR", "digiface")
        yield


@pytest.fixture(autouse=True)
def cache_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Generator conversions go to a per-test cache, never the user's."""
    from tlgan_tui.engine.generators import cache

    directory = tmp_path / "cache"
    monkeypatch.setenv(cache.CACHE_ENV, str(directory))
    return directory


@pytest.fixture(scope="session")
def generator() -> Generator:
    from tlgan_tui.engine.generators.loading import load_generator

    return load_generator(None, torch.device("cpu"))


@pytest.fixture(scope="session")
def extractors() -> ExtractorSet:
    from tlgan_tui.engine.extractors.defaults import load_extractors

    return load_extractors()


@pytest.fixture(scope="session")
def shipped_axes() -> FeatureAxes:
    from tlgan_tui.engine.paths import default_axes_path

    return FeatureAxes.load(default_axes_path())


@pytest.fixture(scope="session")
def faces(generator: Generator) -> np.ndarray:
    """32 default-generator faces, seeds drawn from 1234."""
    return generator.synthesize(generator.sample(32, 1234))


@pytest.fixture()
def run_cli(capsys: pytest.CaptureFixture[str]):
    """Run `tlgan ARGS...` in-process: (exit code, stdout, stderr)."""
    from tlgan_tui.cli import main

    def run(*args: str | Path) -> tuple[int, str, str]:
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err

    return run
