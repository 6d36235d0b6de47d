"""Measured locks: keep what a locked feature *measures*, not only its latent coordinate.

The linear lock (editing.py) holds a_j . latent for a locked feature j, but the
regression axis a_j is a noisy estimate of j's true gradient and a +-3 sigma
move is far from linear, so the measured value still drifts (face-api's Male
by a quarter of its own range when Smiling moves, in the FFHQ benchmark).

After the linear move, this renders the face (full image, see MEASURE_SIZE),
measures every locked feature and moves each one back to its target (its
value on the face it was locked on) along its own conditioned direction: a
secant iteration on that feature's offset, the first step using the axes'
mean slope per sigma. The correction is a change of the locked feature's own
offset, so the edit state stays plain offsets (sessions, snapshots and
`render --from` give the same latent) and the editor shows it as it is.
The best iterate is kept, so a correction is never worse on the preview
measurement than the linear lock; a face the extractors cannot score (NaN)
keeps the linear lock.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from tlgan_tui.engine.axes import FeatureAxes
from tlgan_tui.engine.edit_state import EditState
from tlgan_tui.engine.editing import conditioned_directions
from tlgan_tui.engine.extractors.base import ExtractorSet
from tlgan_tui.engine.generators.base import Generator
from tlgan_tui.engine.sampling import images_for_scoring

# Locked features are measured on the full image (shrunk for the extractors), what
# the user sees and exports; not on a cheap preview: MobileStyleGAN's 128-px
# preview is a softer picture whose measured age reacts differently to edits, so
# holding the preview's value moved the full image's age further than the linear
# lock did (8 FFHQ seeds, Smiling +2 with Age locked: mean |change| 5.4 vs 3.9
# years on the full image, while the preview itself held to 0.3).
MEASURE_SIZE: int | None = None

# latents (n, d) -> measured values (n, m) of the locked features, NaN where unscored
Measure = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class HoldSettings:
    iterations: int = 3  # renders per face at most, after the one that finds the drift
    tolerance: float = 0.1  # stop within this many sigmas' worth of the mean slope
    max_step: float = 1.5  # sigmas per iteration
    max_total: float = 4.0  # sigmas of correction at most


def prior_slopes(axes: FeatureAxes, features: Sequence[int]) -> np.ndarray:
    """Mean change per sigma of each axis's own measured feature (the fit's re-scoring
    diagonal); NaN where the axes file does not record it."""
    rescoring = axes.info.get("rescoring")
    out = np.full(len(features), np.nan)
    if not isinstance(rescoring, dict):
        return out
    names = [str(n).lower() for n in rescoring.get("features", [])]
    table, step = rescoring.get("table", []), rescoring.get("step")
    if len(table) != len(axes.names) or not isinstance(step, int | float) or step <= 0:
        return out
    for k, axis in enumerate(features):
        name = axes.names[axis].lower()
        if name in names and table[axis][names.index(name)] is not None:
            out[k] = float(table[axis][names.index(name)]) / float(step)
    return out


def correct(latents: np.ndarray, steps: np.ndarray, values: np.ndarray, targets: np.ndarray,
            slopes: np.ndarray, measure: Measure, settings: HoldSettings = HoldSettings(),
            offsets: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Corrections c (n, m) so that measure(latents + c @ steps) is near `targets`.

    latents (n, d): the linearly locked faces; steps (m, d): latent change per
    +1 offset of each locked feature; values (n, m): their measured values at
    c = 0; slopes (m,): prior change per +1 offset (NaN: unknown, found by a
    first probe step). `offsets` (n, m), the features' current
    offsets, makes every tried offset a multiple of 1e-6 (as the edit state
    stores them). Returns (c, measured values at c).
    """
    n, m = values.shape
    slopes = np.asarray(slopes, dtype=np.float64)
    known = np.isfinite(slopes) & (np.abs(slopes) > 1e-12)
    # Per face: the mean slope, or (unknown) the first secant, a probe's response.
    prior = np.broadcast_to(np.where(known, slopes, np.nan), (n, m)).copy()
    base = np.zeros((n, m)) if offsets is None else np.asarray(offsets, dtype=np.float64)
    best_c, best_v = np.zeros((n, m)), np.array(values, dtype=np.float64)
    best_err = np.abs(best_v - targets)
    prev_c, prev_v = best_c.copy(), best_v.copy()
    cur_c, cur_v = best_c.copy(), best_v.copy()
    given_up = np.zeros((n, 1), dtype=bool)  # a try the extractors could not score
    for _ in range(settings.iterations):
        err = cur_v - targets
        tolerance = np.nan_to_num(settings.tolerance * np.abs(prior), nan=0.0)
        active = np.isfinite(err) & (best_err > tolerance) & ~given_up
        if not active.any():
            break
        dc, dv = cur_c - prev_c, cur_v - prev_v
        with np.errstate(divide="ignore", invalid="ignore"):
            secant = np.where(np.abs(dc) > 1e-9, dv / dc, np.nan)
        # The secant replaces the mean slope once it has the axis's sign and a sane size.
        usable = np.isfinite(secant) & (secant != 0) & (
            np.isnan(prior) | ((secant * prior > 0) & (np.abs(secant) > 0.1 * np.abs(prior))))
        prior = np.where(np.isnan(prior) & usable, secant, prior)
        slope = np.where(usable, secant, prior)
        with np.errstate(divide="ignore", invalid="ignore"):
            # No slope yet: a probe of half the largest step, up if the feature is too low
            # (fitted axes point the way their feature grows).
            step = np.where(np.isfinite(slope), -err / slope, -np.sign(err) * settings.max_step / 2)
        step = np.clip(step, -settings.max_step, settings.max_step)
        new_c = np.clip(cur_c + np.where(active, step, 0.0), -settings.max_total,
                        settings.max_total)
        new_c = np.round(base + new_c, 6) - base
        tried = np.flatnonzero(active.any(axis=1))
        measured = measure((latents[tried] + new_c[tried] @ steps).astype(np.float32))
        # A face is tried as a whole: all its locks move together, or none if unscored.
        finite = np.all(np.isfinite(measured) | ~active[tried], axis=1)
        given_up[tried[~finite]] = True
        rows, measured = tried[finite], measured[finite]
        prev_c[rows], prev_v[rows] = cur_c[rows], cur_v[rows]
        cur_c[rows], cur_v[rows] = new_c[rows], measured
        new_err = np.abs(cur_v[rows] - targets[rows])
        scale = np.nan_to_num(np.abs(prior[rows]), nan=1.0)
        better = (np.nansum(new_err / scale, axis=1)
                  < np.nansum(best_err[rows] / scale, axis=1))
        kept = rows[better]
        best_c[kept], best_v[kept], best_err[kept] = cur_c[kept], cur_v[kept], new_err[better]
    return best_c, best_v


