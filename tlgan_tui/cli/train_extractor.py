"""`tlgan train-extractor`: train the CelebA 40-attribute extractor (TL-GAN's knobs).

    tlgan train-extractor --celeba ~/data/celeba -o celeba40.safetensors
    tlgan fit --extractor celeba40.safetensors ...      # then fit all 40 axes

Reads CelebA's own files (list_attr_celeba.txt, list_eval_partition.txt,
img_align_celeba/), trains on the official train split, checkpoints after every
epoch (`--resume` continues), and prints per-attribute and mean test accuracy.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tlgan_tui.engine.device import DEVICE_CHOICES


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train-extractor",
        help="train the CelebA 40-attribute extractor (TL-GAN's feature knobs)",
        description="Train the CelebA 40-attribute extractor on a CelebA directory and write "
        "it as a safetensors extractor file, usable by every command with --extractor FILE.",
        epilog="The directory must hold list_attr_celeba.txt, list_eval_partition.txt and "
        "img_align_celeba/. A checkpoint is written beside the output after every epoch "
        "(OUTPUT.checkpoint.safetensors); --resume continues from it.",
    )
    parser.add_argument("--celeba", type=Path, required=True, metavar="DIR",
                        help="the CelebA directory")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="EXTRACTOR",
                        help="where to write the trained extractor (.safetensors)")
    parser.add_argument("--epochs", type=int, default=10, metavar="N",
                        help="training epochs in all (default: 10)")
    parser.add_argument("--image-size", type=int, default=128, metavar="PX",
                        help="network input side in pixels (default: 128, as TL-GAN)")
    parser.add_argument("--batch-size", type=int, default=64, metavar="B",
                        help="images per step (default: 64)")
    parser.add_argument("--lr", type=float, default=2e-3, metavar="RATE",
                        help="peak learning rate, AdamW (default: 0.002)")
    parser.add_argument("--width", type=float, default=1.0, metavar="W",
                        help="channel-width multiplier of the network (default: 1.0)")
    parser.add_argument("--device", choices=DEVICE_CHOICES, default="auto",
                        help="where to train (default: cuda when present, else cpu)")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="image-decoding processes (default: 0 on CPU, where the "
                        "network is the bottleneck; on CUDA all cores but one, at most 16)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--metrics-json", type=Path, metavar="FILE",
                        help="also write the metrics (per-attribute test accuracy, history) here")
    parser.add_argument("--resume", action="store_true",
                        help="continue from the checkpoint beside the output")
    parser.set_defaults(func=run)


class _RichReporter:
    """Draws a progress bar per phase on stderr; prints messages above it."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.console = Console(stderr=True)
        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"), TextColumn("{task.fields[loss]}"),
            TimeElapsedColumn(), TimeRemainingColumn(),
            console=self.console, transient=True,
        )
        self.task: Any = None

        self.started = False

    def __enter__(self) -> _RichReporter:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.started:
            self.progress.stop()

    def _start(self) -> None:
        # Started on first use: an error found before training prints as one clean line.
        if not self.started:
            self.progress.start()
            self.started = True

    def phase(self, description: str, total: int) -> None:
        self._start()
        self.task = self.progress.add_task(description, total=total, rate="", loss="")

    def advance(self, images: int, loss: float | None = None) -> None:
        if self.task is None:
            return
        speed = self.progress.tasks[-1].speed
        fields = {"rate": f"{speed:.0f} img/s" if speed else ""}
        if loss is not None:
            fields["loss"] = f"loss {loss:.4f}"
        self.progress.update(self.task, advance=images, **fields)

    def end_phase(self) -> None:
        if self.task is not None:
            self.progress.remove_task(self.task)
            self.task = None

    def message(self, text: str) -> None:
        self._start()
        self.progress.console.print(text, markup=False, highlight=False, soft_wrap=True)


def _print_accuracy(metrics: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="test accuracy per attribute", show_edge=False)
    table.add_column("attribute")
    table.add_column("accuracy", justify="right")
    table.add_column("majority", justify="right")
    for name, accuracy in metrics["test_accuracy"].items():
        baseline = metrics["test_majority_baseline"][name]
        table.add_row(name, f"{accuracy:.2%}", f"{baseline:.2%}")
    console = Console(file=sys.stdout, width=max(60, Console().width))
    console.print(table)
    console.print(f"mean test accuracy: {metrics['test_mean_accuracy']:.2%} over "
                  f"{metrics['test_images']} test images ({metrics['epochs']} epochs)",
                  highlight=False)
    skipped = metrics["skipped_images"]
    if any(skipped.values()):
        console.print(f"skipped unreadable images: train {skipped['train']}, val {skipped['val']}"
                      f", test {skipped['test']}", highlight=False)


def run(args: argparse.Namespace) -> int:
    from tlgan_tui.engine.distributed import launched_ranks
    from tlgan_tui.engine.training.train import (
        TrainConfig,
        checkpoint_path_for,
        train_extractor,
    )

    config = TrainConfig(
        celeba=args.celeba, output=args.output, epochs=args.epochs,
        image_size=args.image_size, batch_size=args.batch_size, lr=args.lr, width=args.width,
        device=args.device,
        workers=args.workers,
        seed=args.seed, resume=args.resume, metrics_json=args.metrics_json,
    )
    main_rank = launched_ranks().is_main  # under torchrun only rank 0 speaks
    try:
        with _RichReporter() as reporter:
            metrics = train_extractor(config, reporter)  # type: ignore[arg-type]
    except KeyboardInterrupt:
        checkpoint = checkpoint_path_for(args.output)
        if checkpoint.exists() and main_rank:
            print(f"tlgan: the last finished epoch is saved in {checkpoint}; "
                  "the same command with --resume continues from it", file=sys.stderr)
        raise
    if not main_rank:
        return 0
    _print_accuracy(metrics)
    print(f"wrote {args.output}")
    if args.metrics_json is not None:
        print(f"wrote {args.metrics_json}")
    return 0
