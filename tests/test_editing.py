"""Editing maths: offsets in sigmas, locks (TL-GAN and InterFaceGAN), edit state."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tlgan_tui.engine.edit_state import EditState
from tlgan_tui.engine.editing import (
    conditional_direction,
    conditioned_directions,
    edit_latent,
    feature_coordinates,
    gram_schmidt,
)

DIM = 24


def random_axes(k: int, seed: int, dim: int = DIM) -> np.ndarray:
    axes = np.random.default_rng(seed).standard_normal((k, dim))
    return axes / np.linalg.norm(axes, axis=1, keepdims=True)


def test_no_offsets_returns_the_start_exactly() -> None:
    start = np.random.default_rng(0).standard_normal(DIM).astype(np.float32)
    out = edit_latent(start, random_axes(3, 1), np.ones(3), np.zeros(3), locked=[0, 1])
    assert np.array_equal(out, start)


def test_offset_is_measured_in_sigmas_along_the_axis() -> None:
    axes = random_axes(2, 2)
    sigmas = np.array([2.0, 0.5])
    start = np.zeros(DIM, dtype=np.float32)
    moved = edit_latent(start, axes, sigmas, np.array([1.5, 0.0]))
    assert np.allclose(moved, 1.5 * 2.0 * axes[0], atol=1e-6)
    assert feature_coordinates(moved, axes)[0] == pytest.approx(3.0, abs=1e-5)


def test_interfacegan_projection_matches_the_closed_form() -> None:
    axes = random_axes(4, 3)
    n, c = axes[0], axes[1:]
    x = np.linalg.solve(c @ c.T, c @ n)
    expected = n - c.T @ x
    expected /= np.linalg.norm(expected)
    assert np.allclose(conditional_direction(n, c), expected, atol=1e-10)
    assert np.allclose(c @ conditional_direction(n, c), 0, atol=1e-10)


def test_tlgan_gram_schmidt_agrees_with_interfacegan_for_unlocked_axes() -> None:
    axes = random_axes(6, 4)
    locked = [4, 1, 2]
    tl = conditioned_directions(axes, locked, "tlgan")
    ifg = conditioned_directions(axes, locked, "interfacegan")
    for i in (0, 3, 5):
        assert np.allclose(tl[i], ifg[i], atol=1e-8)
    # TL-GAN's first locked axis keeps its own direction; later ones lose earlier projections.
    assert np.allclose(tl[4], axes[4])
    basis = gram_schmidt(axes[locked])
    assert np.allclose(basis @ basis.T, np.eye(3), atol=1e-10)


def test_tlgan_lock_is_order_dependent_for_locked_axes_interfacegan_is_not() -> None:
    axes = random_axes(3, 5)
    start = np.zeros(DIM, dtype=np.float32)
    offsets = np.array([2.0, 0.0, 0.0])  # move locked feature 0; feature 1 is locked too
    tl = edit_latent(start, axes, np.ones(3), offsets, locked=[0, 1], method="tlgan")
    ifg = edit_latent(start, axes, np.ones(3), offsets, locked=[0, 1], method="interfacegan")
    assert abs(feature_coordinates(tl, axes)[1]) > 1e-3  # the demo's behaviour leaks
    assert abs(feature_coordinates(ifg, axes)[1]) < 1e-5  # the conditional edit does not


@settings(max_examples=60, deadline=None)
@given(
    k=st.integers(2, 7),
    seed=st.integers(0, 10_000),
    data=st.data(),
)
def test_locked_feature_coordinates_never_move(k: int, seed: int, data: st.DataObject) -> None:
    axes = random_axes(k, seed)
    rng = np.random.default_rng(seed + 1)
    start = rng.standard_normal(DIM).astype(np.float32)
    sigmas = rng.uniform(0.5, 2.0, k)
    locked = data.draw(st.lists(st.integers(0, k - 1), unique=True, min_size=1, max_size=k - 1))
    offsets = rng.uniform(-3, 3, k)
    offsets[locked] = 0.0
    method = data.draw(st.sampled_from(["interfacegan", "tlgan"]))
    moved = edit_latent(start, axes, sigmas, offsets, locked, method)
    before = feature_coordinates(start, axes)[locked]
    after = feature_coordinates(moved, axes)[locked]
    assert np.allclose(before, after, atol=1e-4)
    # ...and the unlocked features did move.
    moving = [i for i in range(k) if i not in locked and abs(offsets[i]) > 0.1]
    if moving:
        assert not np.allclose(moved, start)


def test_toggling_a_lock_never_changes_the_face_and_protects_it_afterwards() -> None:
    axes = random_axes(3, 7)
    sigmas = np.ones(3)
    state = EditState.fresh(np.zeros(DIM), 3).move(0, 1.2).move(1, -0.8)
    before = state.latent(axes, sigmas)
    locked = state.toggle_lock(1, axes, sigmas)
    assert np.allclose(locked.latent(axes, sigmas), before, atol=1e-6)
    coordinate = feature_coordinates(before, axes)[1]
    after = locked.move(0, 2.0).move(2, -1.5).latent(axes, sigmas)
    assert feature_coordinates(after, axes)[1] == pytest.approx(coordinate, abs=1e-5)
    unlocked = locked.toggle_lock(1, axes, sigmas)
    assert unlocked.locked == ()
    assert np.allclose(unlocked.latent(axes, sigmas), before, atol=1e-6)


def test_reset_all_returns_to_the_start_and_state_round_trips() -> None:
    axes = random_axes(3, 8)
    start = np.random.default_rng(3).standard_normal(DIM).astype(np.float32)
    state = EditState.fresh(start, 3, seed=9).move(0, 0.4).toggle_lock(2, axes, np.ones(3))
    state = state.move(1, -1.2)
    again = EditState.from_dict(state.to_dict(), DIM, 3)
    assert again.same_as(state)
    assert np.array_equal(again.latent(axes, np.ones(3)), state.latent(axes, np.ones(3)))
    assert np.array_equal(state.reset_all().latent(axes, np.ones(3)), start)


@pytest.mark.parametrize("bad", [
    {"offsets": [0.0, 0.0]},
    {"locked": [5]},
    {"offsets": [float("nan"), 0.0, 0.0]},
    {"lock_method": "magic"},
    {"start": "not base64!"},
])
def test_malformed_state_is_refused(bad: dict) -> None:
    data = EditState.fresh(np.zeros(DIM), 3).to_dict() | bad
    with pytest.raises((ValueError, KeyError, TypeError)):
        EditState.from_dict(data, DIM, 3)
