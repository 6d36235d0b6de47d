"""Would sending only the changed half-cell rows save bytes? Share of rows unchanged per key.

    python benchmarks/halfcell_rows_changed.py

Renders 6 key steps (0.4 sigma each, the editor's default step) along Age,
Smiling and Yaw for two FFHQ seeds at the 128-px preview, shrinks each frame
to the half-cell grid of the 120x36 test terminal (61 x 30 cells, 2 pixels per
cell) as the renderer does, and counts the rows whose colours are identical
between consecutive frames: only those could be skipped.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch
from PIL import Image

from tlgan_tui.engine.axes import FeatureAxes
from tlgan_tui.engine.generators.loading import load_generator
from tlgan_tui.engine.paths import default_axes_path
from tlgan_tui.engine.rescoring import moved_latents

COLUMNS, ROWS, STEP = 61, 30, 0.4


def main() -> None:
    generator = load_generator(None, torch.device("cpu"))
    axes = FeatureAxes.load(default_axes_path())
    for knob in ("Age", "Smiling", "Yaw"):
        axis = axes.names.index(knob)
        for seed in (3, 7):
            start = generator.latent_for_seed(seed)[None]
            latents = np.concatenate([moved_latents(start, axes, axis, STEP * k)
                                      for k in range(6)])
            grids = [np.asarray(Image.fromarray(image).resize(
                (COLUMNS, 2 * ROWS), Image.Resampling.BOX))
                for image in generator.synthesize(latents, size=128)]
            unchanged = [np.mean([np.array_equal(a[2 * r:2 * r + 2], b[2 * r:2 * r + 2])
                                  for r in range(ROWS)]) for a, b in itertools.pairwise(grids)]
            print(f"{knob} seed {seed}: share of the {ROWS} rows unchanged per key: "
                  f"{np.round(unchanged, 2).tolist()}")


if __name__ == "__main__":
    main()
