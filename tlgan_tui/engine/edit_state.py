"""The state of one face being edited, as an immutable value.

Undo history is a list of these; sessions and snapshots serialize them.
Locking or unlocking re-bases the edit (the current latent becomes the new
base) so toggling a lock never changes the face on screen: only later moves
are conditioned on the new lock set.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from tlgan_tui.engine.editing import LockMethod, edit_latent


def encode_latent(latent: np.ndarray) -> str:
    """float32 vector -> base64 text (exact round trip)."""
    return base64.b64encode(np.asarray(latent, dtype="<f4").tobytes()).decode("ascii")


def decode_latent(text: str, dim: int | None = None) -> np.ndarray:
    raw = base64.b64decode(text.encode("ascii"), validate=True)
    latent = np.frombuffer(raw, dtype="<f4").astype(np.float32)
    if dim is not None and latent.shape != (dim,):
        raise ValueError(f"latent has {latent.size} values, expected {dim}")
    if not np.all(np.isfinite(latent)):
        raise ValueError("latent holds non-finite values")
    return latent


@dataclass(frozen=True, eq=False)
class EditState:
    """Start face + offsets (in sigmas) + locks; `latent(axes)` gives the edited latent."""

    start: np.ndarray  # (d,) float32 edit-space latent of the unedited face
    offsets: tuple[float, ...]  # one per feature, what the user sees
    locked: tuple[int, ...] = ()  # feature indices, in the order they were locked
    seed: int | None = None  # where `start` came from, when it came from a seed
    base: np.ndarray | None = None  # latent this lock segment starts from (None: start)
    base_offsets: tuple[float, ...] | None = None  # offsets at the last re-base
    lock_method: LockMethod = "interfacegan"
    psi: float | None = field(default=None)  # truncation used to make `start` (w-space)

    @classmethod
    def fresh(cls, start: np.ndarray, n_features: int, seed: int | None = None,
              psi: float | None = None, locked: tuple[int, ...] = ()) -> EditState:
        return cls(np.asarray(start, dtype=np.float32), (0.0,) * n_features, locked, seed,
                   psi=psi)

    def latent(self, directions: np.ndarray, sigmas: np.ndarray) -> np.ndarray:
        base = self.start if self.base is None else self.base
        base_offsets = np.asarray(self.base_offsets or (0.0,) * len(self.offsets))
        delta = np.asarray(self.offsets) - base_offsets
        return edit_latent(base, directions, sigmas, delta, self.locked, self.lock_method)

    # -- changes (each returns a new state) ---------------------------------
    def move(self, feature: int, delta: float) -> EditState:
        return self.set_offset(feature, self.offsets[feature] + delta)

    def set_offset(self, feature: int, value: float) -> EditState:
        offsets = list(self.offsets)
        offsets[feature] = round(float(value), 6)
        return replace(self, offsets=tuple(offsets))

    def reset(self, feature: int) -> EditState:
        return self.set_offset(feature, 0.0)

    def reset_all(self) -> EditState:
        """Back to the unedited start face; locks stay."""
        return replace(self, offsets=(0.0,) * len(self.offsets), base=None, base_offsets=None)

    def toggle_lock(self, feature: int, directions: np.ndarray, sigmas: np.ndarray) -> EditState:
        locked = tuple(i for i in self.locked if i != feature)
        if len(locked) == len(self.locked):
            locked = (*self.locked, feature)
        return replace(self, locked=locked, base=self.latent(directions, sigmas),
                       base_offsets=self.offsets)

    def with_start(self, start: np.ndarray, seed: int | None, psi: float | None = None
                   ) -> EditState:
        """A new face: offsets cleared, locks kept."""
        return replace(self, start=np.asarray(start, dtype=np.float32),
                       offsets=(0.0,) * len(self.offsets), seed=seed, base=None,
                       base_offsets=None, psi=psi)

    # -- serialization -------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "start": encode_latent(self.start),
            "offsets": list(self.offsets),
            "locked": list(self.locked),
            "seed": self.seed,
            "base": None if self.base is None else encode_latent(self.base),
            "base_offsets": None if self.base_offsets is None else list(self.base_offsets),
            "lock_method": self.lock_method,
            "psi": self.psi,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], dim: int, n_features: int) -> EditState:
        """Inverse of to_dict; raises ValueError/KeyError/TypeError on malformed data."""
        offsets = tuple(float(v) for v in data["offsets"])
        locked = tuple(int(i) for i in data.get("locked", ()))
        if len(offsets) != n_features:
            raise ValueError(f"{len(offsets)} offsets for {n_features} features")
        if any(not 0 <= i < n_features for i in locked):
            raise ValueError("a locked feature index is out of range")
        if not all(np.isfinite(offsets)):
            raise ValueError("offsets hold non-finite values")
        base_offsets = data.get("base_offsets")
        method = data.get("lock_method", "interfacegan")
        if method not in ("interfacegan", "tlgan"):
            raise ValueError(f"unknown lock method {method!r}")
        seed = data.get("seed")
        psi = data.get("psi")
        return cls(
            start=decode_latent(data["start"], dim),
            offsets=offsets,
            locked=locked,
            seed=None if seed is None else int(seed),
            base=None if data.get("base") is None else decode_latent(data["base"], dim),
            base_offsets=None if base_offsets is None else tuple(float(v) for v in base_offsets),
            lock_method=method,
            psi=None if psi is None else float(psi),
        )

    def same_as(self, other: EditState) -> bool:
        """Value equality (numpy fields compared exactly)."""
        a, b = self.to_dict(), other.to_dict()
        return a == b
