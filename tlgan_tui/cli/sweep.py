"""`tlgan sweep`: a labelled grid, seeds x steps along one feature."""

from __future__ import annotations

import argparse

import numpy as np
from PIL import Image

from tlgan_tui.cli.common import add_generator_options, open_generator
from tlgan_tui.cli.options import (
    add_axes_option,
    add_lock_options,
    add_output_options,
    check_assignments,
    check_output,
    held_states,
    open_axes,
    parse_float_list,
    parse_int_list,
)
from tlgan_tui.engine.edit_state import EditState
from tlgan_tui.engine.errors import TlganError
from tlgan_tui.engine.export import atomic_write_png, labelled_grid

MAX_CELLS = 4096


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sweep", help="grid of faces moved along one feature",
        description="One row per seed, one column per step (in sigmas) along --feature, "
        "with --lock NAME features held fixed: the figure of latent-editing papers.")
    add_generator_options(parser)
    add_axes_option(parser)
    parser.add_argument("--feature", required=True, help="feature to move (case-insensitive)")
    parser.add_argument("--seeds", default="1,2,3", help="rows (default 1,2,3)")
    parser.add_argument("--steps", default="-3,-1.5,0,1.5,3",
                        help="columns, in sigmas (default -3,-1.5,0,1.5,3)")
    parser.add_argument("--lock", dest="locks", action="append", default=[], metavar="NAME")
    add_lock_options(parser)
    parser.add_argument("--cell", type=int, default=128, help="side of each face in px (128)")
    add_output_options(parser, "GRID.png", "the grid, a PNG file")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    seeds = parse_int_list(args.seeds)
    steps = parse_float_list(args.steps)
    if len(seeds) * len(steps) > MAX_CELLS:
        raise TlganError(f"grid too large ({len(seeds)} x {len(steps)} faces)")
    if args.output.is_dir():
        raise TlganError(f"-o {args.output} is a directory; give a .png file name")
    check_output(args.output, args.force)
    generator = open_generator(args)
    axes = open_axes(args.axes, generator, knobs=args.knobs)
    assert axes is not None
    feature = axes.index(args.feature)
    check_assignments([(args.feature, 0.0)], args.locks, axes.names)
    locked = tuple(dict.fromkeys(axes.index(name) for name in args.locks))
    rows: list[list[Image.Image]] = []
    for seed in seeds:
        base = EditState.fresh(generator.latent_for_seed(seed), len(axes.names), seed,
                               generator.psi, locked)
        cells = held_states([base.set_offset(feature, step) for step in steps], axes,
                            generator, args)
        latents = np.stack([cell.latent(axes.directions, axes.sigmas) for cell in cells])
        rows.append([Image.fromarray(face) for face in generator.synthesize(latents)])
    name = axes.names[feature]
    lock_note = f" (locked: {', '.join(axes.names[i] for i in locked)})" if locked else ""
    grid = labelled_grid(rows, [f"seed {s}" for s in seeds], [f"{step:+g}" for step in steps],
                         title=f"{name}{lock_note}, sigmas", cell=args.cell)
    metadata = {"kind": "sweep", "description": f"tlgan sweep of {name}{lock_note}",
                "feature": name,
                "seeds": seeds, "steps": steps, "locked": [axes.names[i] for i in locked],
                "generator": generator.info.ident, "axes": axes.ident}
    atomic_write_png(grid, args.output, metadata)
    print(f"wrote {args.output} ({len(seeds)} x {len(steps)} faces)")
    return 0
