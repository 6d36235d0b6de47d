"""The Extractor interface and a set of extractors scored together.

Scores are float64 arrays (N, n_features). An image the extractor could not
score (no usable face) gets NaN in every column, never 0: fitting drops those
rows and the UI shows "n/a".
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from tlgan_tui.engine.errors import TlganError

FeatureKind = Literal["probability", "continuous"]


@dataclass(frozen=True)
class Feature:
    """One scored attribute."""

    name: str  # TL-GAN naming where it matches: "Male", "Age"
    kind: FeatureKind  # probability in [0, 1], or a continuous value
    unit: str = ""  # "years" for Age; "" for probabilities

    def format_value(self, value: float) -> str:
        if not np.isfinite(value):
            return "n/a"
        if self.kind == "probability":
            return f"{value:.2f}"
        return f"{value:.1f}{(' ' + self.unit) if self.unit else ''}"


class Extractor(ABC):
    """Scores a batch of RGB face images on some features."""

    ident: str  # stable id written into axes metadata
    features: tuple[Feature, ...]

    @abstractmethod
    def score(self, images: np.ndarray) -> np.ndarray:
        """uint8 RGB images (N, H, W, 3) -> float64 scores (N, len(features)), NaN = failed."""


class ExtractorSet:
    """Several extractors used as one: features concatenated in order."""

    def __init__(self, extractors: Sequence[Extractor]) -> None:
        self.extractors = tuple(extractors)
        self.features: tuple[Feature, ...] = tuple(
            f for extractor in self.extractors for f in extractor.features
        )
        names = [f.name.lower() for f in self.features]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise TlganError(f"two extractors both provide feature(s): {', '.join(duplicates)}")

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]

    @property
    def ident(self) -> str:
        return "+".join(e.ident for e in self.extractors)

    def score(self, images: np.ndarray) -> np.ndarray:
        if len(images) == 0:
            return np.empty((0, len(self.features)))
        scores = np.hstack([e.score(images) for e in self.extractors])
        scores[featureless(images)] = np.nan
        return scores

    def index(self, name: str) -> int:
        """Case-insensitive lookup of a feature's column."""
        return find_feature(self.names, name)


# An image whose pixels span fewer levels than this has no face to score.
MIN_CONTRAST = 16


def featureless(images: np.ndarray) -> np.ndarray:
    """(N,) True where an image is (nearly) one flat colour: "n/a", never a score."""
    flat = np.asarray(images).reshape(len(images), -1)
    return (flat.max(axis=1).astype(np.int16) - flat.min(axis=1)) < MIN_CONTRAST


def find_feature(names: Sequence[str], name: str) -> int:
    """Index of `name` in `names`, case-insensitively, or a TlganError listing them."""
    wanted = name.strip().lower()
    for i, candidate in enumerate(names):
        if candidate.lower() == wanted:
            return i
    raise TlganError(f"unknown feature {name!r}; known: {', '.join(names)}")
