"""Adding, changing and removing one axis while a face is being edited.

The editor's undo history holds one offset per axis; when a knob is taught,
renamed into a knob or deleted, every state in it is carried over so that
undo still works and the face on screen does not jump.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from tlgan_tui.engine.axes import FeatureAxes
from tlgan_tui.engine.edit_state import EditState


def appended(axes: FeatureAxes, name: str, kind: str, direction: np.ndarray,
             sigma: float) -> FeatureAxes:
    return FeatureAxes([*axes.names, name], [*axes.kinds, kind],
                       np.vstack([axes.directions, np.asarray(direction)[None]]),
                       np.append(axes.sigmas, sigma), dict(axes.info), axes.sha256)


def with_row(axes: FeatureAxes, index: int, name: str | None = None, kind: str | None = None,
             direction: np.ndarray | None = None, sigma: float | None = None) -> FeatureAxes:
    names, kinds = list(axes.names), list(axes.kinds)
    directions, sigmas = axes.directions.copy(), axes.sigmas.copy()
    if name is not None:
        names[index] = name
    if kind is not None:
        kinds[index] = kind
    if direction is not None:
        directions[index] = direction
    if sigma is not None:
        sigmas[index] = sigma
    return FeatureAxes(names, kinds, directions, sigmas, dict(axes.info), axes.sha256)


def without_row(axes: FeatureAxes, index: int) -> FeatureAxes:
    keep = [i for i in range(len(axes.names)) if i != index]
    return FeatureAxes([axes.names[i] for i in keep], [axes.kinds[i] for i in keep],
                       axes.directions[keep], axes.sigmas[keep], dict(axes.info), axes.sha256)


def state_with_new_axis(state: EditState) -> EditState:
    base_offsets = None if state.base_offsets is None else (*state.base_offsets, 0.0)
    return replace(state, offsets=(*state.offsets, 0.0), base_offsets=base_offsets)


def state_without_axis(state: EditState, index: int, old: FeatureAxes) -> EditState:
    """The same face without axis `index`: the edit so far is kept in the base latent
    (re-based as a lock toggle does), so the face stays exactly the same."""
    offsets = tuple(v for i, v in enumerate(state.offsets) if i != index)
    locked = tuple(i - (i > index) for i in state.locked if i != index)
    base_offsets = state.base_offsets or (0.0,) * len(state.offsets)
    if state.offsets == tuple(base_offsets):
        kept = None if state.base_offsets is None else offsets
        return replace(state, offsets=offsets, locked=locked, base_offsets=kept)
    latent = state.latent(old.directions, old.sigmas).astype(np.float32)
    return replace(state, offsets=offsets, locked=locked, base=latent, base_offsets=offsets)
