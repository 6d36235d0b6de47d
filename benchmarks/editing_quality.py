"""Edit quality of an axes file: does each named knob move what it names, and do locks hold?

    python benchmarks/editing_quality.py [--generator FILE] [--axes FILE] [--seeds 256]
                                         [--size 96] [--amount 3]

Efficacy, for every named knob in the axes file: the share of N seeds whose
measured value moves the right way from -3 to +3 sigma (target >= 90%; a knob
under 75% is not shipped), counted over the seeds scored at both ends; the
share scored is printed too.
Lock leakage, for every ordered pair among Male, Age, Smiling and Yaw present:
the change of B when A moves -3 -> +3 with B locked, divided by B's own
-3 -> +3 effect (target <= 0.10), with the lock the editor uses (measured:
the linear lock, then B's offset corrected until B measures what it did on
the unedited face, engine/measured_lock.py); also with the linear lock alone
and without a lock. "|B-B0|" is the mean per-face distance of the locked B
from its value on the unedited face, as a share of B's own effect.
Sweeps: one PNG per knob under benchmarks/results/sweeps_<generator>/ (4 seeds x
5 steps, --size px cells), to look at what each knob does.
"""

from __future__ import annotations

import argparse
import itertools
import re
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from tlgan_tui.cli.common import generator_path
from tlgan_tui.engine.axes import FeatureAxes
from tlgan_tui.engine.edit_state import EditState
from tlgan_tui.engine.errors import TlganError
from tlgan_tui.engine.export import labelled_grid
from tlgan_tui.engine.extractors.defaults import load_extractors
from tlgan_tui.engine.generators.loading import load_generator
from tlgan_tui.engine.measured_lock import correct, lock_steps, prior_slopes
from tlgan_tui.engine.paths import default_axes_path
from tlgan_tui.engine.rescoring import effect_of_move, moved_latents
from tlgan_tui.engine.sampling import score_latents

LOCK_PAIRS = ("Male", "Age", "Smiling", "Yaw")
SWEEP_STEPS = (-3.0, -1.5, 0.0, 1.5, 3.0)
SWEEP_SEEDS = (1, 2, 3, 4)
RESULTS = Path(__file__).parent / "results"
MAX_SWEEP_BYTES = 150_000


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "generator"


