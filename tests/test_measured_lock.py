"""Measured locks: a locked feature keeps its *measured* value when another knob moves."""

from __future__ import annotations

import numpy as np

from tlgan_tui.engine.axes import FeatureAxes
from tlgan_tui.engine.edit_state import EditState
from tlgan_tui.engine.extractors.base import ExtractorSet
from tlgan_tui.engine.generators.base import Generator
from tlgan_tui.engine.measured_lock import (
    HoldSettings,
    correct,
    hold_locks,
    prior_slopes,
    reference_latent,
)
from tlgan_tui.engine.sampling import score_latents


def test_measured_lock_holds_the_measured_value_much_better_than_the_linear_lock(
        generator: Generator, extractors: ExtractorSet, shipped_axes: FeatureAxes) -> None:
    axes = shipped_axes
    male, age = axes.index("Male"), axes.index("Age")
    column = extractors.index("Male")

    def measure_all(latents: np.ndarray) -> np.ndarray:
        return score_latents(generator, extractors, latents)

    linear_drift, held_drift = [], []
    for seed in range(10):
        start = generator.latent_for_seed(seed)
        reference = measure_all(start[None])[0]
        for amount in (-3.0, 3.0):
            state = EditState.fresh(start, len(axes.names), locked=(male,)).set_offset(
                age, amount)
            held = hold_locks(state, axes, [column], measure_all, reference)
            assert [i for i, (a, b) in enumerate(zip(held.offsets, state.offsets, strict=True))
                    if a != b] in ([], [male])  # only the locked knob's own offset changes
            linear, corrected = measure_all(np.stack([state.latent(axes.directions, axes.sigmas),
                                                      held.latent(axes.directions, axes.sigmas)]))
            if np.isfinite(reference[column]) and np.isfinite(linear[column]):
                linear_drift.append(abs(linear[column] - reference[column]))
                held_drift.append(abs(corrected[column] - reference[column]))
    assert len(linear_drift) >= 10
    assert np.mean(held_drift) < 0.3 * np.mean(linear_drift)


def test_a_held_state_saves_and_renders_the_same_latent(generator: Generator,
                                                        extractors: ExtractorSet,
                                                        shipped_axes: FeatureAxes) -> None:
    axes = shipped_axes
    male, age = axes.index("Male"), axes.index("Age")
    start = generator.latent_for_seed(3)

    def measure_all(latents: np.ndarray) -> np.ndarray:
        return score_latents(generator, extractors, latents)

    state = EditState.fresh(start, len(axes.names), locked=(male,)).set_offset(age, 3.0)
    held = hold_locks(state, axes, [extractors.index("Male")], measure_all,
                      measure_all(reference_latent(state)[None])[0])
    again = EditState.from_dict(held.to_dict(), axes.latent_dim, len(axes.names))
    assert again.latent(axes.directions, axes.sigmas).tobytes() == held.latent(
        axes.directions, axes.sigmas).tobytes()


def test_faces_the_extractors_cannot_score_keep_the_linear_lock(
        shipped_axes: FeatureAxes) -> None:
    axes = shipped_axes
    male, age = axes.index("Male"), axes.index("Age")
    state = EditState.fresh(np.zeros(axes.latent_dim, np.float32), len(axes.names),
                            locked=(male,)).set_offset(age, 2.0)
    calls = []

    def unscored(latents: np.ndarray) -> np.ndarray:
        calls.append(len(latents))
        return np.full((len(latents), 3), np.nan)

    assert hold_locks(state, axes, [0], unscored, np.array([0.5, 30.0, 0.1])) is state
    assert calls == [1]  # measured once, nothing tried


def test_correction_converges_on_a_curved_feature_with_a_wrong_mean_slope() -> None:
    """A sigmoid feature whose steepness differs per face: the mean slope overshoots
    some faces and undershoots others; the secant steps still reach the targets."""
    rng = np.random.default_rng(0)
    n = 64
    gain = rng.uniform(0.3, 3.0, n)
    latents = np.zeros((n, 2))
    latents[:, 0] = rng.normal(0, 1.0, n)
    latents[:, 1] = np.arange(n)  # which face a row is (the steps never move it)
    step = np.array([[1.0, 0.0]])

    def measure(x: np.ndarray) -> np.ndarray:
        g = gain[x[:, 1].astype(int)]
        return (1 / (1 + np.exp(-g * x[:, 0])))[:, None]

    values = measure(latents)
    targets = measure(latents - [0.8, 0.0])
    corrections, held = correct(latents, step, values, targets, np.array([0.2]), measure,
                                HoldSettings(iterations=4, tolerance=0.01))
    assert np.abs(held - targets).mean() < 0.1 * np.abs(values - targets).mean()
    assert np.allclose(held, measure(latents + corrections @ step))


def test_prior_slopes_come_from_the_fits_rescoring_table(shipped_axes: FeatureAxes) -> None:
    slopes = prior_slopes(shipped_axes, [shipped_axes.index("Age")])
    assert np.isfinite(slopes).all() and slopes[0] > 0  # older faces along +Age
