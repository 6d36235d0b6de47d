"""Batched (latent, image, score) generation: the pairs that axes are fitted on."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tlgan_tui.engine.extractors.base import ExtractorSet
from tlgan_tui.engine.generators.base import Generator

Progress = Callable[[int], None]  # called with the number of samples just finished


@dataclass
class Pairs:
    latents: np.ndarray  # (n, d) float32, edit space
    scores: np.ndarray  # (n, k) float64, NaN where an extractor failed

    def __len__(self) -> int:
        return len(self.latents)

    def valid_rows(self, column: int | None = None) -> np.ndarray:
        """Rows every extractor (or the given column's) could score."""
        if column is None:
            return np.all(np.isfinite(self.scores), axis=1)
        return np.isfinite(self.scores[:, column])


def sample_pairs(generator: Generator, extractors: ExtractorSet, n: int, seed: int,
                 batch_size: int = 128, progress: Progress | None = None) -> Pairs:
    """Draw n latents reproducibly from `seed`, render them and score them, in batches."""
    rng = np.random.default_rng(seed)
    latents = np.empty((n, generator.latent_dim), dtype=np.float32)
    scores = np.empty((n, len(extractors.features)), dtype=np.float64)
    for start in range(0, n, batch_size):
        count = min(batch_size, n - start)
        batch = generator.z_to_latent(generator.sample_z(count, rng)).astype(np.float32)
        latents[start : start + count] = batch
        scores[start : start + count] = extractors.score(generator.synthesize(batch, count))
        if progress is not None:
            progress(count)
    return Pairs(latents, scores)


def score_latents(generator: Generator, extractors: ExtractorSet, latents: np.ndarray,
                  batch_size: int = 128) -> np.ndarray:
    """Render and score given latents (N, d) -> (N, k)."""
    out = np.empty((len(latents), len(extractors.features)))
    for start in range(0, len(latents), batch_size):
        chunk = latents[start : start + batch_size]
        out[start : start + len(chunk)] = extractors.score(generator.synthesize(chunk, len(chunk)))
    return out
