"""`tlgan teach NAME --labels FILE.csv`: a knob from yes/no labels, without the editor.

The CSV has `seed,label` rows (a tlgan seed) or `png,label` rows (a snapshot
PNG that tlgan wrote; its edited latent is the face). Labels are y/n, yes/no
or 1/0. An optional header row (`seed,label` or `png,label`) is skipped.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

from tlgan_tui.cli.common import add_generator_options, open_generator
from tlgan_tui.engine.errors import TlganError

YES_WORDS = {"y", "yes", "1", "true"}
NO_WORDS = {"n", "no", "0", "false"}
MAX_SEED = 2**32 - 1
MAX_ROWS = 100_000


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "teach", help="teach a knob from yes/no labels of faces (CSV)",
        description="Fit a knob NAME from a CSV of `seed,label` or `png,label` rows "
        "(label y/n or 1/0); prints its cross-validated accuracy. Without -o the knob "
        "joins your own knobs (loaded by every command); with -o it goes to that file, "
        "which any command takes with --knobs FILE.")
    parser.add_argument("name", help="the knob's name, e.g. Hat")
    parser.add_argument("--labels", type=Path, required=True, metavar="FILE.csv",
                        help="seed,label or png,label rows")
    parser.add_argument("-o", "--output", type=Path, metavar="KNOBS.safetensors",
                        help="knobs file to write or add to (default: your own knobs)")
    add_generator_options(parser)
    parser.set_defaults(func=run)


def parse_label(text: str, where: str) -> int:
    word = text.strip().lower()
    if word in YES_WORDS:
        return 1
    if word in NO_WORDS:
        return 0
    raise TlganError(f"{where}: label {text.strip()!r} is not y/n or 1/0")


def read_labels(path: Path, generator_sha256: str, dim: int
                ) -> tuple[list[int | None], list[Path | None], list[np.ndarray | None],
                           list[int]]:
    """(seeds, pngs, latents-from-png, labels) per row; latents of seeds come later."""
    if not path.is_file():
        raise TlganError(f"labels file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise TlganError(f"{path}: not a text (UTF-8) CSV file") from None
    seeds: list[int | None] = []
    pngs: list[Path | None] = []
    latents: list[np.ndarray | None] = []
    labels: list[int] = []
    for number, row in enumerate(csv.reader(text.splitlines()), start=1):
        where = f"{path}:{number}"
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != 2:
            raise TlganError(f"{where}: expected 2 columns (seed,label or png,label), "
                             f"got {len(row)}")
        key, label_text = row[0].strip(), row[1]
        if number == 1 and key.lower() in ("seed", "png") and label_text.strip().lower() == "label":
            continue
        label = parse_label(label_text, where)
        if key.lower().endswith(".png"):
            png = (path.parent / key) if not Path(key).is_absolute() else Path(key)
            latents.append(_snapshot_latent(png, generator_sha256, dim, where))
            pngs.append(png)
            seeds.append(None)
        else:
            try:
                seed = int(key)
            except ValueError:
                raise TlganError(f"{where}: {key!r} is neither a seed nor a .png "
                                 "snapshot") from None
            if not 0 <= seed <= MAX_SEED:
                raise TlganError(f"{where}: unknown seed {seed} (seeds are 0..{MAX_SEED})")
            seeds.append(seed)
            pngs.append(None)
            latents.append(None)
        labels.append(label)
        if len(labels) > MAX_ROWS:
            raise TlganError(f"{path}: more than {MAX_ROWS} rows")
    if not labels:
        raise TlganError(f"{path}: no label rows")
    return seeds, pngs, latents, labels


def _snapshot_latent(png: Path, generator_sha256: str, dim: int, where: str) -> np.ndarray:
    from tlgan_tui.engine.export import read_snapshot

    if not png.is_file():
        raise TlganError(f"{where}: snapshot not found: {png}")
    try:
        snapshot = read_snapshot(png)
    except TlganError as error:
        raise TlganError(f"{where}: {error}") from None
    made_with = snapshot.generator.get("sha256")
    if made_with != generator_sha256:
        raise TlganError(f"{where}: {png.name} was made with generator "
                         f"{snapshot.generator.get('name', '?')}, not this one; pass the same "
                         "--generator")
    if snapshot.latent.ndim == 2:
        raise TlganError(f"{where}: {png.name} holds a per-layer (W+) latent; teaching takes "
                         "faces with one latent (project with --latent w)")
    if len(snapshot.latent) != dim:
        raise TlganError(f"{where}: {png.name}'s latent does not fit this generator")
    return np.asarray(snapshot.latent, dtype=np.float32)


def run(args: argparse.Namespace) -> int:
    from tlgan_tui.cli.options import shipped_feature_names
    from tlgan_tui.engine.knob_fitting import generator_prior, knob_from_fit, spread
    from tlgan_tui.engine.knobs import KnobFile, check_name, store_path
    from tlgan_tui.engine.teaching import fit_knob

    name = check_name(args.name)
    generator = open_generator(args)
    info = generator.info
    target = Path(args.output) if args.output is not None else store_path(info)
    knobs = KnobFile.load(target) if target.is_file() else KnobFile.empty(info)
    knobs.check_generator(info, str(target))
    taken = shipped_feature_names(generator)
    if name.lower() in {t.lower() for t in taken} or knobs.find(name) is not None:
        raise TlganError(f"a knob or feature named {name!r} already exists"
                         f"{' in ' + str(target) if knobs.find(name) is not None else ''}; "
                         "choose another name")
    seeds, _, latents, labels = read_labels(Path(args.labels), info.sha256,
                                            generator.latent_dim)
    rows = np.stack([latent if latent is not None else generator.latent_for_seed(int(seed))
                     for seed, latent in zip(seeds, latents, strict=True)])
    fit = fit_knob(rows, np.asarray(labels), generator_prior(generator))
    knob = knob_from_fit(name, fit, rows, labels, spread(generator, fit.direction), "labels")
    knobs.add(knob, taken)
    knobs.save(target)
    folds = min(5, fit.n_yes, fit.n_no)
    print(f"{name}: cross-validated accuracy {fit.cv_accuracy:.3f} ({folds}-fold, class-balanced; "
          f"{fit.n_yes} yes, {fit.n_no} no)")
    print(f"wrote {target}" + ("" if args.output else " (your knobs: every command loads them)"))
    return 0
