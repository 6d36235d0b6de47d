"""The converted face-api weights: one safetensors file, tensors named `<net>/<name>`."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors import safe_open

from tlgan_tui.engine.errors import TlganError
from tlgan_tui.engine.paths import models_dir

WEIGHTS_FILE = "faceapi-1.7.15.safetensors"


def weights_path() -> Path:
    return models_dir() / WEIGHTS_FILE


class NetWeights:
    """The tensors of one net, in TensorFlow layout, looked up by their face-api name."""

    def __init__(self, net: str, path: Path | None = None) -> None:
        path = path or weights_path()
        try:
            with safe_open(str(path), framework="pt") as f:
                prefix = net + "/"
                names = [k for k in f.keys() if k.startswith(prefix)]  # noqa: SIM118
                self._tensors = {k[len(prefix):]: f.get_tensor(k) for k in names}
        except (OSError, ValueError) as exc:
            raise TlganError(f"cannot read face-api weights {path}: {exc}") from exc
        if not self._tensors:
            raise TlganError(f"{path} holds no weights for face-api net {net!r}")
        self.net = net

    def __getitem__(self, name: str) -> torch.Tensor:
        try:
            return self._tensors[name]
        except KeyError:
            raise TlganError(f"face-api weights lack {self.net}/{name}") from None

    def conv(self, name: str) -> torch.Tensor:
        """A [kh, kw, in, out] filter as a PyTorch [out, in, kh, kw] weight."""
        return self[name].permute(3, 2, 0, 1).contiguous()

    def depthwise(self, name: str) -> torch.Tensor:
        """A [kh, kw, in, 1] depthwise filter as a PyTorch [in, 1, kh, kw] weight."""
        return self[name].permute(2, 3, 0, 1).contiguous()
