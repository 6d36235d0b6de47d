"""Running `fit` and `train-extractor` under torchrun: ranks, the process group, collectives.

torchrun starts one process per rank and tells each who it is through the
environment (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR,
MASTER_PORT); the process group is joined with env:// from those. Without
torchrun (or with a world of one) `Ranks.active` is false and the commands run
exactly as before, without touching torch.distributed.

The backend follows the device: NCCL on CUDA, gloo on the CPU. Python objects
(sampled pairs, skipped-image lists) always travel through a gloo group, so
NCCL only ever carries GPU tensors.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from tlgan_tui.engine.device import resolve_device
from tlgan_tui.engine.errors import TlganError


@dataclass(frozen=True)
class Ranks:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    local_world: int = 1

    @property
    def active(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise TlganError(f"{name}={value!r} in the environment is not a number") from None


def launched_ranks() -> Ranks:
    """This process's place among the ranks torchrun started (one rank without torchrun)."""
    world = _env_int("WORLD_SIZE", 1)
    rank = _env_int("RANK", 0)
    if world < 1 or not 0 <= rank < world:
        raise TlganError(f"RANK={rank} WORLD_SIZE={world}: not a valid place among the ranks")
    return Ranks(rank, world, _env_int("LOCAL_RANK", 0), _env_int("LOCAL_WORLD_SIZE", 1))


def rank_device(ranks: Ranks, choice: str) -> torch.device:
    """The device this rank computes on: with CUDA, the GPU matching its local rank."""
    device = resolve_device(choice)
    if device.type == "cuda" and ranks.active and device.index is None:
        count = torch.cuda.device_count()
        if ranks.local_rank >= count:
            raise TlganError(f"local rank {ranks.local_rank} has no GPU of its own ({count} "
                             "visible); start at most one process per GPU")
        device = torch.device("cuda", ranks.local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    return device


_object_group: Any = None


@contextmanager
def process_group(ranks: Ranks, device: torch.device) -> Iterator[None]:
    """Join (and finally leave) torchrun's process group; nothing without torchrun."""
    global _object_group
    if not ranks.active:
        yield
        return
    cuda = device.type == "cuda"
    dist.init_process_group("nccl" if cuda else "gloo", init_method="env://",
                            device_id=device if cuda else None)
    _object_group = dist.new_group(backend="gloo") if cuda else dist.group.WORLD
    try:
        yield
    finally:
        _object_group = None
        dist.destroy_process_group()


def gather_to_main(ranks: Ranks, value: Any) -> list[Any] | None:
    """Every rank's `value`, in rank order, on rank 0 (None elsewhere)."""
    if not ranks.active:
        return [value]
    received: list[Any] | None = [None] * ranks.world if ranks.is_main else None
    dist.gather_object(value, received, dst=0, group=_object_group)
    return received


def all_gather(ranks: Ranks, value: Any) -> list[Any]:
    """Every rank's `value`, in rank order, on every rank."""
    if not ranks.active:
        return [value]
    received: list[Any] = [None] * ranks.world
    dist.all_gather_object(received, value, group=_object_group)
    return received


def all_reduce_sum(ranks: Ranks, tensor: torch.Tensor) -> torch.Tensor:
    """The element-wise sum of `tensor` over all ranks (the tensor itself without torchrun)."""
    if ranks.active:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def owned_batches(n: int, batch_size: int, ranks: Ranks) -> list[tuple[int, int]]:
    """(start, count) of the batches this rank renders: every world-th, from its rank on.

    The batches are those one process would render (the same seed stream cut
    at the same places), so the gathered pairs are bitwise the same.
    """
    batches = [(start, min(batch_size, n - start)) for start in range(0, n, batch_size)]
    return batches[ranks.rank :: ranks.world]


def round_progress(advance: Callable[[int], None], n: int, batch_size: int,
                   ranks: Ranks) -> Callable[[int], None]:
    """Rank 0's progress callback counting every rank's samples.

    Ranks render equal batches side by side, so when rank 0 finishes its k-th
    batch the others are finishing theirs of the same round: each of rank 0's
    batches advances the bar by its whole round. The bar is exact at the end.
    """
    starts = list(range(0, n, batch_size))
    rounds = iter([sum(min(batch_size, n - s) for s in starts[i : i + ranks.world])
                   for i in range(0, len(starts), ranks.world)])
    return lambda _count: advance(next(rounds, 0))


def data_parallel(net: torch.nn.Module, ranks: Ranks, device: torch.device) -> torch.nn.Module:
    """`net` wrapped in DistributedDataParallel (gradients averaged over the ranks).

    On GPUs batch norm is synchronised, so its statistics are those of the whole
    batch, as in one process; torch has no CPU SyncBatchNorm, so on the CPU each
    rank normalises over its share. The wrapper shares `net`'s parameters.
    """
    if not ranks.active:
        return net
    from torch.nn.parallel import DistributedDataParallel

    if device.type != "cuda":
        return DistributedDataParallel(net)
    net = torch.nn.SyncBatchNorm.convert_sync_batchnorm(net)
    return DistributedDataParallel(net, device_ids=[device.index])


def share_buffers(net: torch.nn.Module, ranks: Ranks) -> None:
    """Give every rank rank 0's buffers (batch-norm statistics drift apart per rank)."""
    if ranks.active:
        for buffer in net.buffers():
            dist.broadcast(buffer, src=0)
