"""How well `tlgan project` works (issue 11): round trip, real photos, edits, time.

    python benchmarks/projection_quality.py [--seeds 16] [--steps N] [--photos PATH ...]
        [--out DIR] [--skip-round-trip]

Everything runs with `tlgan project`'s default settings (--steps overrides
the step count), one face at a time as the command does, at 256 px.

1. Round trip: render G(w*) at 256 px for seeds 0..N-1 (FFHQ, psi 0.7), invert
   each (the same losses as a photo: pixel pyramid, identity, prior) in W;
   PSNR of the reconstruction at 256 px; mean and per seed; seconds per face.
2. Real photos: the whole pipeline (read, detect, FFHQ-align, invert) in W
   and in W+: PSNR against the aligned photo, face-api descriptor distance
   (< 0.6: same person), seconds per photo. One image per photo goes to
   --out: aligned photo | W reconstruction | W+ reconstruction.
3. Edits after inversion: the shipped FFHQ axes' Male, Age and Smiling knobs
   at -2 and +2 sigma on every projected face (the editor's own edit, added
   to every layer in W+), measured with the default extractor at 256 px.
Prints a text report (kept in benchmarks/results/projection_quality.txt).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tlgan_tui.engine.edit_state import EditState  # noqa: E402
from tlgan_tui.engine.extractors.face_features import FaceFeatures  # noqa: E402
from tlgan_tui.engine.generators.base import Generator  # noqa: E402
from tlgan_tui.engine.generators.loading import load_generator  # noqa: E402
from tlgan_tui.engine.inversion import InversionSettings, invert  # noqa: E402
from tlgan_tui.engine.paths import shipped_axes_for, shipped_generator  # noqa: E402
from tlgan_tui.engine.projection import (  # noqa: E402
    ProjectionResult,
    face_box,
    face_finder,
    project_photo,
    psnr,
    render_at,
)

SIZE = 256
EDIT_FEATURES = ("Male", "Age", "Smiling")
GAP = 4


def say(text: str) -> None:
    print(text, flush=True)


def round_trip(generator: Generator, seeds: int, settings: InversionSettings) -> None:
    say(f"\n## Round trip: {seeds} FFHQ seeds, W, {settings.steps} steps max, {SIZE} px, "
        "one face at a time")
    finder = face_finder()
    box = face_box(finder, SIZE)  # generated FFHQ faces: the central 60%
    values, seconds = [], []
    for seed in range(seeds):
        target = generator.synthesize(generator.latent_for_seed(seed)[None], size=SIZE)[0]
        goal = torch.from_numpy(target.astype(np.float32)).permute(2, 0, 1)[None]
        with torch.no_grad():
            goal_desc = finder.describe(goal, box)

        def identity(images: torch.Tensor, goal_desc: torch.Tensor = goal_desc) -> torch.Tensor:
            pixels = (images.clamp(-1, 1) + 1) * 127.5
            return (finder.describe(pixels, box) - goal_desc).norm(dim=1)

        started = time.perf_counter()
        result = invert(generator, target, settings, identity)
        seconds.append(time.perf_counter() - started)
        values.append(psnr(target, render_at(generator, result.latent, SIZE)))
        say(f"  seed {seed:2d}: PSNR {values[-1]:.2f} dB, {result.steps_run} steps"
            f"{' (early stop)' if result.stopped_early else ''}, {seconds[-1]:.1f} s")
    say(f"  mean PSNR {np.mean(values):.2f} dB (median {np.median(values):.2f}, min "
        f"{np.min(values):.2f}, max {np.max(values):.2f}); >= 25 dB: "
        f"{sum(v >= 25 for v in values)}/{len(values)}; {np.mean(seconds):.1f} s per face "
        f"(max {np.max(seconds):.1f})")


def real_photos(generator: Generator, photos: list[Path], settings: InversionSettings,
                out: Path) -> list[tuple[str, str, ProjectionResult]]:
    say(f"\n## Real photos: {settings.steps} steps max, working size {SIZE} px")
    projected = []
    for path in photos:
        row = []
        for kind in ("w", "w+"):
            result = project_photo(path, generator, replace(settings, per_layer=kind == "w+"))
            projected.append((path.name, kind, result))
            row.append(result)
            say(f"  {path.name} {kind:2s}: {result.face_note}; PSNR {result.psnr:.2f} dB, "
                f"descriptor distance {result.descriptor_distance:.3f}, "
                f"{result.inversion.steps_run} steps, {result.seconds:.1f} s")
        panels = [row[0].aligned] + [r.reconstruction for r in row]
        canvas = Image.new("RGB", (len(panels) * SIZE + (len(panels) - 1) * GAP, SIZE),
                           (255, 255, 255))
        for i, panel in enumerate(panels):
            canvas.paste(Image.fromarray(panel), (i * (SIZE + GAP), 0))
        canvas.quantize(256).save(out / f"projection-{path.stem}.png", optimize=True)
    return projected


def edits(generator: Generator, projected: list[tuple[str, str, ProjectionResult]]) -> None:
    axes = shipped_axes_for(generator.info.sha256)
    assert axes is not None, "the shipped FFHQ axes are missing"
    say(f"\n## Edits after inversion: shipped axes {axes.ident}, +-2 sigma, measured at "
        f"{SIZE} px")
    extractor = FaceFeatures("detect")
    names = [f.name for f in extractor.features]
    right = total = 0
    for photo, kind, result in projected:
        row = []
        state = EditState.fresh(result.latent, len(axes.names))
        for name in EDIT_FEATURES:
            knob = axes.index(name)
            moved = [state.set_offset(knob, k).latent(axes.directions, axes.sigmas)
                     for k in (-2.0, 2.0)]
            frames = np.stack([render_at(generator, m, SIZE) for m in moved])
            values = extractor.score(frames)[:, names.index(name)]
            ok = bool(values[1] > values[0])
            right += ok
            total += 1
            row.append(f"{name} {values[0]:.2f} -> {values[1]:.2f} {'ok' if ok else 'WRONG'}")
        say(f"  {photo} {kind:2s}: " + "; ".join(row))
    say(f"  moved the right way: {right}/{total}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=16)
    parser.add_argument("--steps", type=int, default=None, help="default: the command's")
    parser.add_argument("--photos", type=Path, nargs="*", default=[])
    parser.add_argument("--out", type=Path, default=Path("/tmp/projection-bench"))
    parser.add_argument("--skip-round-trip", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(2)
    args.out.mkdir(parents=True, exist_ok=True)
    ffhq = shipped_generator("ffhq")
    assert ffhq is not None
    generator = load_generator(ffhq.weights_path, torch.device("cpu"))
    settings = InversionSettings(size=SIZE)
    if args.steps is not None:
        settings = replace(settings, steps=args.steps)
    say(f"# projection_quality: {generator.info.name}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, {time.strftime('%Y-%m-%d %H:%M')} UTC, "
        f"settings {settings}")
    photos = [p for p in args.photos if p.is_file()]
    if photos:
        projected = real_photos(generator, photos, settings, args.out)
        edits(generator, projected)
    if not args.skip_round_trip:
        round_trip(generator, args.seeds, settings)


if __name__ == "__main__":
    main()
