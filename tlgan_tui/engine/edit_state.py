"""The state of one face being edited, as an immutable value.

Undo history is a list of these; sessions and snapshots serialize them.
Locking or unlocking re-bases the edit (the current latent becomes the new
base) so toggling a lock never changes the face on screen: only later moves
are conditioned on the new lock set.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from tlgan_tui.engine.editing import LockMethod, edit_latent

# Offsets are in sigmas; far beyond any useful edit, and keeps latents finite.
MAX_OFFSET = 100.0
MAX_SEED = 2**63 - 1


def check_offset(value: object, what: str = "offset") -> float:
    """A finite number within +-MAX_OFFSET (ValueError/TypeError otherwise)."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating):
        raise TypeError(f"{what} {str(value)[:20]!r} is not a number")
    number = float(value)
    if not math.isfinite(number) or abs(number) > MAX_OFFSET:
        raise ValueError(f"{what} {number:g} is outside +-{MAX_OFFSET:g} sigma")
    return number


def check_index(value: object, size: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < size:
        raise ValueError(f"{what} {str(value)[:20]!r} is not an index below {size}")
    return value


def check_seed(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEED:
        raise ValueError(f"seed {str(value)[:24]!r} is not a whole number >= 0")
    return value


MAX_LAYERS = 64  # per-layer (W+) latents: StyleGAN2-1024 has 18


def encode_latent(latent: np.ndarray) -> str:
    """float32 vector (or per-layer matrix, row by row) -> base64 text (exact round trip)."""
    return base64.b64encode(np.asarray(latent, dtype="<f4").tobytes()).decode("ascii")


def decode_latent(text: str, dim: int | None = None, layers: int | None = None) -> np.ndarray:
    """Inverse of encode_latent: shape (dim,), or (layers, dim) for a per-layer latent."""
    if not isinstance(text, str):
        raise TypeError(f"a latent must be base64 text, not a {type(text).__name__}")
    raw = base64.b64decode(text.encode("ascii"), validate=True)
    if not raw or len(raw) % 4:
        raise ValueError(f"a latent of {len(raw)} bytes is not float32 values")
    latent = np.frombuffer(raw, dtype="<f4").astype(np.float32)
    if layers is not None:
        if latent.size % layers:
            raise ValueError(f"latent has {latent.size} values, not {layers} equal layers")
        latent = latent.reshape(layers, -1)
    if dim is not None and latent.shape[-1] != dim:
        raise ValueError(f"latent has {latent.shape[-1]} values per layer, expected {dim}")
    if not np.all(np.isfinite(latent)):
        raise ValueError("latent holds non-finite values")
    return latent


def check_layers(value: object) -> int | None:
    """None (one latent) or the number of per-layer latents (W+)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LAYERS:
        raise ValueError(f"layers {str(value)[:20]!r} is not a whole number in 1..{MAX_LAYERS}")
    return value


@dataclass(frozen=True, eq=False)
class EditState:
    """Start face + offsets (in sigmas) + locks; `latent(axes)` gives the edited latent."""

    # (d,) float32 edit-space latent of the unedited face, or (layers, d) for a per-layer
    # (W+) latent; edits add the same step to every layer.
    start: np.ndarray
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
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"offset {value} is not finite")
        offsets[feature] = round(min(max(value, -MAX_OFFSET), MAX_OFFSET), 6)
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
    @property
    def layers(self) -> int | None:
        """None for one latent, else the number of per-layer (W+) latents."""
        return int(self.start.shape[0]) if self.start.ndim == 2 else None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "start": encode_latent(self.start),
            "offsets": list(self.offsets),
            "locked": list(self.locked),
            "seed": self.seed,
            "base": None if self.base is None else encode_latent(self.base),
            "base_offsets": None if self.base_offsets is None else list(self.base_offsets),
            "lock_method": self.lock_method,
            "psi": self.psi,
        }
        if self.layers is not None:  # only then: one-latent states read as before
            data["layers"] = self.layers
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], dim: int, n_features: int) -> EditState:
        """Inverse of to_dict; raises ValueError/KeyError/TypeError on malformed data."""
        if not isinstance(data, dict):
            raise TypeError("an edit state must be an object")
        offsets = _offsets(data["offsets"], n_features, "offsets")
        locked_raw = data.get("locked", [])
        if not isinstance(locked_raw, list):
            raise TypeError("locked must be a list")
        locked = tuple(check_index(i, n_features, "locked feature") for i in locked_raw)
        if len(set(locked)) != len(locked):
            raise ValueError("a feature is locked twice")
        base_offsets = data.get("base_offsets")
        method = data.get("lock_method", "interfacegan")
        if method not in ("interfacegan", "tlgan"):
            raise ValueError(f"unknown lock method {str(method)[:20]!r}")
        psi = data.get("psi")
        if psi is not None:
            check_offset(psi, "psi")
        layers = check_layers(data.get("layers"))
        return cls(
            start=decode_latent(data["start"], dim, layers),
            offsets=offsets,
            locked=locked,
            seed=check_seed(data.get("seed")),
            base=None if data.get("base") is None else decode_latent(data["base"], dim, layers),
            base_offsets=None if base_offsets is None
            else _offsets(base_offsets, n_features, "base_offsets"),
            lock_method=method,
            psi=None if psi is None else float(psi),
        )

    def same_as(self, other: EditState) -> bool:
        """Value equality (numpy fields compared exactly)."""
        a, b = self.to_dict(), other.to_dict()
        return a == b


def _offsets(values: object, n_features: int, what: str) -> tuple[float, ...]:
    if not isinstance(values, list):
        raise TypeError(f"{what} must be a list")
    if len(values) != n_features:
        raise ValueError(f"{len(values)} {what} for {n_features} features")
    return tuple(check_offset(v) for v in values)
