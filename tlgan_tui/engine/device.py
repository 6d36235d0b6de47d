"""Choosing the torch device: CUDA when present, else CPU."""

from __future__ import annotations

import torch

from tlgan_tui.engine.errors import TlganError

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def resolve_device(name: str = "auto") -> torch.device:
    """Turn a user's `--device` choice into a torch device."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise TlganError(f"--device {name}: CUDA is not available on this machine")
        return torch.device(name)
    raise TlganError(f"unknown device {name!r}; choose one of {', '.join(DEVICE_CHOICES)}")
