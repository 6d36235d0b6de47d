"""Feature axes: unit directions in latent space, one per feature, and their file.

File format: safetensors with tensors `directions` (k, d) float32 and `sigmas`
(k,) float32, and `__metadata__` = {"format": "tlgan-axes", "version": "1",
"info": <JSON>}. The JSON holds feature names and kinds, the fitting method,
the generator's id and sha256, sample count, seed, held-out metrics and the
exact command that made the file.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import SafetensorError
from safetensors.torch import load_file

from tlgan_tui.engine.errors import TlganError
from tlgan_tui.engine.extractors.base import find_feature
from tlgan_tui.engine.generators.base import GeneratorInfo
from tlgan_tui.engine.hashing import sha256_file
from tlgan_tui.engine.safetensors_header import safetensors_bytes, safetensors_metadata

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
        made_for = self.info.get("generator", {})
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
        metadata = {"format": FORMAT, "version": VERSION, "info": json.dumps(info)}
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        try:
            # Same axes, same bytes: a fit over several ranks can be checked against one.
            Path(tmp).write_bytes(safetensors_bytes(tensors, metadata))
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        self.sha256 = sha256_file(path)

    @classmethod
    def load(cls, path: Path) -> FeatureAxes:
        path = Path(path)
        if not path.is_file():
            raise TlganError(f"axes file not found: {path}")
        try:
            metadata = safetensors_metadata(path)
            tensors = load_file(str(path))
        except (SafetensorError, ValueError, OSError, UnicodeDecodeError) as error:
            raise TlganError(f"{path}: not a readable axes file ({error})") from None
        if metadata.get("format") != FORMAT:
            raise TlganError(f"{path}: not a tlgan axes file (format {metadata.get('format')!r})")
        try:
            info = json.loads(metadata["info"])
            names = [str(n) for n in info.pop("names")]
            kinds = [str(k) for k in info.pop("kinds")]
            directions = tensors["directions"].numpy()
            sigmas = tensors["sigmas"].numpy()
        except (KeyError, ValueError, TypeError) as error:
            raise TlganError(f"{path}: malformed axes file ({error})") from None
        k = len(names)
        if (directions.ndim != 2 or directions.shape[0] != k or sigmas.shape != (k,)
                or len(kinds) != k or not np.all(np.isfinite(directions))
                or not np.all(np.isfinite(sigmas))):
            raise TlganError(f"{path}: malformed axes file (shapes do not match the names)")
        return cls(names, kinds, directions, sigmas, info, sha256_file(path))
