"""Feature axes: unit directions in latent space, one per feature, and their file.

File format: safetensors with tensors `directions` (k, d) float32 and `sigmas`
(k,) float32, and `__metadata__` = {"format": "tlgan-axes", "version": "1",
"info": <JSON>}. The JSON holds feature names and kinds, the fitting method,
the generator's id and sha256, sample count, seed, held-out metrics and the
exact command that made the file.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tlgan_tui.engine import bounded_json
from tlgan_tui.engine.atomic_write import resolve_target, write_bytes_atomic
from tlgan_tui.engine.errors import TlganError
from tlgan_tui.engine.extractors.base import find_feature
from tlgan_tui.engine.generators.base import GeneratorInfo
from tlgan_tui.engine.hashing import sha256_file
from tlgan_tui.engine.input_files import check_input_file
from tlgan_tui.engine.safetensors_header import read_safetensors, safetensors_bytes
from tlgan_tui.engine.text import clean_text

FORMAT = "tlgan-axes"
VERSION = "1"


@dataclass
class FeatureAxes:
    names: list[str]
    kinds: list[str]  # "probability", "continuous", or "direction" (unsupervised, SeFa)
    directions: np.ndarray  # (k, d) float32, unit rows
    sigmas: np.ndarray  # (k,) spread of latents along each direction: offset 1.0 = 1 sigma
    info: dict[str, Any] = field(default_factory=dict)
    sha256: str = ""  # of the file it was loaded from ("" when made in memory)

    def __post_init__(self) -> None:
        self.directions = np.asarray(self.directions, dtype=np.float32)
        self.sigmas = np.asarray(self.sigmas, dtype=np.float32)

    @property
    def ident(self) -> str:
        return f"axes:{self.sha256[:16]}" if self.sha256 else "axes:unsaved"

    @property
    def supervised(self) -> list[bool]:
        return [kind != "direction" for kind in self.kinds]

    @property
    def latent_dim(self) -> int:
        return int(self.directions.shape[1])

    def index(self, name: str) -> int:
        return find_feature(self.names, name)

    def check_generator(self, generator: GeneratorInfo, source: str = "axes") -> None:
        """Refuse axes fitted for another generator."""
        made_for = _generator_record(self.info.get("generator"))
        if made_for.get("sha256") and made_for["sha256"] != generator.sha256:
            raise TlganError(
                f"{source} was fitted for generator {made_for.get('name', '?')} "
                f"({made_for.get('ident', made_for['sha256'][:16])}), not for {generator.name} "
                f"({generator.ident}); run `tlgan fit` for this generator"
            )
        if self.latent_dim != generator.latent_dim:
            raise TlganError(
                f"{source} has {self.latent_dim}-d directions but the generator's latent "
                f"is {generator.latent_dim}-d"
            )

    def save(self, path: Path) -> None:
        """Write atomically: a crash never leaves a half-written axes file."""
        path = Path(path)
        info = dict(self.info, names=self.names, kinds=self.kinds)
        tensors = {"directions": self.directions, "sigmas": self.sigmas}
        metadata = {"format": FORMAT, "version": VERSION,
                    "info": json.dumps(_finite_or_null(info), allow_nan=False)}
        # Same axes, same bytes: a fit over several ranks can be checked against one.
        written = write_bytes_atomic(path, safetensors_bytes(tensors, metadata))
        path = resolve_target(written)
        self.sha256 = sha256_file(path)

    @classmethod
    def load(cls, path: Path) -> FeatureAxes:
        path = Path(path)
        check_input_file(path, "axes file")
        metadata, tensors = read_safetensors(path, "axes file")
        if metadata.get("format") != FORMAT:
            raise TlganError(f"{path}: not a tlgan axes file (format {metadata.get('format')!r})")
        try:
            info = bounded_json.loads(metadata["info"])
            if not isinstance(info, dict):
                raise TypeError(f"info is a JSON {type(info).__name__}, not an object")
            names, kinds = _names_and_kinds(info.pop("names", None), info.pop("kinds", None))
            info["generator"] = _generator_record(info.get("generator"))
            directions = tensors["directions"].numpy()
            sigmas = tensors["sigmas"].numpy()
        except (KeyError, ValueError, TypeError) as error:
            raise TlganError(f"{path}: malformed axes file ({error})") from None
        k = len(names)
        if (directions.ndim != 2 or directions.shape[0] != k or sigmas.shape != (k,)
                or not np.all(np.isfinite(directions))
                or not np.all(np.isfinite(sigmas)) or not np.all(sigmas > 0)):
            raise TlganError(f"{path}: malformed axes file (shapes do not match the names)")
        return cls(names, kinds, directions, sigmas, info, sha256_file(path))


KINDS = ("probability", "continuous", "direction")


def _finite_or_null(value: Any) -> Any:
    """JSON has no NaN: a feature no face could be scored on is written as null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite_or_null(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_or_null(v) for v in value]
    return value


def _names_and_kinds(names: Any, kinds: Any) -> tuple[list[str], list[str]]:
    """Feature names (control characters removed) and kinds, checked field by field."""
    if not isinstance(names, list) or not isinstance(kinds, list):
        raise TypeError("names and kinds must be lists")
    if not names or len(names) != len(kinds):
        raise ValueError(f"{len(names)} names but {len(kinds)} kinds")
    if not all(isinstance(n, str) for n in names) or not all(k in KINDS for k in kinds):
        raise TypeError(f"names must be strings and kinds one of {', '.join(KINDS)}")
    cleaned = [clean_text(n) for n in names]
    lowered = [n.lower() for n in cleaned]
    if "" in lowered or len(set(lowered)) != len(lowered):
        raise ValueError("feature names must be non-empty and distinct")
    return cleaned, [str(k) for k in kinds]


def _generator_record(value: Any) -> dict[str, str]:
    """The axes' `info.generator`: a map of strings (anything else is refused)."""
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str | None) for v in value.values()):
        raise TypeError("info.generator must be an object of strings")
    return {str(k): clean_text(v, 200) for k, v in value.items() if v is not None}
