"""Training the CelebA attribute extractor: loop, checkpoints, resume, metrics.

- Official split: train on partition 0, watch partition 1 after each epoch,
  report partition 2 (per-attribute and mean accuracy at threshold 0.5).
- Multi-label loss: binary cross-entropy on the 40 logits. AdamW, linear
  warm-up then cosine decay computed from the global step (so a resumed run
  continues on the same curve).
- Light augmentation: a slightly jittered square crop and a horizontal flip
  (every CelebA attribute is mirror-invariant). Nothing that moves colour or
  brightness, which would blur Pale_Skin or the hair colours.
- Mixed precision on CUDA (bfloat16 where supported, else float16 with a
  gradient scaler), channels-last, pinned memory.
- A checkpoint (weights, optimizer, scaler, history; safetensors) is written
  atomically after every epoch next to the output; `resume=True` continues
  after the last finished epoch. Augmentation, shuffling and dropout are seeded
  from (seed, epoch), so a resumed run sees the same batches it would have.
- Unreadable images met during training (a truncated JPEG, a file removed
  since the up-front check) are skipped and counted; the run stops with a
  TlganError when more than `max_bad_fraction` of a split is unreadable.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader
from torch.utils.data.distributed import DistributedSampler

from tlgan_tui.engine import bounded_json, distributed
from tlgan_tui.engine.atomic_write import resolve_target, write_bytes_atomic
from tlgan_tui.engine.device import resolve_device
from tlgan_tui.engine.distributed import Ranks
from tlgan_tui.engine.errors import TlganError
from tlgan_tui.engine.extractors.celeba import (
    CELEBA_ATTRIBUTES,
    DEFAULT_MEAN,
    DEFAULT_STD,
    MAX_INPUT_SIZE,
    MIN_INPUT_SIZE,
    AttributeNet,
    build_metadata,
    normalize_batch,
)
from tlgan_tui.engine.training.celeba_data import CelebaImages, CelebaIndex, read_celeba

CHECKPOINT_FORMAT = "tlgan-celeba-checkpoint"
CHECKPOINT_VERSION = 1
SYNC_EVERY = 20  # training steps between reads of the loss (each read waits for the GPU)


def default_workers(device: torch.device | None = None, ranks_on_node: int = 1) -> int:
    """Decoding processes: on CPU none (decoding is ~2% of a CPU training step and a
    worker would take a core from the network); on CUDA all cores but one, at most 16,
    shared by the node's ranks under torchrun."""
    if device is None or device.type != "cuda":
        return 0
    return min(16, max(0, (os.cpu_count() or 1) // ranks_on_node - 1))


@dataclass
class TrainConfig:
    celeba: Path
    output: Path
    epochs: int = 10
    image_size: int = 128
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 5e-4
    width: float = 1.0
    device: str = "auto"
    workers: int | None = None  # None: default_workers(device)
    seed: int = 0
    resume: bool = False
    metrics_json: Path | None = None
    max_bad_fraction: float = 0.05

    def check(self) -> None:
        if self.epochs < 1:
            raise TlganError(f"--epochs must be at least 1 (got {self.epochs})")
        if not MIN_INPUT_SIZE <= self.image_size <= MAX_INPUT_SIZE:
            raise TlganError(f"--image-size must be within {MIN_INPUT_SIZE}..{MAX_INPUT_SIZE} "
                             f"(got {self.image_size})")
        if self.batch_size < 2:
            raise TlganError(f"--batch-size must be at least 2 (got {self.batch_size})")
        if self.workers is not None and self.workers < 0:
            raise TlganError(f"--workers cannot be negative (got {self.workers})")
        if not 0.05 <= self.width <= 4.0:
            raise TlganError(f"--width must be within 0.05..4 (got {self.width})")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise TlganError(f"--lr must be a positive number (got {self.lr})")
        for target in (self.output, self.metrics_json):
            if target is None:
                continue
            resolve_target(target)  # a device, FIFO or directory is refused here
            parent = Path(target).resolve().parent
            if not parent.is_dir():
                raise TlganError(f"{target}: the directory {parent} does not exist")
            if not os.access(parent, os.W_OK):
                raise TlganError(f"{target}: the directory {parent} is not writable")


class TrainingReporter:
    """Receives progress from `train_extractor`; the CLI draws it. Defaults: silent."""

    def phase(self, description: str, total: int) -> None:
        """A phase (one epoch's training, or an evaluation) starts: `total` images."""

    def advance(self, images: int, loss: float | None = None) -> None:
        """`images` more images of the current phase are done."""

    def end_phase(self) -> None:
        """The current phase is over."""

    def message(self, text: str) -> None:
        """A line worth showing (epoch summary, skipped images, checkpoint)."""


class _AllRanksReporter(TrainingReporter):
    """Rank 0's reporter under torchrun: each of its images stands for one on every rank
    (the ranks take equal shares of every batch), so the bar shows all ranks' work."""

    def __init__(self, inner: TrainingReporter, world: int) -> None:
        self.inner, self.world = inner, world

    def phase(self, description: str, total: int) -> None:
        self.inner.phase(description, total)

    def advance(self, images: int, loss: float | None = None) -> None:
        self.inner.advance(images * self.world, loss)

    def end_phase(self) -> None:
        self.inner.end_phase()

    def message(self, text: str) -> None:
        self.inner.message(text)


def checkpoint_path_for(output: Path) -> Path:
    """Where the per-epoch checkpoint of a run writing `output` lives."""
    output = Path(output)
    stem = output.name[: -len(".safetensors")] if output.name.endswith(".safetensors") \
        else output.name
    return output.with_name(stem + ".checkpoint.safetensors")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    write_bytes_atomic(path, data)


def atomic_save_safetensors(tensors: dict[str, torch.Tensor], metadata: dict[str, str],
                            path: Path) -> None:
    from safetensors.torch import save

    data = save({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, metadata)
    atomic_write_bytes(path, data)


def lr_at(step: int, total: int, base: float) -> float:
    """Linear warm-up over the first 3% of steps (at most 500), then cosine to 2% of base."""
    warm = max(1, min(500, total // 33))
    if step < warm:
        return base * (step + 1) / warm
    progress = min(1.0, (step - warm) / max(1, total - warm))
    return base * (0.02 + 0.98 * 0.5 * (1.0 + math.cos(math.pi * progress)))


@dataclass
class _RunState:
    epochs_done: int = 0
    step: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    bad: dict[str, dict[int, str]] = field(default_factory=lambda: {"train": {}, "val": {},
                                                                     "test": {}})
    planned_epochs: int | None = None  # --epochs of the run that wrote the checkpoint


def _fingerprint(index: CelebaIndex) -> dict[str, int]:
    return {"images": len(index.files), **{s: len(index.split(s))
                                           for s in ("train", "val", "test")}}


def _save_checkpoint(path: Path, net: AttributeNet, optimizer: torch.optim.Optimizer,
                     scaler: torch.amp.GradScaler | None, state: _RunState,
                     config: TrainConfig, index: CelebaIndex) -> None:
    tensors = {f"model.{k}": v for k, v in net.state_dict().items()}
    optim_state = optimizer.state_dict()
    for param_id, slots in optim_state["state"].items():
        for key, value in slots.items():
            tensors[f"optim.{param_id}.{key}"] = torch.as_tensor(value)
    meta = {
        "format": CHECKPOINT_FORMAT,
        "format_version": str(CHECKPOINT_VERSION),
        "state": json.dumps({
            "epochs_done": state.epochs_done,
            "step": state.step,
            "history": state.history,
            "bad": {s: {str(k): v for k, v in d.items()} for s, d in state.bad.items()},
            "param_groups": optim_state["param_groups"],
            "scaler": scaler.state_dict() if scaler is not None else None,
            "config": {"image_size": config.image_size, "width": config.width,
                       "batch_size": config.batch_size, "seed": config.seed,
                       "epochs": config.epochs, "lr": config.lr},
            "data": _fingerprint(index),
        }),
    }
    atomic_save_safetensors(tensors, meta, path)


def _load_checkpoint(path: Path, net: AttributeNet, optimizer: torch.optim.Optimizer,
                     scaler: torch.amp.GradScaler | None, config: TrainConfig,
                     index: CelebaIndex) -> _RunState:
    from safetensors import safe_open

    if not path.is_file():
        raise TlganError(f"--resume: no checkpoint at {path} (start without --resume)")
    try:
        with safe_open(str(path), framework="pt") as handle:
            meta = handle.metadata() or {}
            tensors = {k: handle.get_tensor(k) for k in handle.keys()}  # noqa: SIM118
        saved = bounded_json.loads(meta["state"])
    except Exception as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise TlganError(f"{path}: not a readable training checkpoint ({reason})") from None
    if meta.get("format") != CHECKPOINT_FORMAT:
        raise TlganError(f"{path}: not a tlgan training checkpoint")
    for key in ("image_size", "width", "batch_size", "seed"):
        was, now = saved["config"][key], getattr(config, key)
        if was != now:
            option = "--" + key.replace("_", "-")
            raise TlganError(f"--resume: the checkpoint was trained with {option} {was}, "
                             f"not {now}; pass {option} {was} or start without --resume")
    if saved["data"] != _fingerprint(index):
        raise TlganError(f"--resume: the checkpoint was trained on a different data set "
                         f"({saved['data']}, now {_fingerprint(index)})")
    model = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    try:
        net.load_state_dict(model, strict=True)
    except RuntimeError as error:
        raise TlganError(f"{path}: checkpoint weights do not match "
                         f"({str(error).splitlines()[0]})") from None
    optim_state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, param_id, slot = key.split(".", 2)
            optim_state.setdefault(int(param_id), {})[slot] = value
    optimizer.load_state_dict({"state": optim_state, "param_groups": saved["param_groups"]})
    if scaler is not None and saved.get("scaler"):
        scaler.load_state_dict(saved["scaler"])
    bad = {s: {int(k): v for k, v in d.items()} for s, d in saved["bad"].items()}
    return _RunState(int(saved["epochs_done"]), int(saved["step"]), list(saved["history"]), bad,
                     planned_epochs=int(saved["config"]["epochs"]))


class _Trainer:
    def __init__(self, config: TrainConfig, index: CelebaIndex, reporter: TrainingReporter,
                 ranks: Ranks | None = None, device: torch.device | None = None) -> None:
        self.config = config
        self.index = index
        self.reporter = reporter
        self.ranks = ranks = ranks or Ranks()
        self.device = device or resolve_device(config.device)
        self.cuda = self.device.type == "cuda"
        self.workers = (default_workers(self.device, ranks.local_world) if config.workers is None
                        else config.workers)
        torch.manual_seed(config.seed)
        self.net = AttributeNet(width=config.width).to(self.device)
        if self.cuda:
            self.net = self.net.to(memory_format=torch.channels_last)
            torch.backends.cudnn.benchmark = True
        self.amp_dtype: torch.dtype | None = None
        self.scaler: torch.amp.GradScaler | None = None
        if self.cuda:
            self.amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
            if self.amp_dtype == torch.float16:
                self.scaler = torch.amp.GradScaler("cuda")
        decay, no_decay = [], []
        for name, param in self.net.named_parameters():
            (no_decay if param.ndim <= 1 or "bn" in name else decay).append(param)
        self.optimizer = torch.optim.AdamW(
            [{"params": decay, "weight_decay": config.weight_decay},
             {"params": no_decay, "weight_decay": 0.0}], lr=config.lr)
        self.mean = torch.tensor(DEFAULT_MEAN, device=self.device)
        self.std = torch.tensor(DEFAULT_STD, device=self.device)
        self.state = _RunState()
        self.model: torch.nn.Module = self.net  # DistributedDataParallel under torchrun

    # -- data

    def loader(self, split: str, train: bool, epoch: int) -> DataLoader:
        rows = self.index.split(split)
        ranks, batch_size = self.ranks, self.config.batch_size
        sampler: DistributedSampler | None = None
        if ranks.active and not train:
            rows = rows[ranks.rank :: ranks.world]  # each image scored once, on one rank
        dataset = CelebaImages(self.index, rows, self.config.image_size, augment=train,
                               seed=self.config.seed)
        dataset.epoch = epoch
        if ranks.active and train:
            # --batch-size is the global batch: each rank takes its share of every step.
            batch_size //= ranks.world
            sampler = DistributedSampler(dataset, ranks.world, ranks.rank, shuffle=True,
                                         seed=self.config.seed * 100_003, drop_last=True)
            sampler.set_epoch(epoch)
        generator = torch.Generator().manual_seed(self.config.seed * 100_003 + epoch)
        shard = len(sampler) if sampler is not None else len(rows)
        return DataLoader(
            dataset, batch_size=batch_size, shuffle=train and sampler is None, sampler=sampler,
            drop_last=train and shard > batch_size,
            num_workers=self.workers, pin_memory=self.cuda, generator=generator,
            persistent_workers=False,
            prefetch_factor=4 if self.workers > 0 else None,
        )

    def _keep_readable(self, split: str, batch: tuple) -> tuple[torch.Tensor, torch.Tensor]:
        images, labels, rows, errors = batch
        ok = [not e for e in errors]
        if all(ok):
            return images, labels
        bad = self.state.bad[split]
        for row, error, good in zip(rows.tolist(), errors, ok, strict=True):
            if not good and row not in bad:
                bad[row] = error
                if len(bad) <= 3:
                    self.reporter.message(f"skipping unreadable image {error}")
        limit = self.config.max_bad_fraction * len(self.index.split(split))
        if len(bad) > limit:
            first = next(iter(bad.values()))
            raise TlganError(f"{len(bad)} of the {len(self.index.split(split))} {split} images "
                             f"are unreadable (more than {self.config.max_bad_fraction:.0%}); "
                             f"first: {self.index.image_dir}/{first}")
        mask = torch.tensor(ok)
        return images[mask], labels[mask]

    def _prepare(self, images: torch.Tensor, flip: torch.Tensor | None = None) -> torch.Tensor:
        images = images.to(self.device, non_blocking=True)
        if flip is not None and flip.any():
            images[flip] = images[flip].flip(-1)
        x = normalize_batch(images, self.mean, self.std)
        if self.cuda:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    # -- phases

    def train_epoch(self, epoch: int) -> dict[str, Any]:
        cfg = self.config
        self.net.train()
        loader = self.loader("train", True, epoch)
        total_steps = cfg.epochs * len(loader)
        rank_seed = self.ranks.rank * 104_729  # 0 for one process: its seeds stay as they were
        torch.manual_seed(cfg.seed * 1_000_003 + epoch + rank_seed)  # dropout, on resume too
        flips = torch.Generator().manual_seed(cfg.seed * 7919 + epoch + rank_seed)
        self.reporter.phase(f"epoch {epoch + 1}/{cfg.epochs}", len(self.index.split("train")))
        running = torch.zeros((), dtype=torch.float64, device=self.device)
        loss_sum, seen, start = 0.0, 0, time.perf_counter()
        for batch in loader:
            flip = torch.rand(len(batch[0]), generator=flips) < 0.5
            images, labels = self._keep_readable("train", batch)
            if len(images) == 0:
                self.reporter.advance(len(batch[0]))
                continue
            if len(images) < len(batch[0]):
                flip = flip[torch.tensor([not e for e in batch[3]])]
            x = self._prepare(images, flip.to(self.device))
            y = labels.to(self.device, non_blocking=True)
            lr = lr_at(self.state.step, total_steps, cfg.lr)
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            with torch.autocast(self.device.type, dtype=self.amp_dtype or torch.float32,
                                enabled=self.amp_dtype is not None):
                logits = self.model(x)
            loss = F.binary_cross_entropy_with_logits(logits.float(), y)
            self.optimizer.zero_grad(set_to_none=True)
            if self.scaler is not None:
                self.scaler.scale(loss).backward()
                self.scaler.step(self.optimizer)
                self.scaler.update()
            else:
                loss.backward()
                self.optimizer.step()
            self.state.step += 1
            running += loss.detach().double() * len(images)
            seen += len(images)
            shown: float | None = None
            if self.state.step % SYNC_EVERY == 0:  # reading the loss waits for the GPU
                loss_sum = self._checked_loss(running, epoch)
                shown = loss_sum / seen
            self.reporter.advance(len(batch[0]), shown)
        totals = distributed.all_reduce_sum(self.ranks, torch.stack(
            [running, torch.tensor(float(seen), dtype=torch.float64, device=self.device)]))
        loss_sum, seen = self._checked_loss(totals[0], epoch), int(totals[1])
        distributed.share_buffers(self.net, self.ranks)
        self._share_bad("train")
        if self.cuda:
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        self.reporter.end_phase()
        return {"train_loss": loss_sum / max(1, seen), "train_images": seen,
                "seconds": round(seconds, 3),
                "images_per_s": round(seen / seconds, 1) if seconds > 0 else None}

    def _share_bad(self, split: str) -> None:
        """Every rank learns of the images the others could not read."""
        if not self.ranks.active:
            return
        bad = self.state.bad[split]
        for other in distributed.all_gather(self.ranks, bad):
            bad.update(other)
        self.state.bad[split] = dict(sorted(bad.items()))
        limit = self.config.max_bad_fraction * len(self.index.split(split))
        if len(bad) > limit:
            raise TlganError(f"{len(bad)} of the {len(self.index.split(split))} {split} images "
                             f"are unreadable (more than {self.config.max_bad_fraction:.0%})")

    @staticmethod
    def _checked_loss(running: torch.Tensor, epoch: int) -> float:
        value = float(running)
        if not math.isfinite(value):
            raise TlganError(f"training diverged in epoch {epoch + 1} (loss {value}); "
                             "try a lower --lr or a larger --batch-size")
        return value

    @torch.inference_mode()
    def evaluate(self, split: str, epoch: int) -> dict[str, Any]:
        self.net.eval()
        loader = self.loader(split, False, epoch)
        self.reporter.phase(f"{split} set", len(self.index.split(split)))
        correct = torch.zeros(len(CELEBA_ATTRIBUTES), dtype=torch.float64)
        positives = torch.zeros(len(CELEBA_ATTRIBUTES), dtype=torch.float64)
        loss_sum, seen = 0.0, 0
        for batch in loader:
            images, labels = self._keep_readable(split, batch)
            if len(images):
                x = self._prepare(images)
                with torch.autocast(self.device.type, dtype=self.amp_dtype or torch.float32,
                                    enabled=self.amp_dtype is not None):
                    logits = self.net(x).float()
                y = labels.to(self.device)
                loss_sum += float(F.binary_cross_entropy_with_logits(logits, y,
                                                                    reduction="sum")) / y.shape[1]
                correct += ((logits > 0).float() == y).sum(0).double().cpu()
                positives += y.sum(0).double().cpu()
                seen += len(images)
            self.reporter.advance(len(batch[0]))
        if self.ranks.active:  # each rank scored its share: add the counts up
            totals = distributed.all_reduce_sum(self.ranks, torch.cat(
                [correct, positives, torch.tensor([loss_sum, seen], dtype=torch.float64)]
            ).to(self.device)).cpu()
            n = len(CELEBA_ATTRIBUTES)
            correct, positives = totals[:n], totals[n : 2 * n]
            loss_sum, seen = float(totals[2 * n]), int(totals[2 * n + 1])
            self._share_bad(split)
        self.reporter.end_phase()
        if seen == 0:
            raise TlganError(f"no readable image in the {split} split")
        accuracy = (correct / seen).tolist()
        rate = (positives / seen).tolist()
        return {
            "images": seen,
            "skipped": len(self.state.bad[split]),
            "loss": loss_sum / seen,
            "mean_accuracy": float(np.mean(accuracy)),
            "accuracy": dict(zip(CELEBA_ATTRIBUTES, accuracy, strict=True)),
            "majority_baseline": {a: max(r, 1 - r) for a, r in
                                  zip(CELEBA_ATTRIBUTES, rate, strict=True)},
        }


def train_extractor(config: TrainConfig, reporter: TrainingReporter | None = None
                    ) -> dict[str, Any]:
    """Train (or resume), evaluate on the test split, write the extractor file.

    Returns the metrics written into the file (and into `metrics_json` if set).
    Under torchrun every rank trains with DistributedDataParallel on its share
    of each batch and returns the metrics; rank 0 alone reports and writes.
    """
    reporter = reporter or TrainingReporter()
    config.check()
    ranks = distributed.launched_ranks()
    if not ranks.active:
        return _train(config, reporter, ranks, None)
    if config.batch_size % ranks.world or config.batch_size // ranks.world < 2:
        raise TlganError(f"--batch-size {config.batch_size} is the batch of all {ranks.world} "
                         "ranks together: give a multiple of the rank count, at least 2 each")
    device = distributed.rank_device(ranks, config.device)
    with distributed.process_group(ranks, device):
        shown = (_AllRanksReporter(reporter, ranks.world) if ranks.is_main
                 else TrainingReporter())
        return _train(config, shown, ranks, device)


def _train(config: TrainConfig, reporter: TrainingReporter, ranks: Ranks,
           device: torch.device | None) -> dict[str, Any]:
    index = read_celeba(config.celeba)
    trainer = _Trainer(config, index, reporter, ranks, device)
    checkpoint = checkpoint_path_for(config.output)
    if config.resume:
        trainer.state = _load_checkpoint(checkpoint, trainer.net, trainer.optimizer,
                                         trainer.scaler, config, index)
        done = trainer.state.epochs_done
        if done >= config.epochs:
            reporter.message(f"checkpoint has {done} epoch(s), --epochs is {config.epochs}: "
                             "nothing left to train; evaluating")
        else:
            reporter.message(f"resuming after epoch {done} of {config.epochs}")
            if trainer.state.planned_epochs not in (None, config.epochs):
                # The learning rate is a function of the step and of --epochs.
                reporter.message(f"note: the checkpoint's run planned "
                                 f"{trainer.state.planned_epochs} epochs; the learning-rate "
                                 f"schedule now spans {config.epochs}")
    elif checkpoint.exists():
        reporter.message(f"starting afresh; overwriting {checkpoint} (use --resume to continue)")
    trainer.model = distributed.data_parallel(trainer.net, ranks, trainer.device)
    where = (f"; {ranks.world} ranks, {config.batch_size // ranks.world} images each per step"
             if ranks.active else "")
    reporter.message(f"{len(index.split('train'))} train, {len(index.split('val'))} val, "
                     f"{len(index.split('test'))} test images; device {trainer.device}, "
                     f"{trainer.workers} decoding worker(s){where}")

    for epoch in range(trainer.state.epochs_done, config.epochs):
        record: dict[str, Any] = {"epoch": epoch + 1, **trainer.train_epoch(epoch)}
        if len(index.split("val")):
            val = trainer.evaluate("val", epoch)
            record.update(val_loss=val["loss"], val_mean_accuracy=val["mean_accuracy"])
        trainer.state.history.append(record)
        trainer.state.epochs_done = epoch + 1
        if ranks.is_main:  # the ranks hold the same weights: one writes them
            _save_checkpoint(checkpoint, trainer.net, trainer.optimizer, trainer.scaler,
                             trainer.state, config, index)
        summary = (f"epoch {epoch + 1}/{config.epochs}: loss {record['train_loss']:.4f}, "
                   f"{record['images_per_s']} images/s")
        if "val_mean_accuracy" in record:
            summary += f", val mean accuracy {record['val_mean_accuracy']:.2%}"
        reporter.message(summary + f"; checkpoint {checkpoint}")

    test = trainer.evaluate("test", config.epochs)
    bad = trainer.state.bad
    metrics: dict[str, Any] = {
        "test_mean_accuracy": test["mean_accuracy"],
        "test_accuracy": test["accuracy"],
        "test_majority_baseline": test["majority_baseline"],
        "test_images": test["images"],
        "test_loss": test["loss"],
        "skipped_images": {s: len(d) for s, d in bad.items()},
        "skipped_examples": [v for d in bad.values() for v in d.values()][:20],
        "history": trainer.state.history,
        "epochs": trainer.state.epochs_done,
    }
    if any(bad.values()):
        reporter.message(f"skipped {sum(len(d) for d in bad.values())} unreadable image(s): "
                         + ", ".join(f"{s} {len(d)}" for s, d in bad.items()))
    training = {
        "data": _fingerprint(index),
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items()
                   if k not in ("celeba", "output", "metrics_json", "resume")},
        "device": str(trainer.device),
        "workers": trainer.workers,
        "mixed_precision": str(trainer.amp_dtype).replace("torch.", "") if trainer.amp_dtype
        else "off",
        "crop": "central square of each aligned image, resized",
        "torch": torch.__version__,
    }
    if ranks.active:
        training["ranks"] = ranks.world
    if not ranks.is_main:
        return metrics
    metadata = build_metadata(input_size=config.image_size, width=config.width,
                              mean=DEFAULT_MEAN, std=DEFAULT_STD, metrics=metrics,
                              training=training)
    net = trainer.net.to(memory_format=torch.contiguous_format)
    atomic_save_safetensors(dict(net.state_dict()), metadata, Path(config.output))
    if config.metrics_json is not None:
        payload = {"metrics": metrics, "training": training}
        atomic_write_bytes(Path(config.metrics_json),
                           (json.dumps(payload, indent=2) + "\n").encode())
    return metrics
