"""Editing maths: start latent + per-feature offsets + locks -> edited latent.

Pure numpy, no state. Directions are unit rows of `axes` (k, d). An offset is
measured in standard deviations of the latent's natural spread along that
axis (`sigmas`; 1.0 for z ~ N(0, I) and a unit axis), so +1 on any feature is
"one typical face's worth" of change.

Locks. Moving feature i uses its direction conditioned on every *other*
locked feature: the part of a_i lying in the span of the locked axes is
removed, so a locked feature's coordinate a_j . latent does not move.
Two ways to compute it, which agree for unlocked features:
- "interfacegan" (default): n' = n - C^T x with (C C^T) x = C n, C the other
  locked axes (Shen et al. 2020). Exact for any number of conditions,
  also when a locked feature itself is moved.
- "tlgan": the TL-GAN demo's disentangling: Gram-Schmidt the locked axes in
  lock order, remove each unlocked axis's projection on them, renormalize.
  A locked axis moved itself only loses its projection on axes locked
  before it (the demo's behaviour).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Literal

import numpy as np

LockMethod = Literal["interfacegan", "tlgan"]
_EPS = 1e-8


def _unit(v: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(v))
    return v / norm if norm > _EPS else np.zeros_like(v)


def conditional_direction(direction: np.ndarray, conditions: np.ndarray) -> np.ndarray:
    """Remove from `direction` its component in the span of the rows of `conditions`.

    Returns the unit result (zeros when nothing is left, i.e. the direction
    lies inside the locked span and cannot move without moving a locked feature).
    """
    n = np.asarray(direction, dtype=np.float64)
    if len(conditions) == 0:
        return _unit(n)
    c = np.asarray(conditions, dtype=np.float64)
    # lstsq solves (C C^T) x = C n robustly even when locked axes are nearly parallel.
    x, *_ = np.linalg.lstsq(c @ c.T, c @ n, rcond=None)
    return _unit(n - c.T @ x)


def gram_schmidt(rows: np.ndarray) -> np.ndarray:
    """Orthonormal rows spanning the same space, in order (degenerate rows dropped)."""
    basis: list[np.ndarray] = []
    for row in np.asarray(rows, dtype=np.float64):
        v = row - sum((row @ b) * b for b in basis) if basis else row.copy()
        if np.linalg.norm(v) > 1e-6:
            basis.append(_unit(v))
    return np.array(basis).reshape(len(basis), np.asarray(rows).shape[-1])


def conditioned_directions(
    axes: np.ndarray, locked: Sequence[int] | Collection[int], method: LockMethod = "interfacegan"
) -> np.ndarray:
    """The direction each feature moves along, given the locked set (k, d)."""
    axes = np.asarray(axes, dtype=np.float64)
    locked_order = list(dict.fromkeys(locked))  # keeps lock order, drops repeats
    out = np.empty_like(axes)
    if method == "tlgan":
        ortho = gram_schmidt(axes[locked_order]) if locked_order else np.zeros((0, axes.shape[1]))
        for i in range(len(axes)):
            if i in locked_order:
                position = locked_order.index(i)
                out[i] = conditional_direction(axes[i], ortho[:position])
            else:
                out[i] = conditional_direction(axes[i], ortho)
        return out
    if method != "interfacegan":
        raise ValueError(f"unknown lock method {method!r}")
    for i in range(len(axes)):
        others = [j for j in locked_order if j != i]
        out[i] = conditional_direction(axes[i], axes[others])
    return out


def edit_latent(
    start: np.ndarray,
    axes: np.ndarray,
    sigmas: np.ndarray,
    offsets: np.ndarray,
    locked: Collection[int] = (),
    method: LockMethod = "interfacegan",
) -> np.ndarray:
    """start + sum_i offsets_i * sigmas_i * d_i, d_i conditioned on the locked set."""
    offsets = np.asarray(offsets, dtype=np.float64)
    moving = np.flatnonzero(offsets)
    start = np.asarray(start, dtype=np.float64)
    if len(moving) == 0:
        return start.astype(np.float32)
    directions = conditioned_directions(axes, list(locked), method)
    step = (offsets[moving] * np.asarray(sigmas, dtype=np.float64)[moving]) @ directions[moving]
    return (start + step).astype(np.float32)


def feature_coordinates(latent: np.ndarray, axes: np.ndarray) -> np.ndarray:
    """a_i . latent for every axis: the quantity a lock holds fixed."""
    return np.asarray(axes, dtype=np.float64) @ np.asarray(latent, dtype=np.float64)
