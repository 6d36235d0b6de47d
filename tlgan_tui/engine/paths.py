"""Where shipped model artifacts live, in a source checkout or an installed wheel."""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent.parent


def models_dir() -> Path:
    """The directory holding the shipped weights and axes."""
    installed = _PACKAGE_DIR / "_models"
    if installed.is_dir():
        return installed
    return _PACKAGE_DIR.parent / "models"


DEFAULT_GENERATOR_FILE = "dcgan-digiface-64.safetensors"
DEFAULT_AXES_FILE = "dcgan-digiface-64.axes.safetensors"


def default_generator_path() -> Path:
    return models_dir() / DEFAULT_GENERATOR_FILE


def default_axes_path() -> Path:
    return models_dir() / DEFAULT_AXES_FILE
