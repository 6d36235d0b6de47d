"""The extractors every command uses unless told otherwise."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from tlgan_tui.engine.extractors.base import Extractor, ExtractorSet
from tlgan_tui.engine.extractors.face_features import FaceFeatures, Mode


def load_extractors(extra: Sequence[Path] = (), mode: Mode = "frame",
                    threads: int | None = None,
                    device: torch.device | str | None = None) -> ExtractorSet:
    """The default extractor (face-api's nets + landmark measures) plus any trained
    extractor files given with --extractor.

    `threads`: torch's intra-op threads for this process (the worker processes
    of `parallel.py` use 1); None leaves torch's setting alone.
    `device`: where the face nets run; default CPU.
    """
    if threads is not None:
        torch.set_num_threads(threads)
    extractors: list[Extractor] = [FaceFeatures(mode, device)]
    for path in extra:
        extractors.append(load_extractor_file(Path(path)))
    return ExtractorSet(extractors)


def load_extractor_file(path: Path, device: str | None = None) -> Extractor:
    """A trained extractor file (safetensors, metadata validated); a TlganError if it is not one.

    `device`: where it scores ("cpu", "cuda"); default CUDA when present, else CPU.
    """
    from tlgan_tui.engine.extractors.celeba import CelebaExtractor

    return CelebaExtractor.from_file(Path(path), device=device)
