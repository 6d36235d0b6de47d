"""Write the small face images behind the face-api conformance fixtures.

    PYTHONPATH=$PWD python scripts/make_faceapi_fixtures.py

Faces come from the shipped DCGAN (synthetic DigiFace-style faces, no real
person): six 64 px faces, one cropped to a non-square 64 x 50 (exercises
face-api's pad-to-square), and one 256 x 192 scene with two faces upscaled to
96 px on grey (for the detector). scripts/record_faceapi_reference.mjs then
records face-api's outputs on them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from tlgan_tui.engine.generators.loading import load_generator

OUT = Path("tests/fixtures/faceapi")
SEEDS = (1, 2, 4, 5, 8, 11)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    generator = load_generator(None, torch.device("cpu"))
    faces = [generator.synthesize(generator.sample(1, seed))[0] for seed in SEEDS]
    for seed, face in zip(SEEDS, faces, strict=True):
        Image.fromarray(face).save(OUT / f"face-{seed:02d}.png")
    Image.fromarray(np.ascontiguousarray(faces[0][6:56])).save(OUT / "crop-64x50.png")
    scene = Image.new("RGB", (256, 192), (128, 128, 128))
    scene.paste(Image.fromarray(faces[1]).resize((96, 96), Image.BICUBIC), (16, 40))
    scene.paste(Image.fromarray(faces[3]).resize((96, 96), Image.BICUBIC), (140, 60))
    scene.save(OUT / "scene-256x192.png")
    print(f"wrote {len(list(OUT.glob('*.png')))} images to {OUT}")


if __name__ == "__main__":
    main()
