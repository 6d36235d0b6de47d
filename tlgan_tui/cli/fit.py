"""`tlgan fit`: sample (latent, score) pairs and fit one axis per feature."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from tlgan_tui.cli.common import (
    add_extractor_options,
    add_generator_options,
    open_extractors,
    open_generator,
)
from tlgan_tui.cli.options import add_output_options, check_output
from tlgan_tui.engine.errors import TlganError

if TYPE_CHECKING:  # scikit-learn takes ~1.3 s to import: only `tlgan fit` pays for it
    import numpy as np
    from rich.console import Console

    from tlgan_tui.engine.axes import FeatureAxes
    from tlgan_tui.engine.distributed import Ranks
    from tlgan_tui.engine.extractors.base import ExtractorSet
    from tlgan_tui.engine.fitting import FitResult
    from tlgan_tui.engine.generators.base import Generator

RESCORE_FACES = 64
RESCORE_STEP = 2.0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "fit", help="fit feature axes for a generator (TL-GAN regression or InterFaceGAN SVM)",
        description="Sample faces, score them with the extractors, fit one latent axis per "
        "feature, add SeFa directions, and print a report (held-out metrics, cosine matrix "
        "of the axes, re-scoring table).")
    add_generator_options(parser)
    add_extractor_options(parser)
    parser.add_argument("--samples", type=int, default=30_000, help="pairs to sample (30000)")
    parser.add_argument("--method", choices=("regression", "svm"), default="regression",
                        help="regression: TL-GAN; svm: InterFaceGAN top/bottom split")
    parser.add_argument("--svm-fraction", type=float, default=0.02,
                        help="fraction of samples on each side for --method svm (0.02)")
    parser.add_argument("--sefa", type=int, default=5, metavar="K",
                        help="closed-form SeFa directions to add as 'Direction 1..K' (5)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sample-size", type=int, default=None, metavar="PX",
                        help="render the sampled faces at this preview size of the generator "
                        "(e.g. 256 for ffhq, about half the work of 1024 px; default: full "
                        "resolution)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="samples per batch (default: sized to the device)")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="processes that score faces while the generator renders the "
                        "next batch (default: 0 on CPU, up to 8 beside a GPU)")
    parser.add_argument("--rescore-faces", type=int, default=RESCORE_FACES,
                        help=f"faces in the re-scoring table ({RESCORE_FACES})")
    parser.add_argument("--restart", action="store_true",
                        help="start the sampling over instead of resuming the samples an "
                        "interrupted run of this command saved beside -o")
    add_output_options(parser, "AXES.safetensors", "the axes file to write")
    parser.set_defaults(func=run)


def default_batch_size(generator: Generator) -> int:
    try:
        from tlgan_tui.engine.generators.batching import auto_batch_size
    except ImportError:
        return 128
    return auto_batch_size(generator)


def default_workers(generator: Generator, ranks_on_node: int = 1) -> int:
    """Scoring processes: beside a GPU the CPU-bound extractors are the bottleneck.

    Under torchrun the node's cores are shared by its `ranks_on_node` ranks."""
    import os

    if generator.device.type == "cpu":
        return 0
    return max(0, min(8, (os.cpu_count() or 1) // ranks_on_node - 1))


def run(args: argparse.Namespace) -> int:
    from tlgan_tui.engine.distributed import launched_ranks, process_group, rank_device

    check_options(args)
    ranks = launched_ranks()
    if not ranks.active:
        return fit_and_write(args, ranks)
    device = rank_device(ranks, args.device)
    args.device = str(device)
    with process_group(ranks, device):
        return fit_and_write(args, ranks)


def check_options(args: argparse.Namespace) -> None:
    """Checked before sampling (minutes of work), as train-extractor does.

    Numbers were checked by cli.validate before this runs.
    """
    import os

    if args.output.exists() and args.output.is_dir():
        raise TlganError(f"-o {args.output} is a directory; give a file name")
    target = check_output(args.output, args.force, suffix=None)
    if not os.access(target.parent if target.parent.exists() else Path.cwd(), os.W_OK):
        raise TlganError(f"-o {args.output}: the directory {target.parent} is not writable")


def fit_and_write(args: argparse.Namespace, ranks: Ranks) -> int:
    """Sample (this rank's share under torchrun); on rank 0, fit and write the axes."""
    import shlex
    import time

    import numpy as np
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from tlgan_tui import __version__
    from tlgan_tui.engine.distributed import gather_to_main, round_progress
    from tlgan_tui.engine.extractors.parallel import ParallelScorer
    from tlgan_tui.engine.fit_checkpoint import FitCheckpoint, checkpoint_path
    from tlgan_tui.engine.fitting import fit_axes
    from tlgan_tui.engine.rescoring import rescoring_table
    from tlgan_tui.engine.sampling import join_parts, sample_pairs

    console = Console(stderr=True)
    out = Console()
    generator = open_generator(args)
    if args.sample_size is not None and args.sample_size not in generator.preview_sizes:
        sizes = ", ".join(str(s) for s in generator.preview_sizes)
        raise TlganError(f"--sample-size: {generator.info.name} renders at {sizes} px")
    extractors = open_extractors(args)
    batch_size = args.batch_size or default_batch_size(generator)
    workers = (default_workers(generator, ranks.local_world) if args.workers is None
               else args.workers)
    checkpoint = FitCheckpoint(checkpoint_path(args.output, ranks.rank, ranks.world), {
        "generator": generator.info.sha256, "psi": generator.psi, "extractors": extractors.ident,
        "samples": args.samples, "seed": args.seed, "batch_size": batch_size,
        "sample_size": args.sample_size, "part": ranks.rank, "parts": ranks.world})
    if args.restart:
        checkpoint.remove()
    resumed = checkpoint.saved_count()
    if resumed and ranks.is_main:
        console.print(f"resuming: {resumed} faces were scored by an interrupted run of this "
                      f"fit ({checkpoint.path}; --restart starts over)",
                      highlight=False, soft_wrap=True)
    started = time.perf_counter()
    with Progress("[progress.description]{task.description}", BarColumn(),
                  MofNCompleteColumn(), TimeRemainingColumn(), console=console,
                  transient=True, disable=not ranks.is_main) as progress:
        task = progress.add_task("sampling faces", total=args.samples)

        def advance(n: int) -> None:
            progress.advance(task, n)

        scorer = ParallelScorer(workers) if workers else None
        try:
            pairs = sample_pairs(
                generator, extractors, args.samples, args.seed, batch_size,
                progress=round_progress(advance, args.samples, batch_size, ranks)
                if ranks.active else advance,
                scorer=scorer, size=args.sample_size, part=ranks.rank, parts=ranks.world,
                checkpoint=checkpoint)
        except KeyboardInterrupt:
            if checkpoint.path.exists():
                console.print(f"interrupted: the faces scored so far are in {checkpoint.path}; "
                              "run the same command again to resume", highlight=False,
                              soft_wrap=True)
            raise
        finally:
            if scorer is not None:
                scorer.close()
        if ranks.active:
            # Rank 0 fits on everyone's pairs, in the order one process draws them.
            parts = gather_to_main(ranks, pairs)
            if parts is None:
                checkpoint.remove()  # this rank's samples are rank 0's now
                return 0
            pairs = join_parts(parts, args.samples, batch_size)
    sampled = time.perf_counter()
    console.print(f"fitting {len(extractors.names)} axes and {args.sefa} SeFa directions, "
                  f"then re-scoring {args.rescore_faces} faces...", highlight=False)
    info = {
        "generator": {"ident": generator.info.ident, "name": generator.info.name,
                      "sha256": generator.info.sha256,
                      "latent_space": generator.info.latent_space},
        "extractors": extractors.ident,
        "command": "tlgan " + shlex.join(getattr(args, "argv", [])),
        "software": f"tlgan-tui {__version__}",
        "psi": generator.psi,
        "sample_size": args.sample_size or generator.resolution,
    }
    axes, result = fit_axes(pairs, extractors.features, generator.sefa_weight().numpy(),
                            args.method, args.seed, args.sefa, args.svm_fraction, info)
    fitted = time.perf_counter()
    rng = np.random.default_rng(args.seed + 1)
    starts = generator.z_to_latent(generator.sample_z(args.rescore_faces, rng)).astype(np.float32)
    table = rescoring_table(generator, extractors, axes, starts, RESCORE_STEP,
                            range(len(axes.names)), batch_size, args.sample_size)
    axes.info["rescoring"] = {"step": RESCORE_STEP, "faces": args.rescore_faces,
                              "features": extractors.names,
                              "table": np.round(table, 4).tolist()}
    axes.save(args.output)  # no timings inside: the same fit writes the same bytes
    checkpoint.remove()
    if ranks.active:
        out.print(f"{ranks.world} ranks sampled {args.samples} faces together")
    print_report(out, axes, result, extractors, table, sampled - started, fitted - sampled)
    out.print(f"wrote {args.output} ({axes.ident})")
    return 0


def print_report(out: Console, axes: FeatureAxes, result: FitResult, extractors: ExtractorSet,
                 table: np.ndarray, sample_s: float, fit_s: float) -> None:
    from rich.table import Table

    from tlgan_tui.engine.fitting import cosine_matrix

    out.print(f"sampled {result.n_samples} faces in {sample_s:.1f} s "
              f"({result.n_samples / max(sample_s, 1e-9):.0f}/s); fitted in {fit_s:.1f} s; "
              f"{result.n_unscored} samples unscored in some feature (each feature's "
              "fit leaves out only the samples it could not score)")
    metrics = Table(title="Held-out metrics")
    for column in ("feature", "kind", "metric", "value", "train", "test", "unscored"):
        metrics.add_column(column, justify="left" if column in ("feature", "kind") else "right")
    for fit in result.fits:
        metrics.add_row(fit.name, fit.kind, fit.metric_name, f"{fit.metric:.3f}",
                        str(fit.n_train), str(fit.n_test), str(fit.n_failed))
    out.print(metrics)
    numbered = [f"{number} {name}" for number, name in enumerate(axes.names, start=1)]
    print_wide(out, "Cosine between axes (columns numbered as the rows)", "axis", numbered,
               [str(n) for n in range(1, len(axes.names) + 1)],
               [[f"{v:+.2f}" for v in row] for row in cosine_matrix(axes.directions)])
    columns = [f"Δ {f.name}{f' ({f.unit})' if f.unit else ''}" for f in extractors.features]
    print_wide(out, f"Re-scoring: mean change when moving +{RESCORE_STEP:g} sigma "
               f"along each axis ({axes.info['rescoring']['faces']} faces)", "axis",
               list(axes.names), columns, [[f"{v:+.3f}" for v in row] for row in table])


def print_wide(out: Console, title: str, corner: str, rows: list[str], columns: list[str],
               cells: list[list[str]]) -> None:
    """A table split into several, each with as many columns as fit the console."""
    from rich.table import Table

    label_width = max(len(corner), *(len(r) for r in rows)) + 3
    # Headers may wrap over a few lines; values may not.
    cell_width = max(12, *(len(v) for row in cells for v in row)) + 3
    per_table = max(1, (out.width - label_width) // cell_width)
    for start in range(0, len(columns), per_table):
        part = range(start, min(start + per_table, len(columns)))
        suffix = f" [{start + 1}-{part[-1] + 1} of {len(columns)}]" if per_table < len(columns) \
            else ""
        table = Table(title=title + suffix)
        table.add_column(corner, no_wrap=True)
        for c in part:
            table.add_column(columns[c], justify="right", overflow="fold")
        for label, row in zip(rows, cells, strict=True):
            table.add_row(label, *(row[c] for c in part))
        out.print(table)
