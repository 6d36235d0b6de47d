"""Re-scoring: move along one axis, re-run the extractors, tabulate what changed.

The standard check of what an edit does besides its target (InterFaceGAN,
GANSpace): entry (i, j) is the mean change of measured feature j when the
faces move `step` sigmas along axis i.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tlgan_tui.engine.axes import FeatureAxes
from tlgan_tui.engine.editing import conditioned_directions
from tlgan_tui.engine.extractors.base import ExtractorSet
from tlgan_tui.engine.generators.base import Generator
from tlgan_tui.engine.sampling import score_latents


def moved_latents(starts: np.ndarray, axes: FeatureAxes, axis: int, step: float,
                  locked: Sequence[int] = ()) -> np.ndarray:
    direction = conditioned_directions(axes.directions, list(locked))[axis]
    return (starts + step * float(axes.sigmas[axis]) * direction).astype(np.float32)


def rescoring_table(generator: Generator, extractors: ExtractorSet, axes: FeatureAxes,
                    starts: np.ndarray, step: float = 2.0, axis_indices: Sequence[int] = (),
                    batch_size: int = 128, size: int | None = None) -> np.ndarray:
    """(len(axis_indices), n_features): mean change of each measured feature (NaN-safe)."""
    base = score_latents(generator, extractors, starts, batch_size, size)
    table = np.empty((len(axis_indices), base.shape[1]))
    for row, axis in enumerate(axis_indices):
        moved = score_latents(generator, extractors, moved_latents(starts, axes, axis, step),
                              batch_size, size)
        table[row] = np.nanmean(moved - base, axis=0)
    return table


def effect_of_move(generator: Generator, extractors: ExtractorSet, axes: FeatureAxes,
                   starts: np.ndarray, axis: int, amount: float, locked: Sequence[int] = (),
                   batch_size: int = 128, size: int | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Per-face scores after moving -amount and +amount along `axis` (with locks),
    rendered at the generator's preview `size` when given."""
    minus = score_latents(generator, extractors,
                          moved_latents(starts, axes, axis, -amount, locked), batch_size, size)
    plus = score_latents(generator, extractors,
                         moved_latents(starts, axes, axis, amount, locked), batch_size, size)
    return minus, plus
