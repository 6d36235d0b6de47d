"""An interrupted `tlgan fit` keeps its scored faces and resumes to the same axes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tlgan_tui.engine import sampling
from tlgan_tui.engine.axes import FeatureAxes
from tlgan_tui.engine.errors import TlganError
from tlgan_tui.engine.extractors.base import ExtractorSet
from tlgan_tui.engine.fit_checkpoint import FitCheckpoint, checkpoint_path
from tlgan_tui.engine.generators.base import Generator
from tlgan_tui.engine.sampling import sample_pairs

RUN: dict[str, str | int | None] = {"samples": 24, "seed": 3, "batch_size": 8}


def interrupt_after(calls: int, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Make the (calls+1)-th render raise KeyboardInterrupt, as Ctrl-C would; count renders."""
    rendered: list[int] = []
    real: Callable[..., np.ndarray] = sampling.images_for_scoring

    def render(generator: Generator, latents: np.ndarray, size: int | None = None) -> np.ndarray:
        if len(rendered) == calls:
            raise KeyboardInterrupt
        rendered.append(len(latents))
        return real(generator, latents, size)

    monkeypatch.setattr(sampling, "images_for_scoring", render)
    return rendered


def test_resumed_sampling_equals_one_uninterrupted_run(
        generator: Generator, extractors: ExtractorSet, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    whole = sample_pairs(generator, extractors, 24, 3, batch_size=8)
    checkpoint = FitCheckpoint(tmp_path / "axes.partial.safetensors", RUN)

    rendered = interrupt_after(2, monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        sample_pairs(generator, extractors, 24, 3, batch_size=8, checkpoint=checkpoint)
    assert rendered == [8, 8] and checkpoint.path.is_file()

    monkeypatch.undo()
    rendered = interrupt_after(99, monkeypatch)
    progress: list[int] = []
    resumed = sample_pairs(generator, extractors, 24, 3, batch_size=8,
                           progress=progress.append, checkpoint=checkpoint)
    assert rendered == [8]  # only the batch the first run did not finish
    assert progress == [16, 8]  # the bar starts where the saved run stopped
    np.testing.assert_array_equal(resumed.latents, whole.latents)
    np.testing.assert_array_equal(resumed.scores, whole.scores)


def test_a_checkpoint_of_another_fit_is_refused(
        generator: Generator, extractors: ExtractorSet, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "axes.partial.safetensors"
    interrupt_after(1, monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        sample_pairs(generator, extractors, 24, 3, batch_size=8,
                     checkpoint=FitCheckpoint(path, RUN))
    with pytest.raises(TlganError, match=r"another fit.*seed"):
        sample_pairs(generator, extractors, 24, 4, batch_size=8,
                     checkpoint=FitCheckpoint(path, {**RUN, "seed": 4}))


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all", b"\xff" * 64])
def test_a_damaged_checkpoint_is_one_clear_error(
        generator: Generator, extractors: ExtractorSet, tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "axes.partial.safetensors"
    path.write_bytes(content)
    with pytest.raises(TlganError, match=r"not a readable fit checkpoint.*--restart"):
        sample_pairs(generator, extractors, 24, 3, batch_size=8,
                     checkpoint=FitCheckpoint(path, RUN))


def test_interrupted_fit_command_resumes_to_the_same_axes(
        run_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    common = ["fit", "--samples", "200", "--batch-size", "50", "--sefa", "1",
              "--rescore-faces", "4", "--seed", "2"]
    reference = tmp_path / "reference.safetensors"
    assert run_cli(*common, "-o", reference)[0] == 0

    output = tmp_path / "axes.safetensors"
    interrupt_after(2, monkeypatch)
    code, _, err = run_cli(*common, "-o", output)
    assert code == 130 and "run the same command again to resume" in err
    assert checkpoint_path(output).is_file() and not output.exists()

    monkeypatch.undo()
    rendered = interrupt_after(99, monkeypatch)
    code, _, err = run_cli(*common, "-o", output)
    assert code == 0 and "resuming" in err
    assert rendered[:2] == [50, 50]  # the two missing batches, then only the re-scoring
    assert set(rendered[2:]) == {4}
    assert not checkpoint_path(output).exists()  # done: nothing left behind
    got, want = FeatureAxes.load(output), FeatureAxes.load(reference)
    assert got.names == want.names
    np.testing.assert_array_equal(got.directions, want.directions)
    np.testing.assert_array_equal(got.sigmas, want.sigmas)


def test_restart_ignores_a_saved_run(run_cli, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    output = tmp_path / "axes.safetensors"
    checkpoint_path(output).write_bytes(b"garbage from some other tool")
    common = ["fit", "--samples", "100", "--batch-size", "50", "--sefa", "1",
              "--rescore-faces", "2", "-o", output]
    code, _, err = run_cli(*common)
    assert code == 2 and "--restart" in err and err.count("\n") == 1
    assert checkpoint_path(output).read_bytes() == b"garbage from some other tool"
    assert run_cli(*common, "--restart")[0] == 0 and output.is_file()
