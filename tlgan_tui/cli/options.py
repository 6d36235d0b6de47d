"""Parsing helpers shared by the subcommands: seed lists, --set, axes lookup."""

from __future__ import annotations

import argparse
from pathlib import Path

from tlgan_tui.engine.axes import FeatureAxes
from tlgan_tui.engine.errors import TlganError
from tlgan_tui.engine.generators.base import Generator
from tlgan_tui.engine.paths import shipped_axes_for

MAX_SEEDS = 100_000


def parse_int_list(text: str, what: str = "seeds") -> list[int]:
    """'1-4,7,10-8' -> [1, 2, 3, 4, 7, 10, 9, 8]."""
    values: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            if "-" in part[1:]:
                cut = part.index("-", 1)
                low, high = int(part[:cut]), int(part[cut + 1 :])
                step = 1 if high >= low else -1
                values.extend(range(low, high + step, step))
            else:
                values.append(int(part))
        except ValueError:
            raise TlganError(
                f"malformed {what} {text!r}: use numbers and ranges like 1-8,12") from None
        if len(values) > MAX_SEEDS:
            raise TlganError(f"too many {what} (more than {MAX_SEEDS})")
    if not values:
        raise TlganError(f"no {what} in {text!r}")
    return values


def parse_float_list(text: str, what: str = "steps") -> list[float]:
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise TlganError(f"malformed {what} {text!r}: use numbers like -3,-1.5,0,1.5,3") from None
    if not values or not all(abs(v) < 1e6 for v in values):
        raise TlganError(f"malformed {what} {text!r}")
    return values


def parse_assignment(text: str) -> tuple[str, float]:
    """'Male=+3' -> ('Male', 3.0)."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise TlganError(f"malformed --set {text!r}: use NAME=VALUE, e.g. --set Male=+2")
    try:
        number = float(value)
    except ValueError:
        raise TlganError(f"malformed --set {text!r}: {value!r} is not a number") from None
    if not abs(number) < 1e6:
        raise TlganError(f"malformed --set {text!r}: value out of range")
    return name.strip(), number


def add_axes_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--axes", type=Path, metavar="PATH",
                        help="feature axes file (default: the shipped axes of the generator, "
                        "if it is a shipped one)")


def open_axes(path: Path | None, generator: Generator, required: bool = True
              ) -> FeatureAxes | None:
    """The axes for `generator`: the given file, or the shipped one if it matches."""
    if path is not None:
        axes = FeatureAxes.load(path)
        axes.check_generator(generator.info, str(path))
        return axes
    shipped = shipped_axes_for(generator.info.sha256)
    if shipped is not None:
        return shipped
    if required:
        raise TlganError(
            f"no feature axes for generator {generator.info.name}; "
            "make them with `tlgan fit -o AXES.safetensors` and pass --axes AXES.safetensors"
        )
    return None
