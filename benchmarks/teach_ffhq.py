"""Target: a knob taught from 60 labels moves its scorer the right way for >= 90% of 64 seeds.

Labels 60 faces by a scorer (the default extractor's Male probability > 0.5),
runs `tlgan teach` on them, then moves 64 held-out faces -2 and +2 sigma
along the taught knob and counts how often Male comes out higher at +2.

    python benchmarks/teach_ffhq.py --generator ffhq [--device cuda]
    python benchmarks/teach_ffhq.py                      # the DCGAN default
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--generator", default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--labels", type=int, default=60)
    parser.add_argument("--held-out", type=int, default=64)
    parser.add_argument("--feature", default="Male")
    parser.add_argument("--step", type=float, default=2.0)
    options = parser.parse_args()

    from tlgan_tui.cli import build_parser
    from tlgan_tui.cli import main as tlgan
    from tlgan_tui.cli.common import open_extractors, open_generator
    from tlgan_tui.engine.knobs import KnobFile
    from tlgan_tui.engine.sampling import score_latents

    work = Path(tempfile.mkdtemp(prefix="teach-bench-"))
    os.environ["TLGAN_DATA_DIR"] = str(work / "data")
    extra = ["--device", options.device] + (
        ["--generator", options.generator] if options.generator else [])
    args = build_parser().parse_args(["teach", "X", "--labels", "x.csv", *extra])
    generator = open_generator(args)
    extractors = open_extractors(args)
    column = extractors.names.index(options.feature)
    print(f"generator {generator.info.name} ({generator.info.latent_space}, "
          f"{generator.latent_dim}-d) on {generator.device}")

    seeds = list(range(10_000, 10_000 + options.labels))
    start = time.perf_counter()
    latents = np.stack([generator.latent_for_seed(s) for s in seeds])
    scores = score_latents(generator, extractors, latents, batch_size=16)[:, column]
    ok = np.isfinite(scores)
    labels = scores > 0.5
    rows = [f"{s},{'y' if y else 'n'}" for s, y, good in zip(seeds, labels, ok, strict=True)
            if good]
    csv = work / "labels.csv"
    csv.write_text("seed,label\n" + "\n".join(rows) + "\n")
    print(f"labelled {len(rows)} faces ({int(labels[ok].sum())} y) in "
          f"{time.perf_counter() - start:.1f} s")

    knobs = work / "knobs.safetensors"
    start = time.perf_counter()
    code = tlgan(["teach", "Taught", "--labels", str(csv), "-o", str(knobs), *extra])
    if code:
        return code
    print(f"tlgan teach: {time.perf_counter() - start:.1f} s")
    knob = KnobFile.load(knobs).get("Taught")

    held = np.stack([generator.latent_for_seed(s) for s in range(20_000,
                                                                 20_000 + options.held_out)])
    move = options.step * knob.sigma * knob.direction[None].astype(np.float32)
    minus = score_latents(generator, extractors, (held - move).astype(np.float32), 16)[:, column]
    plus = score_latents(generator, extractors, (held + move).astype(np.float32), 16)[:, column]
    valid = np.isfinite(minus) & np.isfinite(plus)
    right = float(np.mean(plus[valid] > minus[valid]))
    print(f"{options.feature} moved the right way for {100 * right:.1f}% of "
          f"{int(valid.sum())} held-out seeds (+/-{options.step:g} sigma; mean change "
          f"{float(np.mean(plus[valid] - minus[valid])):+.3f})")
    return 0 if right >= 0.9 else 1


if __name__ == "__main__":
    sys.exit(main())
