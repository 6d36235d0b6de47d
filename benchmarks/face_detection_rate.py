"""How often dlib's HOG face detector finds the default generator's faces.

    python benchmarks/face_detection_rate.py [--faces 1024]

Decides whether a head-pose extractor (yaw/roll from the detector's 5-point
landmarks) can be trusted on generated faces: the engine issue asks for a
detection rate of at least 80% on upscaled images. Also decides how the
age/gender extractor aligns faces (fixed box vs detector).
"""

from __future__ import annotations

import argparse
import time

import dlib
import numpy as np
import torch
from PIL import Image

from tlgan_tui.engine.generators.loading import load_generator

SETTINGS = [  # (upscaled side, detector upsampling, border padding in source px)
    (128, 0, 0), (128, 1, 0), (256, 0, 0), (128, 0, 8), (128, 0, 32), (192, 0, 16),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=1024)
    args = parser.parse_args()
    generator = load_generator(None, torch.device("cpu"))
    faces = generator.synthesize(generator.sample(args.faces, 7))
    detector = dlib.get_frontal_face_detector()
    print(f"# {args.faces} faces from the default generator (64 px), seed 7")
    for side, upsample, pad in SETTINGS:
        started = time.perf_counter()
        found = 0
        for face in faces:
            padded = np.pad(face, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
            scale = side / 64
            size = round(padded.shape[0] * scale)
            big = np.asarray(Image.fromarray(padded).resize((size, size), Image.BILINEAR))
            found += len(detector(big, upsample)) > 0
        ms = (time.perf_counter() - started) / len(faces) * 1000
        print(f"face {side}px, upsample {upsample}, pad {pad}: "
              f"detected {found / len(faces):.1%} ({ms:.1f} ms/face)")


if __name__ == "__main__":
    main()