def lock_steps(state: EditState, axes: FeatureAxes) -> np.ndarray:
    """(m, d): the latent change of +1 offset of each locked feature, in lock order."""
    directions = conditioned_directions(axes.directions, list(state.locked), state.lock_method)
    locked = list(state.locked)
    return (axes.sigmas[locked, None].astype(np.float64) * directions[locked])


def reference_latent(state: EditState) -> np.ndarray:
    """The face the locks were set on (or the new face they were carried to)."""
    return state.start if state.base is None else state.base


def with_corrections(state: EditState, corrections: np.ndarray) -> EditState:
    for j, c in zip(state.locked, corrections, strict=True):
        if c != 0.0:
            state = state.set_offset(j, state.offsets[j] + float(c))
    return state


def hold_locks(state: EditState, axes: FeatureAxes, columns: Sequence[int | None],
               measure_all: Callable[[np.ndarray], np.ndarray], reference: np.ndarray,
               settings: HoldSettings = HoldSettings()) -> EditState:
    """The state with its locked features' offsets corrected to hold their measured values.

    `reference`: measure_all's scores (F,) of `reference_latent(state)`, the
    targets; `columns[k]`: the column measuring the k-th locked feature, None
    for one nothing measures (it keeps its linear lock). measure_all maps
    latents (n, d) to scores (n, F). Renders 1 + at most `settings.iterations`
    faces.
    """
    keep = [k for k, c in enumerate(columns) if c is not None]
    if not state.locked or not keep:
        return state
    cols = [int(columns[k]) for k in keep]  # type: ignore[arg-type]
    latent = state.latent(axes.directions, axes.sigmas).astype(np.float32)
    values = measure_all(latent[None])[:, cols]
    locked = [state.locked[k] for k in keep]
    offsets = np.array([[state.offsets[j] for j in locked]])
    corrections, _ = correct(latent[None], lock_steps(state, axes)[keep], values,
                             np.asarray(reference, dtype=np.float64)[None, cols],
                             prior_slopes(axes, locked), lambda x: measure_all(x)[:, cols],
                             settings, offsets)
    full = np.zeros(len(state.locked))
    full[keep] = corrections[0]
    return with_corrections(state, full)


def locked_columns(state: EditState, axes: FeatureAxes,
                   measured: Sequence[str]) -> list[int | None]:
    """The score column measuring each locked feature (None: nothing measures it)."""
    known = {name.lower(): i for i, name in enumerate(measured)}
    return [known.get(axes.names[j].lower()) for j in state.locked]


def needs_hold(state: EditState) -> bool:
    """A lock can only drift when some unlocked feature has moved off the locked face."""
    base = state.base_offsets or (0.0,) * len(state.offsets)
    return bool(state.locked) and any(
        offset != before for i, (offset, before) in enumerate(zip(state.offsets, base,
                                                                  strict=True))
        if i not in state.locked)


def hold_locks_rendered(state: EditState, axes: FeatureAxes, generator: Generator,
                        extractors: ExtractorSet,
                        references: dict[bytes, np.ndarray] | None = None) -> EditState:
    """`hold_locks` for one state, rendering and scoring faces as `tlgan render` and
    `tlgan sweep` need (the editor does the same on its worker, with a cache)."""
    if not needs_hold(state):
        return state

    def measure_all(latents: np.ndarray) -> np.ndarray:
        return extractors.score(images_for_scoring(generator, latents, MEASURE_SIZE))

    # `references` keeps the locked-on face's scores by its latent: a sweep's cells
    # share their row's face, so it is rendered and measured once.
    start = reference_latent(state).astype(np.float32)
    references = {} if references is None else references
    key = start.tobytes()
    if key not in references:
        references[key] = measure_all(start[None])[0]
    reference = references[key]
    return hold_locks(state, axes, locked_columns(state, axes, extractors.names), measure_all,
                      reference)
