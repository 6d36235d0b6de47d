"""Parsing helpers shared by the subcommands: seed lists, --set, axes lookup."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tlgan_tui.engine.atomic_write import resolve_target
from tlgan_tui.engine.axes import FeatureAxes
from tlgan_tui.engine.edit_state import MAX_OFFSET, EditState
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
                if min(low, high) < 0:
                    raise TlganError(f"{what} must be whole numbers >= 0 (got {part!r})")
                if abs(high - low) > MAX_SEEDS:
                    raise TlganError(f"too many {what} (more than {MAX_SEEDS})")
                step = 1 if high >= low else -1
                values.extend(range(low, high + step, step))
            else:
                values.append(int(part))
                if values[-1] < 0:
                    raise TlganError(f"{what} must be whole numbers >= 0 (got {part!r})")
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
    if not values or not all(abs(v) <= MAX_OFFSET for v in values):
        raise TlganError(f"malformed {what} {text!r}: numbers within +-{MAX_OFFSET:g} sigma")
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
    if not abs(number) <= MAX_OFFSET:
        raise TlganError(f"--set {text!r}: offsets are at most +-{MAX_OFFSET:g} sigma")
    return name.strip(), number


def add_output_options(parser: argparse.ArgumentParser, metavar: str, help: str) -> None:
    parser.add_argument("-o", "--output", type=Path, required=True, metavar=metavar, help=help)
    parser.add_argument("--force", action="store_true",
                        help="replace the output file if it exists")


def check_output(path: Path, force: bool, suffix: str | None = ".png") -> Path:
    """Refuse, before any work, an output that cannot or must not be written."""
    if suffix is not None and path.suffix.lower() != suffix:
        raise TlganError(f"-o {path}: tlgan writes {suffix[1:].upper()} files (the metadata "
                         f"lives in it); give a name ending in {suffix}")
    return resolve_target(path, force=force, option="-o")


def check_assignments(assignments: list[tuple[str, float]], locks: list[str],
                      names: list[str]) -> None:
    """A feature set twice, or both set and locked, is a contradiction: refuse it."""
    from tlgan_tui.engine.extractors.base import find_feature

    set_indices = [find_feature(names, name) for name, _ in assignments]
    for index in set(set_indices):
        if set_indices.count(index) > 1:
            raise TlganError(f"--set gives {names[index]} more than one value")
    for name in locks:
        index = find_feature(names, name)
        if index in set_indices:
            raise TlganError(f"{names[index]} is both set (--set) and locked (--lock); "
                             "a locked feature does not move")


def add_axes_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--axes", type=Path, metavar="PATH",
                        help="feature axes file (default: the shipped axes of the generator, "
                        "if it is a shipped one)")
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
    shipped = shipped_axes_for(generator.info.sha256)
    if shipped is not None:
        return shipped
    if required:
        raise TlganError(
            f"no feature axes for generator {generator.info.name}; "
            "make them with `tlgan fit -o AXES.safetensors` and pass --axes AXES.safetensors"
        )
    return None


def add_lock_options(parser: argparse.ArgumentParser) -> None:
    """What `--lock` holds: the measured value (default, as the editor) or the latent."""
    from tlgan_tui.cli.common import add_extractor_options

    parser.add_argument("--linear-locks", action="store_true",
                        help="hold only a locked feature's latent coordinate (no extractor "
                        "pass); by default a lock also holds what the extractors measure, "
                        "as in the editor")
    add_extractor_options(parser)


def held_states(states: list[EditState], axes: FeatureAxes | None, generator: Generator,
                args: argparse.Namespace) -> list[EditState]:
    """The states with their locked features corrected to measure what they did."""
    from tlgan_tui.cli.common import open_extractors
    from tlgan_tui.engine.measured_lock import hold_locks_rendered, needs_hold

    if axes is None or args.linear_locks or not any(needs_hold(s) for s in states):
        return states
    extractors = open_extractors(args)
    references: dict[bytes, np.ndarray] = {}
    return [hold_locks_rendered(s, axes, generator, extractors, references) for s in states]
