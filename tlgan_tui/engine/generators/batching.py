"""Batch sizes for bulk sampling (`fit`, `measure`) sized to the device."""

from __future__ import annotations

import torch

from tlgan_tui.engine.generators.base import Generator

CPU_BATCH = 128
MAX_BATCH = 512
# Headroom for the extractors, the allocator's fragmentation and other processes.
FREE_FRACTION = 0.5
EXTRACTOR_BYTES_PER_SAMPLE = 8 << 20


def estimate_bytes_per_sample(generator: Generator) -> int:
    """Peak activation memory of one sample in the generator's forward pass (rough)."""
    own = getattr(generator, "activation_bytes_per_sample", None)
    if callable(own):
        return int(own())
    element = 2 if generator.dtype == torch.float16 else 4
    return int(generator.resolution**2 * 64 * element * 6)


def auto_batch_size(generator: Generator) -> int:
    """A batch size for sampling + scoring with `generator`.

    CUDA: as many samples as fit in half the free memory (power of two,
    1..512). CPU: 128 for small generators, fewer for large images (the
    batch then only bounds memory; throughput no longer improves).
    """
    per_sample = estimate_bytes_per_sample(generator) + EXTRACTOR_BYTES_PER_SAMPLE
    device = torch.device(generator.device)
    if device.type == "cuda" and torch.cuda.is_available():
        free, _total = torch.cuda.mem_get_info(device)
        budget = int(free * FREE_FRACTION)
        return _power_of_two_at_most(max(1, min(MAX_BATCH, budget // per_sample)))
    if generator.resolution <= 128:
        return CPU_BATCH
    return max(1, min(CPU_BATCH, _power_of_two_at_most((2 << 30) // per_sample)))


def _power_of_two_at_most(value: int) -> int:
    result = 1
    while result * 2 <= value:
        result *= 2
    return result

