"""The extractors every command uses unless told otherwise."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tlgan_tui.engine.extractors.age_gender import AgeGenderExtractor
from tlgan_tui.engine.extractors.base import Extractor, ExtractorSet
from tlgan_tui.engine.extractors.faces import AlignMode


def load_extractors(extra: Sequence[Path] = (), mode: AlignMode = "frame") -> ExtractorSet:
    """The default extractors plus any trained extractor files given with --extractor."""
    extractors: list[Extractor] = [AgeGenderExtractor(mode)]
    for path in extra:
        extractors.append(load_extractor_file(Path(path)))
    return ExtractorSet(extractors)


def load_extractor_file(path: Path) -> Extractor:
    from tlgan_tui.engine.errors import TlganError

    raise TlganError(f"{path}: trained extractor files are not supported yet")
