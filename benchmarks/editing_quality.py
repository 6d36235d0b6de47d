"""Efficacy and lock fidelity of the shipped axes on the default generator.

    python benchmarks/editing_quality.py [--seeds 256]

Efficacy: with Male=+3 vs Male=-3 (sigmas), the share of seeds whose measured
male probability moves the right way (target >= 90%).
Lock fidelity: for every ordered pair (A, B) of supervised features, moving A
by -3 and +3 with B locked changes B's mean measured value by at most a tenth
of B's own -3 -> +3 effect. Printed with and without the lock.
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np
import torch

from tlgan_tui.engine.axes import FeatureAxes
from tlgan_tui.engine.extractors.defaults import load_extractors
from tlgan_tui.engine.generators.loading import load_generator
from tlgan_tui.engine.paths import default_axes_path
from tlgan_tui.engine.rescoring import effect_of_move


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=256)
    parser.add_argument("--amount", type=float, default=3.0)
    args = parser.parse_args()
    generator = load_generator(None, torch.device("cpu"))
    extractors = load_extractors()
    axes = FeatureAxes.load(default_axes_path())
    starts = np.stack([generator.latent_for_seed(s) for s in range(args.seeds)])
    supervised = [i for i, ok in enumerate(axes.supervised) if ok]
    column = {i: extractors.index(axes.names[i]) for i in supervised}

    print(f"# {args.seeds} seeds (0..{args.seeds - 1}), moves of +/-{args.amount:g} sigma")
    own: dict[int, float] = {}
    for i in supervised:
        minus, plus = effect_of_move(generator, extractors, axes, starts, i, args.amount)
        c = column[i]
        own[i] = float(np.nanmean(plus[:, c] - minus[:, c]))
        right_way = np.nanmean(plus[:, c] > minus[:, c])
        print(f"efficacy {axes.names[i]}: mean change {own[i]:+.3f}, "
              f"moves the right way for {right_way:.1%} of seeds")

    print("\n# lock fidelity: mean change of B when A moves -> +, "
          "as a share of B's own effect (target <= 0.10 with the lock)")
    print(f"{'A (moved)':>12} {'B':>8} {'B own':>9} {'free ΔB':>9} {'share':>7} "
          f"{'locked ΔB':>10} {'share':>7} {'ok':>4}")
    for a, b in itertools.permutations(supervised, 2):
        cb = column[b]
        free_minus, free_plus = effect_of_move(generator, extractors, axes, starts, a,
                                               args.amount)
        lock_minus, lock_plus = effect_of_move(generator, extractors, axes, starts, a,
                                               args.amount, locked=[b])
        free = float(np.nanmean(free_plus[:, cb] - free_minus[:, cb]))
        locked = float(np.nanmean(lock_plus[:, cb] - lock_minus[:, cb]))
        share_free, share_locked = abs(free / own[b]), abs(locked / own[b])
        print(f"{axes.names[a]:>12} {axes.names[b]:>8} {own[b]:>+9.3f} {free:>+9.3f} "
              f"{share_free:>7.2f} {locked:>+10.3f} {share_locked:>7.2f} "
              f"{'yes' if share_locked <= 0.1 else 'NO':>4}")


if __name__ == "__main__":
    main()
