"""`tlgan render`: one edited face (or one per seed) to PNG, with metadata."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

from tlgan_tui.cli.common import (
    add_generator_options,
    open_generator,
    use_axes_of,
    use_generator_of,
)
from tlgan_tui.cli.options import (
    add_axes_option,
    add_lock_options,
    add_output_options,
    check_assignments,
    check_output,
    held_states,
    open_axes,
    parse_assignment,
    parse_int_list,
)
from tlgan_tui.engine.axes import FeatureAxes
from tlgan_tui.engine.edit_state import EditState
from tlgan_tui.engine.errors import TlganError
from tlgan_tui.engine.export import (
    Snapshot,
    atomic_write_png,
    read_snapshot,
    resize_face,
    snapshot_metadata,
)
from tlgan_tui.engine.generators.base import Generator


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "render", help="render an edited face to PNG",
        description="Render one face (--seed) or one per seed (--seeds 1-64 -o DIR/), moved "
        "along feature axes with --set NAME=VALUE (in sigmas) while --lock NAME keeps "
        "features fixed. The PNG records everything needed to reproduce it: "
        "`tlgan render --from OUT.png -o AGAIN.png`.")
    add_generator_options(parser)
    add_axes_option(parser)
    seeds = parser.add_mutually_exclusive_group()
    seeds.add_argument("--seed", type=int, default=None, help="the face's seed (default 0)")
    seeds.add_argument("--seeds", metavar="LIST",
                       help="several faces, e.g. 1-64 or 1,5,9-12; -o must be a directory")
    seeds.add_argument("--from", dest="source", type=Path, metavar="PNG",
                       help="start from a PNG written by tlgan (snapshot or render)")
    parser.add_argument("--set", dest="sets", action="append", default=[],
                        metavar="NAME=VALUE", help="offset of a feature in sigmas (repeatable)")
    parser.add_argument("--lock", dest="locks", action="append", default=[], metavar="NAME",
                        help="keep this feature fixed while the others move (repeatable)")
    add_lock_options(parser)
    parser.add_argument("--size", type=int, default=None, metavar="PX",
                        help="output side in pixels (default: the generator's resolution)")
    add_output_options(parser, "OUT", "PNG file, or a directory with --seeds")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    assignments = [parse_assignment(text) for text in args.sets]
    seeds = parse_int_list(args.seeds) if args.seeds else [0 if args.seed is None else args.seed]
    if args.seeds:
        if args.output.suffix.lower() == ".png" and not args.output.is_dir():
            raise TlganError("with --seeds, -o must be a directory (e.g. -o faces/)")
        if args.output.exists() and not args.output.is_dir():
            raise TlganError(f"-o {args.output} is not a directory")
        for seed in seeds:
            check_output(args.output / f"seed-{seed:04d}.png", args.force)
    else:
        _check_png_target(args.output)
        check_output(args.output, args.force)
    snapshot = read_snapshot(args.source) if args.source else None
    if snapshot is not None:
        use_generator_of(args, snapshot.generator.get("sha256"))
        use_axes_of(args, snapshot.axes.get("sha256"))
    generator = open_generator(args)
    editing = bool(assignments or args.locks)
    axes = open_axes(args.axes, generator, required=editing, knobs=args.knobs)
    if axes is not None:
        check_assignments(assignments, args.locks, axes.names)
    if snapshot is not None:
        return _render_from(args, generator, axes, snapshot, assignments)
    states = held_states([_apply(EditState.fresh(generator.latent_for_seed(seed), _n(axes), seed,
                                                 generator.psi), axes, assignments, args.locks)
                          for seed in seeds], axes, generator, args)
    if args.seeds:
        targets = [args.output / f"seed-{seed:04d}.png" for seed in seeds]
    else:
        targets = [args.output]
    _write(generator, axes, states, targets, args.size or generator.resolution)
    if args.seeds:
        print(f"wrote {len(targets)} faces to {args.output}")
    else:
        print(f"wrote {args.output}")
    return 0


def _render_from(args: argparse.Namespace, generator: Generator, axes: FeatureAxes | None,
                 snapshot: Snapshot, assignments: list[tuple[str, float]]) -> int:
    made_with = snapshot.generator.get("sha256")
    if made_with != generator.info.sha256:
        raise TlganError(
            f"{args.source} was made with generator {snapshot.generator.get('name', '?')} "
            f"({snapshot.generator.get('ident', '?')}); pass --generator with that model")
    if not generator.fits(snapshot.latent):
        raise TlganError(f"{args.source}: its latent does not fit {generator.info.name}")
    size = args.size or snapshot.size
    if not (assignments or args.locks):
        # The stored latent is exactly what made the pixels: no axes needed.
        snapshot.edit_state(len(snapshot.features))  # refuse a malformed state early
        image = resize_face(generator.render(snapshot.latent), size)
        metadata = dict(snapshot.raw, size=size)
        atomic_write_png(image, args.output, metadata)
        print(f"wrote {args.output}")
        return 0
    assert axes is not None
    if [n.lower() for n in axes.names] != [n.lower() for n in snapshot.features]:
        raise TlganError(f"{args.source} was made with other feature axes "
                         f"({snapshot.axes.get('ident', '?')}); pass the same --axes")
    state = _apply(snapshot.edit_state(len(axes.names)), axes, assignments, args.locks)
    _write(generator, axes, held_states([state], axes, generator, args), [args.output], size)
    print(f"wrote {args.output}")
    return 0


def _n(axes: FeatureAxes | None) -> int:
    return 0 if axes is None else len(axes.names)


def _apply(state: EditState, axes: FeatureAxes | None, assignments: list[tuple[str, float]],
           locks: list[str]) -> EditState:
    if axes is None:
        return state
    for name, value in assignments:
        state = state.set_offset(axes.index(name), value)
    locked = list(state.locked)
    for name in locks:
        index = axes.index(name)
        if index not in locked:
            locked.append(index)
    return replace(state, locked=tuple(locked))


def _check_png_target(path: Path) -> None:
    if path.is_dir():
        raise TlganError(f"-o {path} is a directory; give a .png file name")


def _write(generator: Generator, axes: FeatureAxes | None, states: list[EditState],
           targets: list[Path], size: int, batch: int = 64) -> None:
    directions = axes.directions if axes is not None else np.zeros((0, generator.latent_dim))
    sigmas = axes.sigmas if axes is not None else np.zeros(0)
    for start in range(0, len(states), batch):
        chunk = states[start : start + batch]
        latents = np.stack([s.latent(directions, sigmas) for s in chunk])
        images = generator.synthesize(latents)
        for state, latent, image, target in zip(chunk, latents, images,
                                                targets[start : start + batch], strict=True):
            metadata = snapshot_metadata(
                generator.info, axes.ident if axes else "none", axes.sha256 if axes else "",
                axes.names if axes else [], state, latent, size)
            atomic_write_png(resize_face(Image.fromarray(image), size), target, metadata)
