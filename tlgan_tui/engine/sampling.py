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
    from tlgan_tui.engine.fit_checkpoint import FitCheckpoint

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


def batch_starts(n: int, batch_size: int) -> range:
    return range(0, n, batch_size)


def part_size(n: int, batch_size: int, part: int, parts: int) -> int:
    """Samples in the batches of `part`: every `parts`-th batch, from batch `part` on."""
    return sum(min(batch_size, n - start) for start in batch_starts(n, batch_size)[part::parts])


def sample_pairs(generator: Generator, extractors: ExtractorSet, n: int, seed: int,
                 batch_size: int = 128, progress: Progress | None = None,
                 scorer: ParallelScorer | None = None, size: int | None = None,
                 part: int = 0, parts: int = 1,
                 checkpoint: FitCheckpoint | None = None) -> Pairs:
    """Draw n latents reproducibly from `seed`, render them and score them, in batches.

    With a `scorer`, the default extractors (the set's first) score batches in
    its worker processes while the next ones are generated; any further
    extractors score in this process. The result equals in-process scoring.

    With `parts` > 1 only this part's batches (every `parts`-th, from batch
    `part` on) are rendered and scored and returned, in order; the others'
    latents are drawn and dropped to keep the seed stream, so `join_parts` of
    all parts is exactly the one-part result.

    With a `checkpoint`, finished batches are saved as they come (and on an
    interrupt), and batches saved by an earlier run of the same fit are not
    redone: the result is the same as one uninterrupted run.
    """
    from tlgan_tui.engine.fit_checkpoint import Progress as Saved

    rng = np.random.default_rng(seed)
    owned = part_size(n, batch_size, part, parts)
    n_features = len(extractors.features)
    saved = checkpoint.load(generator.latent_dim, n_features, owned) if checkpoint else None
    if saved is None:
        saved = Saved(np.empty((owned, generator.latent_dim), dtype=np.float32),
                      np.empty((owned, n_features), dtype=np.float64), 0)
    elif progress is not None:
        progress(saved.done)
    latents, scores = saved.latents, saved.scores
    pending: deque[tuple[int, int, AsyncResult, list[np.ndarray]]] = deque()
    in_process = extractors.extractors[1:]

    def collect_oldest() -> None:
        start, count, result, others = pending.popleft()
        scores[start : start + count] = np.hstack([result.get(), *others])
        finished(start + count, count)

    def finished(done: int, count: int) -> None:
        saved.done = done
        if checkpoint is not None:
            checkpoint.save(saved)
        if progress is not None:
            progress(count)

    start = -batch_size  # where this part's current batch goes
    try:
        for number, first in enumerate(batch_starts(n, batch_size)):
            count = min(batch_size, n - first)
            z = generator.sample_z(count, rng)  # drawn even when skipped: keeps the stream
            if number % parts != part:
                continue
            start += batch_size  # only the last batch is short, and nothing follows it
            if start + count <= saved.done:
                continue  # scored by an earlier run of this fit
            batch = generator.z_to_latent(z).astype(np.float32)
            latents[start : start + count] = batch
            images = images_for_scoring(generator, batch, size)
            if scorer is None:
                scores[start : start + count] = extractors.score(images)
                finished(start + count, count)
                continue
            submitted = scorer.submit(images)
            pending.append((start, count, submitted, [e.score(images) for e in in_process]))
            while len(pending) > 2 * scorer.workers:
                collect_oldest()
        while pending:
            collect_oldest()
        if checkpoint is not None:
            checkpoint.save(saved, force=True)  # kept until the axes are written
    except KeyboardInterrupt:
        if checkpoint is not None:
            checkpoint.save(saved, force=True)
        raise
    return Pairs(latents, scores)


def join_parts(parts: list[Pairs], n: int, batch_size: int) -> Pairs:
    """The pairs of all parts (part i from `sample_pairs(..., part=i)`) in batch order."""
    latents: list[np.ndarray] = []
    scores: list[np.ndarray] = []
    offsets = [0] * len(parts)
    for number, first in enumerate(batch_starts(n, batch_size)):
        count = min(batch_size, n - first)
        owner = parts[number % len(parts)]
        at = offsets[number % len(parts)]
        latents.append(owner.latents[at : at + count])
        scores.append(owner.scores[at : at + count])
        offsets[number % len(parts)] += count
    if offsets != [len(p) for p in parts]:
        raise ValueError("the parts do not add up to the batches of n samples")
    return Pairs(np.concatenate(latents), np.concatenate(scores))


def score_latents(generator: Generator, extractors: ExtractorSet, latents: np.ndarray,
                  batch_size: int = 128, size: int | None = None) -> np.ndarray:
    """Render and score given latents (N, d) -> (N, k)."""
    out = np.empty((len(latents), len(extractors.features)))
    for start in range(0, len(latents), batch_size):
        chunk = latents[start : start + batch_size]
        images = images_for_scoring(generator, chunk, size)
        out[start : start + len(chunk)] = extractors.score(images)
    return out
