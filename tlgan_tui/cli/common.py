"""Options shared by several subcommands and the objects they build."""

from __future__ import annotations

import argparse
from pathlib import Path

from tlgan_tui.engine.device import DEVICE_CHOICES, resolve_device
from tlgan_tui.engine.extractors.base import ExtractorSet
from tlgan_tui.engine.generators.base import Generator
from tlgan_tui.engine.paths import (
    previous_axes_with_sha256,
    shipped_generator,
    shipped_generator_with_sha256,
)


def add_generator_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model")
    group.add_argument("--generator", metavar="NAME|PATH",
                       help="a shipped generator (ffhq: MobileStyleGAN FFHQ-1024, photoreal, "
                       "research/personal use; digiface: DCGAN-64, MIT) or a weights file "
                       "(default: ffhq)")
    group.add_argument("--device", choices=DEVICE_CHOICES, default="auto",
                       help="where the generator runs (default: cuda when present, else cpu)")
    group.add_argument("--psi", type=float, default=None, metavar="PSI",
                       help="truncation psi of w-space generators (StyleGAN2): 1 = none, "
                       "smaller = closer to the average face (default 0.7)")
    group.add_argument("--precision", choices=("auto", "fp32", "fp16"), default="auto",
                       help="generator arithmetic: fp16 needs CUDA; auto = fp16 on CUDA where "
                       "safe, fp32 on the CPU (default auto)")


def add_extractor_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--extractor", type=Path, action="append", default=[], metavar="PATH",
                        help="a trained extractor file, used beside the default ones (repeatable)")


def generator_path(value: str | Path | None) -> Path | None:
    """`--generator` value -> weights file (None = the default generator)."""
    if value is None:
        return None
    shipped = shipped_generator(str(value))
    return shipped.weights_path if shipped is not None else Path(value)


def use_generator_of(args: argparse.Namespace, sha256: str | None) -> None:
    """Without --generator, open the shipped generator a snapshot or session was made with."""
    if getattr(args, "generator", None) is None:
        shipped = shipped_generator_with_sha256(sha256)
        if shipped is not None:
            args.generator = shipped.name


def use_axes_of(args: argparse.Namespace, sha256: str | None) -> None:
    """Without --axes, reopen a snapshot or session with the axes it was edited with when
    those were shipped before a refit (the current shipped axes are found anyway)."""
    if getattr(args, "axes", None) is None:
        previous = previous_axes_with_sha256(sha256)
        if previous is not None:
            args.axes = previous


def open_generator(args: argparse.Namespace) -> Generator:
    from tlgan_tui.engine.errors import TlganError
    from tlgan_tui.engine.generators.loading import load_generator
    from tlgan_tui.engine.generators.wspace import DEFAULT_PSI

    psi = getattr(args, "psi", None)
    generator = load_generator(generator_path(args.generator), resolve_device(args.device),
                               psi=DEFAULT_PSI if psi is None else psi,
                               precision=getattr(args, "precision", "auto"))
    if psi is not None and generator.psi is None:
        raise TlganError(f"--psi is the truncation of w-space generators (StyleGAN2, "
                         f"MobileStyleGAN); {generator.info.name} edits in z and has none")
    return generator


def open_extractors(args: argparse.Namespace, mode: str = "frame") -> ExtractorSet:
    from tlgan_tui.engine.extractors.defaults import load_extractors

    return load_extractors(getattr(args, "extractor", []), mode=mode)  # type: ignore[arg-type]
