"""Scoring with the default extractors in worker processes, overlapping generation.

The default extractor's per-face work (crops, landmark measures) is Python
holding the GIL, and its small nets scale poorly over torch threads, so
processes spread it over cores better than threads. Each worker builds
its own single-threaded default extractors once and scores batches of uint8
images sent to it. Trained torch extractors (`--extractor`) stay in the main
process, on the GPU when there is one.
"""

from __future__ import annotations

import multiprocessing
from multiprocessing.pool import AsyncResult, Pool

import numpy as np

from tlgan_tui.engine.extractors.base import ExtractorSet

_worker_extractors: ExtractorSet | None = None


def _init_worker(mode: str) -> None:
    global _worker_extractors
    import torch

    torch.set_num_threads(1)
    from tlgan_tui.engine.extractors.defaults import load_extractors

    _worker_extractors = load_extractors((), mode=mode, threads=1)  # type: ignore[arg-type]


def _score(images: np.ndarray) -> np.ndarray:
    assert _worker_extractors is not None
    return _worker_extractors.score(images)


class ParallelScorer:
    """A pool of processes scoring with the default extractors; a context manager."""

    def __init__(self, workers: int, mode: str = "frame") -> None:
        context = multiprocessing.get_context("spawn")  # fork + torch threads can deadlock
        self._pool: Pool = context.Pool(workers, initializer=_init_worker, initargs=(mode,))
        self.workers = workers

    def submit(self, images: np.ndarray) -> AsyncResult:
        return self._pool.apply_async(_score, (images,))

    def close(self) -> None:
        self._pool.terminate()
        self._pool.join()

    def __enter__(self) -> ParallelScorer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
