"""The extractors every command uses unless told otherwise."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tlgan_tui.engine.extractors.age_gender import AgeGenderExtractor
from tlgan_tui.engine.extractors.base import Extractor, ExtractorSet
from tlgan_tui.engine.extractors.faces import AlignMode


def load_extractors(extra: Sequence[Path] = (), mode: AlignMode = "frame",
                    threads: int = 2) -> ExtractorSet:
    """The default extractors plus any trained extractor files given with --extractor."""
    extractors: list[Extractor] = [AgeGenderExtractor(mode, threads)]
    for path in extra:
        extractors.append(load_extractor_file(Path(path)))
    return ExtractorSet(extractors)


def load_extractor_file(path: Path, device: str | None = None) -> Extractor:
    """A trained extractor file (safetensors, metadata validated); a TlganError if it is not one.

    `device`: where it scores ("cpu", "cuda"); default CUDA when present, else CPU.
    """
    from tlgan_tui.engine.extractors.celeba import CelebaExtractor

    return CelebaExtractor.from_file(Path(path), device=device)
