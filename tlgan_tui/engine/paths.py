"""Where shipped model artifacts live, in a source checkout or an installed wheel."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tlgan_tui.engine.axes import FeatureAxes

_PACKAGE_DIR = Path(__file__).resolve().parent.parent


def models_dir() -> Path:
    """The directory holding the shipped weights and axes."""
    installed = _PACKAGE_DIR / "_models"
    if installed.is_dir():
        return installed
    return _PACKAGE_DIR.parent / "models"


@dataclass(frozen=True)
class ShippedGenerator:
    """A generator that comes with tlgan, by its short name (`--generator NAME`)."""

    name: str
    weights_file: str
    axes_file: str
    license: str
    note: str = ""

    @property
    def weights_path(self) -> Path:
        return models_dir() / self.weights_file

    @property
    def axes_path(self) -> Path:
        return models_dir() / self.axes_file


SHIPPED_GENERATORS = (
    ShippedGenerator("ffhq", "mobilestylegan-ffhq-1024.safetensors",
                     "mobilestylegan-ffhq-1024.axes.safetensors",
                     "Apache-2.0, research/personal use",
                     "distilled from NVIDIA's StyleGAN2-FFHQ, whose weights and data are "
                     "non-commercial; see models/NOTICE.md"),
    ShippedGenerator("digiface", "dcgan-digiface-64.safetensors",
                     "dcgan-digiface-64.axes.safetensors", "MIT"),
)
DEFAULT_GENERATOR = "ffhq"


def shipped_generator(name: str) -> ShippedGenerator | None:
    return next((g for g in SHIPPED_GENERATORS if g.name == name), None)


def default_generator_path() -> Path:
    shipped = shipped_generator(DEFAULT_GENERATOR)
    assert shipped is not None
    return shipped.weights_path


def default_axes_path() -> Path:
    shipped = shipped_generator(DEFAULT_GENERATOR)
    assert shipped is not None
    return shipped.axes_path


def shipped_axes_paths() -> list[Path]:
    """Every shipped axes file (the default generator's first)."""
    return [g.axes_path for g in SHIPPED_GENERATORS]


_SHA256_OF: dict[Path, str] = {}


def shipped_sha256(shipped: ShippedGenerator) -> str | None:
    """The sha256 of a shipped weights file (None if it is missing); hashed once."""
    from tlgan_tui.engine.hashing import sha256_file

    path = shipped.weights_path
    if path not in _SHA256_OF:
        if not path.is_file():
            return None
        _SHA256_OF[path] = sha256_file(path)
    return _SHA256_OF[path]


def shipped_generator_with_sha256(sha256: str | None) -> ShippedGenerator | None:
    """The shipped generator whose weights have this sha256 (old snapshots and sessions)."""
    if not sha256:
        return None
    return next((g for g in SHIPPED_GENERATORS if shipped_sha256(g) == sha256), None)


def previous_axes_paths() -> list[Path]:
    """Axes files shipped before a refit: snapshots and sessions made with them reopen."""
    return sorted((models_dir() / "previous").glob("*.axes.safetensors"))


def previous_axes_with_sha256(sha256: str | None) -> Path | None:
    """The formerly shipped axes file with this sha256, if any."""
    from tlgan_tui.engine.hashing import sha256_file

    if not sha256:
        return None
    for path in previous_axes_paths():
        if path not in _SHA256_OF:
            _SHA256_OF[path] = sha256_file(path)
        if _SHA256_OF[path] == sha256:
            return path
    return None


def shipped_axes_for(sha256: str) -> FeatureAxes | None:
    """The shipped axes fitted for the generator with this sha256, if any."""
    from tlgan_tui.engine.axes import FeatureAxes

    for path in shipped_axes_paths():
        if path.is_file():
            axes = FeatureAxes.load(path)
            if axes.info.get("generator", {}).get("sha256") == sha256:
                return axes
    return None
