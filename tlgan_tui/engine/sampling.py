"""Batched (latent, image, score) generation: the pairs that axes are fitted on."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.pool import AsyncResult
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from tlgan_tui.engine.extractors.base import ExtractorSet
from tlgan_tui.engine.generators.base import Generator, to_uint8

if TYPE_CHECKING:
    from tlgan_tui.engine.extractors.parallel import ParallelScorer

Progress = Callable[[int], None]  # called with the number of samples just finished

# Extractors work on faces of at most this side (landmarks at 128 px, chips at
# 64 px); larger generator output is shrunk on the generator's device first,
# which also keeps the images sent to scoring processes small.
SCORING_SIDE = 256


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


def images_for_scoring(generator: Generator, latents: np.ndarray,
                       size: int | None = None) -> np.ndarray:
    """Render latents as uint8 images no larger than SCORING_SIDE.

    `size` renders at one of the generator's cheaper preview sizes instead of
    its full resolution (`tlgan fit --sample-size`).
    """
    side = size or generator.resolution
    if side <= SCORING_SIDE:
        return generator.synthesize(latents, len(latents), size=size)
    with torch.inference_mode():
        batch = torch.from_numpy(np.ascontiguousarray(latents, dtype=np.float32))
        images = generator.forward_at(batch.to(generator.device), size).float()
        images = F.interpolate(images, size=(SCORING_SIDE, SCORING_SIDE), mode="area")
        return to_uint8(images)


def sample_pairs(generator: Generator, extractors: ExtractorSet, n: int, seed: int,
                 batch_size: int = 128, progress: Progress | None = None,
                 scorer: ParallelScorer | None = None, size: int | None = None) -> Pairs:
    """Draw n latents reproducibly from `seed`, render them and score them, in batches.

    With a `scorer`, the default extractors (the set's first) score batches in
    its worker processes while the next ones are generated; any further
    extractors score in this process. The result equals in-process scoring.
    """
    rng = np.random.default_rng(seed)
    latents = np.empty((n, generator.latent_dim), dtype=np.float32)
    scores = np.empty((n, len(extractors.features)), dtype=np.float64)
    pending: deque[tuple[int, int, AsyncResult, list[np.ndarray]]] = deque()
    in_process = extractors.extractors[1:]

    def collect_oldest() -> None:
        start, count, result, others = pending.popleft()
        scores[start : start + count] = np.hstack([result.get(), *others])
        if progress is not None:
            progress(count)

    for start in range(0, n, batch_size):
        count = min(batch_size, n - start)
        batch = generator.z_to_latent(generator.sample_z(count, rng)).astype(np.float32)
        latents[start : start + count] = batch
        images = images_for_scoring(generator, batch, size)
        if scorer is None:
            scores[start : start + count] = extractors.score(images)
            if progress is not None:
                progress(count)
            continue
        submitted = scorer.submit(images)
        pending.append((start, count, submitted, [e.score(images) for e in in_process]))
        while len(pending) > 2 * scorer.workers:
            collect_oldest()
    while pending:
        collect_oldest()
    return Pairs(latents, scores)


def score_latents(generator: Generator, extractors: ExtractorSet, latents: np.ndarray,
                  batch_size: int = 128, size: int | None = None) -> np.ndarray:
    """Render and score given latents (N, d) -> (N, k)."""
    out = np.empty((len(latents), len(extractors.features)))
    for start in range(0, len(latents), batch_size):
        chunk = latents[start : start + batch_size]
        images = images_for_scoring(generator, chunk, size)
        out[start : start + len(chunk)] = extractors.score(images)
    return out
