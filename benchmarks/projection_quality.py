"""How well `tlgan project` works (issue 11): round trip, real photos, edits, time.

    python benchmarks/projection_quality.py [--seeds 16] [--roundtrip-steps 100]
        [--photo-steps 100] [--photos PATH ...] [--fit-samples 256] [--out DIR]

1. Round trip: render G(w*) at 256 px for seeds 0..N-1 (FFHQ), invert all of
   them in one batch (the same losses as a photo: pixel pyramid, identity,
   prior), PSNR of the reconstruction at 256 px; mean and per seed.
2. Real photos: the whole pipeline (detect, FFHQ-align, invert at 256 px):
   PSNR against the aligned photo, face-api descriptor distance (< 0.6: same
   person), seconds per photo. Side-by-side images go to --out.
3. Edits after inversion: Male, Age and Smiling axes fitted here by ridge
   regression on --fit-samples faces (FFHQ ships no axes yet); each projected
   face moved -2 and +2 sigma and measured with the default extractor.
Prints a text report (kept in benchmarks/results/projection_quality.txt).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tlgan_tui.engine.extractors.face_features import FaceFeatures  # noqa: E402
from tlgan_tui.engine.generators.loading import load_generator  # noqa: E402
from tlgan_tui.engine.inversion import InversionSettings, invert_batch  # noqa: E402
from tlgan_tui.engine.paths import shipped_generator  # noqa: E402
from tlgan_tui.engine.projection import (  # noqa: E402
    face_box,
    face_finder,
    project_photo,
    psnr,
    render_at,
)

SIZE = 256
EDIT_FEATURES = ("Male", "Age", "Smiling")


def say(text: str) -> None:
    print(text, flush=True)


def round_trip(generator, seeds: int, steps: int) -> None:  # type: ignore[no-untyped-def]
    say(f"\n## Round trip: {seeds} FFHQ seeds, {steps} steps, {SIZE} px, one batch")
    latents = np.stack([generator.latent_for_seed(s) for s in range(seeds)])
    targets = generator.synthesize(latents, size=SIZE)
    finder = face_finder()
    box = face_box(finder, SIZE)  # generated FFHQ faces: the central 60%
    goals = torch.from_numpy(targets.astype(np.float32)).permute(0, 3, 1, 2)
    with torch.no_grad():
        goal_desc = finder.describe(goals, box)

    def identity(images: torch.Tensor) -> torch.Tensor:
        return (finder.describe((images.clamp(-1, 1) + 1) * 127.5, box) - goal_desc).norm(dim=1)

    started = time.perf_counter()
    last = [time.perf_counter()]

    def progress(p) -> None:  # type: ignore[no-untyped-def]
        if p.step % 10 == 0 or p.step == 1:
            now = time.perf_counter()
            say(f"  step {p.step}/{p.steps} ({p.phase}) mean loss {p.loss:.4f} "
                f"pixel {p.pixel:.4f} id {p.identity:.3f}  [{now - last[0]:.0f} s]")
            last[0] = now

    results = invert_batch(generator, targets, InversionSettings(steps=steps, size=SIZE),
                           identity, progress)
    seconds = time.perf_counter() - started
    values = []
    for seed, (result, target) in enumerate(zip(results, targets, strict=True)):
        recon = render_at(generator, result.latent, SIZE)
        values.append(psnr(target, recon))
        say(f"  seed {seed:2d}: PSNR {values[-1]:.2f} dB, {result.steps_run} steps"
            f"{' (early stop)' if result.stopped_early else ''}")
    say(f"  mean PSNR {np.mean(values):.2f} dB (min {np.min(values):.2f}, max "
        f"{np.max(values):.2f}); >= 25 dB: {sum(v >= 25 for v in values)}/{len(values)}; "
        f"{seconds:.0f} s for the batch ({seconds / seeds:.1f} s per face)")


def fit_axes(generator, samples: int, extractor: FaceFeatures  # type: ignore[no-untyped-def]
             ) -> dict[str, tuple[np.ndarray, float]]:
    """Ridge-regression directions in w for the edit features, and their sigmas."""
    from sklearn.linear_model import Ridge

    latents = generator.sample(samples, 777)
    frames = generator.synthesize(latents, batch_size=16, size=128)
    scores = extractor.score(frames)
    names = [f.name for f in extractor.features]
    axes = {}
    for name in EDIT_FEATURES:
        y = scores[:, names.index(name)]
        ok = np.isfinite(y)
        if name != "Age":
            y = np.arctanh(np.clip(2 * y - 1, np.tanh(-3), np.tanh(3)))
        model = Ridge(alpha=10.0).fit(latents[ok], (y[ok] - y[ok].mean()) / y[ok].std())
        d = model.coef_ / np.linalg.norm(model.coef_)
        sigma = float(np.std(latents @ d))
        axes[name] = (d.astype(np.float32), sigma)
    return axes


def real_photos(generator, photos: list[Path], steps: int, fit_samples: int,  # type: ignore[no-untyped-def]
                out: Path) -> None:
    say(f"\n## Real photos: {steps} steps, working size {SIZE} px")
    projected = []
    for path in photos:
        result = project_photo(path, generator, InversionSettings(steps=steps, size=SIZE))
        projected.append((path, result))
        say(f"  {path.name}: {result.face_note}; PSNR {result.psnr:.2f} dB, descriptor "
            f"distance {result.descriptor_distance:.3f}, {result.inversion.steps_run} steps, "
            f"{result.seconds:.0f} s")
        image = result.compare_image()
        image.save(out / f"{path.stem}-compare.png")
    if not projected:
        return
    say(f"\n## Edits after inversion: axes fitted on {fit_samples} faces (ridge), +-2 sigma")
    extractor = FaceFeatures("detect")
    axes = fit_axes(generator, fit_samples, FaceFeatures("frame"))
    names = [f.name for f in extractor.features]
    right = total = 0
    for path, result in projected:
        row = []
        for name, (direction, sigma) in axes.items():
            moved = [result.latent + k * sigma * direction for k in (-2.0, 2.0)]
            frames = np.stack([render_at(generator, m.astype(np.float32), SIZE) for m in moved])
            values = extractor.score(frames)[:, names.index(name)]
            ok = bool(values[1] > values[0])
            right += ok
            total += 1
            row.append(f"{name} {values[0]:.2f} -> {values[1]:.2f} {'ok' if ok else 'WRONG'}")
        say(f"  {path.name}: " + "; ".join(row))
    say(f"  moved the right way: {right}/{total}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=16)
    parser.add_argument("--roundtrip-steps", type=int, default=100)
    parser.add_argument("--photo-steps", type=int, default=100)
    parser.add_argument("--photos", type=Path, nargs="*", default=[])
    parser.add_argument("--fit-samples", type=int, default=256)
    parser.add_argument("--out", type=Path, default=Path("/tmp/projection-bench"))
    parser.add_argument("--skip-round-trip", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(2)
    args.out.mkdir(parents=True, exist_ok=True)
    ffhq = shipped_generator("ffhq")
    assert ffhq is not None
    generator = load_generator(ffhq.weights_path, torch.device("cpu"))
    say(f"# projection_quality: {generator.info.name}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, {time.strftime('%Y-%m-%d %H:%M')} UTC")
    if not args.skip_round_trip:
        round_trip(generator, args.seeds, args.roundtrip_steps)
    real_photos(generator, [p for p in args.photos if p.is_file()], args.photo_steps,
                args.fit_samples, args.out)


if __name__ == "__main__":
    main()
