"""`tlgan project`: a photo -> the latent of its face, as a snapshot PNG to edit."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from tlgan_tui.cli.common import add_generator_options, open_generator
from tlgan_tui.cli.options import add_axes_option, open_axes
from tlgan_tui.engine.errors import TlganError

MAX_STEPS = 10_000
MIN_SIZE, MAX_SIZE = 32, 1024


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "project", help="find the latent of the face in a photo (edit your own photo)",
        description="Find the face in PHOTO (the largest, if there are several), align it "
        "the way the generator's training faces were aligned, and optimise a latent until "
        "the generator draws it. Writes a snapshot PNG (open it with `tlgan --from OUT.png`, "
        "re-render it with `tlgan render --from OUT.png`) and OUT-compare.png (aligned photo "
        "| reconstruction).")
    parser.add_argument("photo", type=Path, metavar="PHOTO", help="a JPEG/PNG/WebP photo")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="SNAPSHOT.png",
                        help="the snapshot PNG to write")
    add_generator_options(parser)
    add_axes_option(parser)
    parser.add_argument("--steps", type=int, default=None, metavar="N",
                        help="optimisation steps (default 300, about a minute on 2 CPU cores "
                        "at 256 px; stops early when the loss stops improving)")
    parser.add_argument("--size", type=int, default=256, metavar="PX",
                        help="working size in pixels (default 256, capped at the generator's "
                        "resolution); the snapshot is always full resolution")
    parser.add_argument("--latent", choices=("w", "w+"), default="w",
                        help="w: one latent, as every face in the editor (default); w+: one "
                        "latent per synthesis layer (StyleGAN-type generators): closer to "
                        "the photo, and every edit moves all layers together")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the start candidates (default 0)")
    parser.add_argument("--force", action="store_true",
                        help="overwrite OUT.png and OUT-compare.png if they exist")
    parser.set_defaults(func=run)


def compare_path(output: Path) -> Path:
    return output.with_name(f"{output.stem}-compare.png")


def run(args: argparse.Namespace) -> int:
    import numpy as np
    from PIL import Image

    from tlgan_tui.engine.edit_state import EditState
    from tlgan_tui.engine.export import atomic_write_png, snapshot_metadata
    from tlgan_tui.engine.inversion import InversionSettings, Progress
    from tlgan_tui.engine.projection import project_photo

    if args.steps is not None and not 1 <= args.steps <= MAX_STEPS:
        raise TlganError(f"--steps must be between 1 and {MAX_STEPS}")
    if not MIN_SIZE <= args.size <= MAX_SIZE:
        raise TlganError(f"--size must be between {MIN_SIZE} and {MAX_SIZE}")
    output: Path = args.output
    if output.suffix.lower() != ".png":
        raise TlganError(f"-o {output}: the snapshot must be a .png file")
    compare = compare_path(output)
    for target in (output, compare):
        if target.is_dir():
            raise TlganError(f"{target} is a directory")
        if target.exists() and not args.force:
            raise TlganError(f"{target} exists; pass --force to overwrite it")
    if not args.photo.exists():
        raise TlganError(f"photo not found: {args.photo}")
    generator = open_generator(args)
    per_layer = args.latent == "w+"
    if per_layer and not generator.num_ws:
        raise TlganError(f"--latent w+ needs a StyleGAN-type generator; {generator.info.name} "
                         "takes one latent per face")
    axes = open_axes(args.axes, generator, required=False)
    interactive = sys.stderr.isatty()

    def show(p: Progress) -> None:
        line = (f"step {p.step}/{p.steps} ({p.phase})  loss {p.loss:.4f}  "
                f"pixel {p.pixel:.4f}  identity {p.identity:.3f}")
        if interactive:
            filled = int(30 * p.step / p.steps)
            print(f"\r[{'#' * filled}{'.' * (30 - filled)}] {line}", end="", file=sys.stderr,
                  flush=True)
        elif p.step == 1 or p.step % 10 == 0 or p.step == p.steps:
            print(line, file=sys.stderr, flush=True)

    settings = InversionSettings(size=args.size, seed=args.seed, per_layer=per_layer)
    if args.steps is not None:
        settings = replace(settings, steps=args.steps)
    result = project_photo(args.photo, generator, settings, show,
                           notes=lambda text: print(text, file=sys.stderr))
    if interactive:
        print(file=sys.stderr)
    names = axes.names if axes is not None else []
    state = EditState.fresh(result.latent, len(names), seed=None, psi=None)
    directions = axes.directions if axes is not None else np.zeros((0, generator.latent_dim))
    sigmas = axes.sigmas if axes is not None else np.zeros(0)
    latent = state.latent(directions, sigmas)
    metadata = snapshot_metadata(generator.info, axes.ident if axes else "none",
                                 axes.sha256 if axes else "", names, state, latent,
                                 generator.resolution)
    metadata["projection"] = {
        "photo": args.photo.name, "alignment": result.alignment, "latent": args.latent,
        "steps_run": result.inversion.steps_run, "working_size": int(result.aligned.shape[0]),
        "psnr_db": round(result.psnr, 3),
        "descriptor_distance": round(result.descriptor_distance, 4),
    }
    image = Image.fromarray(generator.synthesize(latent[None])[0])
    atomic_write_png(image, output, metadata)
    atomic_write_png(result.compare_image(), compare,
                     {"description": f"tlgan projection of {args.photo.name}: aligned photo | "
                      "reconstruction", "kind": "compare"})
    stop = " (stopped early)" if result.inversion.stopped_early else ""
    verdict = "same person" if result.descriptor_distance < 0.6 else "not the same person"
    print(f"wrote {output} and {compare}: {result.inversion.steps_run} steps{stop}, "
          f"PSNR {result.psnr:.1f} dB at {result.aligned.shape[0]} px, descriptor distance "
          f"{result.descriptor_distance:.2f} ({verdict} by face-api's 0.6), "
          f"{result.seconds:.0f} s")
    return 0