def save_sweep(generator, axes: FeatureAxes, axis: int, directory: Path, size: int,
               render_size: int | None = None) -> Path:
    starts = np.stack([generator.latent_for_seed(s) for s in SWEEP_SEEDS])
    rows = [[Image.fromarray(f) for f in generator.synthesize(
        np.stack([moved_latents(start[None], axes, axis, step)[0] for step in SWEEP_STEPS]),
        size=render_size)]
        for start in starts]
    grid = labelled_grid(rows, [f"seed {s}" for s in SWEEP_SEEDS],
                         [f"{s:+g}" for s in SWEEP_STEPS], title=axes.names[axis], cell=size)
    path = directory / f"{slug(axes.names[axis])}.png"
    grid.save(path, optimize=True)
    if path.stat().st_size > MAX_SWEEP_BYTES:  # keep the results folder small
        grid.quantize(256, dither=Image.Dither.NONE).save(path, optimize=True)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generator", default=None, help="generator file (default: shipped)")
    parser.add_argument("--axes", type=Path, default=None, help="axes file (default: shipped)")
    parser.add_argument("--seeds", type=int, default=256)
    parser.add_argument("--size", type=int, default=96, help="sweep cell side in px")
    parser.add_argument("--amount", type=float, default=3.0)
    parser.add_argument("--locks-only", action="store_true",
                        help="only the lock-leakage table (the pair knobs' moves, no sweeps)")
    parser.add_argument("--render-size", type=int, default=None,
                        help="score faces rendered at this preview size (as `fit --sample-size`)")
    args = parser.parse_args()
    started = time.perf_counter()
    if args.seeds < 2 or not 16 <= args.size <= 512:
        raise SystemExit("--seeds must be >= 2 and --size in 16..512")
    try:
        generator = load_generator(generator_path(args.generator), torch.device("cpu"))
        axes = FeatureAxes.load(args.axes or default_axes_path())
        axes.check_generator(generator.info)
    except TlganError as error:
        raise SystemExit(f"error: {error}") from None
    extractors = load_extractors()
    sweeps = RESULTS / f"sweeps_{slug(generator.info.name)}"
    sweeps.mkdir(parents=True, exist_ok=True)
    starts = np.stack([generator.latent_for_seed(s) for s in range(args.seeds)])
    known = {n.lower() for n in extractors.names}
    knobs = [i for i, ok in enumerate(axes.supervised) if ok and axes.names[i].lower() in known]
    column = {i: extractors.index(axes.names[i]) for i in knobs}

    print(f"# {generator.info.name}, axes {args.axes or default_axes_path()}; "
          f"{args.seeds} seeds (0..{args.seeds - 1}), moves of +/-{args.amount:g} sigma, "
          f"scored at {args.render_size or generator.resolution} px")
    print(f"{'knob':>22} {'mean change':>12} {'right way':>10} {'scored':>7} {'verdict':>12}")
    own: dict[int, float] = {}
    moves: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for i in knobs:
        if args.locks_only and axes.names[i] not in LOCK_PAIRS:
            continue
        minus, plus = effect_of_move(generator, extractors, axes, starts, i, args.amount,
                                     size=args.render_size)
        moves[i] = (minus, plus)
        c = column[i]
        both = np.isfinite(minus[:, c]) & np.isfinite(plus[:, c])
        own[i] = float(np.mean(plus[both, c] - minus[both, c])) if both.any() else np.nan
        right = float(np.mean(plus[both, c] > minus[both, c])) if both.any() else np.nan
        verdict = "ok" if right >= 0.9 else ("weak" if right >= 0.75 else "NOT SHIPPED")
        unit = extractors.features[c].unit
        print(f"{axes.names[i]:>22} {own[i]:>+12.3f} {right:>10.1%} {both.mean():>7.1%} "
              f"{verdict:>12}  {unit}")
        if not args.locks_only:
            save_sweep(generator, axes, i, sweeps, args.size, args.render_size)
    if not args.locks_only:
        print(f"\nsweeps: {sweeps}/")

    pair_axes = [i for i in knobs if axes.names[i] in LOCK_PAIRS]
    base = score_latents(generator, extractors, starts, 128, args.render_size)
    print("\n# lock leakage: change of B when A moves -> +, as a share of B's own effect "
          "(target <= 0.10 with B locked)")
    print(f"{'A (moved)':>10} {'B':>8} {'B own':>9} {'free':>6} {'linear':>7} "
          f"{'measured ΔB':>12} {'share':>6} {'|B-B0| lin':>10} {'meas':>6} {'renders':>8} "
          f"{'ok':>4}")
    for a, b in itertools.permutations(pair_axes, 2):
        cb = column[b]
        free_minus, free_plus = moves[a]
        lock_minus, lock_plus = effect_of_move(generator, extractors, axes, starts, a,
                                               args.amount, locked=[b], size=args.render_size)
        held, renders = [], 0
        for sign, linear in ((-1.0, lock_minus), (1.0, lock_plus)):
            latents = moved_latents(starts, axes, a, sign * args.amount, locked=[b])
            steps = lock_steps(EditState.fresh(starts[0], len(axes.names), locked=(b,)), axes)

            def measure(x: np.ndarray, cb: int = cb) -> np.ndarray:
                nonlocal renders
                renders += len(x)
                return score_latents(generator, extractors, x, 128, args.render_size)[:, [cb]]

            _, values = correct(latents, steps, linear[:, [cb]], base[:, [cb]],
                                prior_slopes(axes, [b]), measure)
            held.append(values[:, 0])
        free = float(np.nanmean(free_plus[:, cb] - free_minus[:, cb]))
        linear_change = float(np.nanmean(lock_plus[:, cb] - lock_minus[:, cb]))
        measured = float(np.nanmean(held[1] - held[0]))
        drift_linear = np.nanmean(np.abs(np.r_[lock_minus[:, cb], lock_plus[:, cb]]
                                         - np.r_[base[:, cb], base[:, cb]]))
        drift_held = np.nanmean(np.abs(np.r_[held[0], held[1]] - np.r_[base[:, cb], base[:, cb]]))
        share = abs(measured / own[b])
        print(f"{axes.names[a]:>10} {axes.names[b]:>8} {own[b]:>+9.3f} "
              f"{abs(free / own[b]):>6.2f} {abs(linear_change / own[b]):>7.2f} "
              f"{measured:>+12.3f} {share:>6.2f} {abs(drift_linear / own[b]):>10.2f} "
              f"{abs(drift_held / own[b]):>6.2f} {renders / (2 * args.seeds):>8.2f} "
              f"{'yes' if share <= 0.1 else 'NO':>4}")
    print("\nrenders: extra faces rendered and measured per edited face by the measured lock")
    print(f"took {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
