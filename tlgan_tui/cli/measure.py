"""`tlgan measure`: every extractor's score for each image."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError
from rich.console import Console
from rich.table import Table

from tlgan_tui.cli.common import add_extractor_options, open_extractors
from tlgan_tui.engine.errors import TlganError

MAX_PIXELS = 40_000_000


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "measure", help="score images with every extractor",
        description="Score face images with every extractor. Square crops (like generated "
        "faces) are aligned in place; other photos go through the face detector first. "
        "Faces that cannot be scored show n/a (null in --json).")
    parser.add_argument("images", type=Path, nargs="+", metavar="IMG")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_extractor_options(parser)
    parser.set_defaults(func=run)


def load_rgb(path: Path) -> np.ndarray:
    if not path.is_file():
        raise TlganError(f"image not found: {path}")
    try:
        with Image.open(path) as image:
            if image.width * image.height > MAX_PIXELS:
                raise TlganError(f"{path}: image too large ({image.width}x{image.height})")
            return np.asarray(image.convert("RGB"))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise TlganError(f"{path}: not a readable image ({error})") from None


def run(args: argparse.Namespace) -> int:
    images = [load_rgb(path) for path in args.images]  # all checked before any work
    extractors = open_extractors(args, mode="detect")
    rows = [extractors.score(image[None])[0] for image in images]
    if args.json:
        out = [{"image": str(path),
                "scores": {name: (None if math.isnan(v) else round(float(v), 4))
                           for name, v in zip(extractors.names, row, strict=True)}}
               for path, row in zip(args.images, rows, strict=True)]
        print(json.dumps(out, indent=2))
        return 0
    # One row per feature: two dozen features do not fit across a terminal.
    table = Table()
    table.add_column("feature")
    for path in args.images:
        table.add_column(str(path), justify="right", overflow="fold")
    for column, feature in enumerate(extractors.features):
        unit = f" ({feature.unit})" if feature.unit else ""
        values = (feature.format_value(row[column]).replace(f" {feature.unit}", "")
                  if feature.unit else feature.format_value(row[column]) for row in rows)
        table.add_row(f"{feature.name}{unit}", *values)
    Console().print(table)
    return 0
