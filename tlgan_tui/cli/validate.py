"""The one argument validator: every subcommand's numbers checked before any work.

argparse only checks types; a negative seed, a NaN learning rate or a zero
count would otherwise fail deep inside numpy or torch, after models loaded.
"""

from __future__ import annotations

import argparse
import math

from tlgan_tui.engine.edit_state import MAX_SEED
from tlgan_tui.engine.errors import TlganError

# option attribute -> (option as typed, lowest, highest); None = no bound on that side
INT_BOUNDS: dict[str, tuple[str, int, int]] = {
    "seed": ("--seed", 0, MAX_SEED),
    "rescore_faces": ("--rescore-faces", 1, 100_000),
    "samples": ("--samples", 100, 10_000_000),
    "sefa": ("--sefa", 0, 512),
    "batch_size": ("--batch-size", 1, 65_536),
    "cell": ("--cell", 16, 1024),
    "size": ("--size", 8, 4096),
    "workers": ("--workers", 0, 64),
}
FLOAT_BOUNDS: dict[str, tuple[str, float, float]] = {
    "psi": ("--psi", -1.0, 2.0),
    "lr": ("--lr", 1e-12, 10.0),
    "svm_fraction": ("--svm-fraction", 1e-9, 0.5),
}


def validate_args(args: argparse.Namespace) -> None:
    """TlganError (one line) for the first option out of range."""
    for attribute, (option, low, high) in INT_BOUNDS.items():
        value = getattr(args, attribute, None)
        if value is not None and value < 0 <= low:
            raise TlganError(f"{option} cannot be negative (got {value})")
        if value is not None and not low <= value <= high:
            raise TlganError(f"{option} must be a whole number in {low}..{high} (got {value})")
    for attribute, (option, low_f, high_f) in FLOAT_BOUNDS.items():
        number = getattr(args, attribute, None)
        if number is not None and not (math.isfinite(number) and low_f <= number <= high_f):
            raise TlganError(f"{option} must be a number in {low_f:g}..{high_f:g} "
                             f"(got {number})")
