"""Parsing helpers shared by the subcommands: seed lists, --set, axes lookup."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from tlgan_tui.engine.axes import FeatureAxes
from tlgan_tui.engine.errors import TlganError
from tlgan_tui.engine.generators.base import Generator
from tlgan_tui.engine.paths import default_axes_path

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
                        help="feature axes file (default: the shipped axes of the default "
                        "generator)")
    add_knobs_option(parser)


def add_knobs_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--knobs", type=Path, action="append", default=[], metavar="FILE",
                        help="taught knobs file (`tlgan teach -o`, `tlgan knobs export`), "
                        "used beside the axes and your own knobs (repeatable)")


def with_knobs(axes: FeatureAxes, generator: Generator, paths: Sequence[Path] = ()
               ) -> FeatureAxes:
    """`axes` plus the user's taught knobs for this generator and those in `paths`."""
    from tlgan_tui.engine.knobs import load_knob_files, load_store, store_path

    axes = load_store(generator.info).extend_axes(axes, str(store_path(generator.info)))
    for path, knobs in zip(paths, load_knob_files(paths, generator.info), strict=True):
        axes = knobs.extend_axes(axes, str(path))
    return axes


def shipped_feature_names(generator: Generator, path: Path | None = None) -> list[str]:
    """Names of the axes this generator opens with (not counting taught knobs)."""
    axes = _open_axes(path, generator, required=False)
    return [] if axes is None else list(axes.names)


def open_axes(path: Path | None, generator: Generator, required: bool = True,
              knobs: Sequence[Path] | None = None) -> FeatureAxes | None:
    """The axes for `generator`: the given file, or the shipped one if it matches;
    with `knobs` (a list, maybe empty), the user's and those files' knobs appended."""
    axes = _open_axes(path, generator, required)
    if axes is None or knobs is None:
        return axes
    return with_knobs(axes, generator, knobs)


def _open_axes(path: Path | None, generator: Generator, required: bool = True
               ) -> FeatureAxes | None:
    if path is not None:
        axes = FeatureAxes.load(path)
        axes.check_generator(generator.info, str(path))
        return axes
    default = default_axes_path()
    if default.is_file():
        axes = FeatureAxes.load(default)
        made_for = axes.info.get("generator", {}).get("sha256")
        if made_for == generator.info.sha256:
            return axes
    if required:
        raise TlganError(
            f"no feature axes for generator {generator.info.name}; "
            "make them with `tlgan fit -o AXES.safetensors` and pass --axes AXES.safetensors"
        )
    return None
