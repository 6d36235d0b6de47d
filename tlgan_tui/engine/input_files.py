"""Why a path given as an input file cannot be read, in words."""

from __future__ import annotations

from pathlib import Path

from tlgan_tui.engine.errors import TlganError


def check_input_file(path: Path, what: str) -> None:
    """A TlganError saying exactly why `path` cannot be read as a file, if it cannot."""
    path = Path(path)
    if path.is_dir():
        raise TlganError(f"{what} {path} is a directory, not a file")
    if not path.exists():
        raise TlganError(f"{what} not found: {path}")
    if not path.is_file():
        raise TlganError(f"{what} {path} is not a regular file")
