"""Largest difference between our face-api ports and face-api's own tfjs outputs.

    python benchmarks/faceapi_conformance.py

Reads the fixtures of tests/test_faceapi_conformance.py (DCGAN faces and the
outputs face-api 1.7.15 gave on tfjs 4.22's CPU backend) and prints, per net,
the maximum absolute difference over all fixture images (the tests require < 1e-4).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from tlgan_tui.engine.extractors.face_features import FaceFeatures
from tlgan_tui.engine.extractors.faceapi import dense, recognition, xception
from tlgan_tui.engine.extractors.faceapi.detector import TinyFaceDetector
from tlgan_tui.engine.extractors.faceapi.inputs import batch_tensor, to_tensor

FIXTURES = Path(__file__).parent.parent / "tests" / "fixtures" / "faceapi"


@torch.inference_mode()
def main() -> None:
    ref = json.loads((FIXTURES / "reference.json").read_text())["images"]
    nets = (dense.LandmarkNet(), dense.ExpressionNet(), xception.AgeGenderNet(),
            recognition.RecognitionNet(), TinyFaceDetector())
    landmarks, expressions, age_gender, descriptor, detector = nets
    err: dict[str, float] = {}

    def note(key: str, value: float) -> None:
        err[key] = max(err.get(key, 0.0), float(value))

    for name, r in ref.items():
        image = np.asarray(Image.open(FIXTURES / name).convert("RGB"))
        h, w = image.shape[:2]
        side = max(h, w)
        points = landmarks(batch_tensor([image], 112))[0].numpy() * side
        points -= [(side - w) / 2, (side - h) / 2]
        note("landmarks (px)", np.abs(points - r["landmarks"]).max())
        note("expressions", np.abs(expressions(batch_tensor([image], 112))[0].numpy()
                                   - r["expressions"]).max())
        age, male = age_gender(batch_tensor([image], 112))
        note("age (years)", abs(age.item() - r["age"]))
        note("P(male)", abs(male.item() - r["male"]))
        note("descriptor", np.abs(descriptor(batch_tensor([image], 150))[0].numpy()
                                  - r["descriptor"]).max())
        size = r["detector_input_size"]
        raw = detector(batch_tensor([image], size, centre=False))[0].numpy().ravel()
        note("detector raw output", np.abs(raw - r["detector_raw"]).max())
        found = detector.detect(to_tensor(image), size, 0.1)
        for ours, theirs in zip(found, r["detections"], strict=True):
            note("detector boxes (px)", np.abs(np.subtract(ours.box, theirs["box"])).max())
            note("detector scores", abs(ours.score - theirs["score"]))
    scene = np.asarray(Image.open(FIXTURES / "scene-256x192.png").convert("RGB"))
    expected = ref["scene-256x192.png"]["pipeline"][0]
    found = FaceFeatures("detect", detector_size=224, min_score=0.1).analyse(scene[None])
    note("pipeline landmarks (px)", np.abs(found.landmarks[0] - expected["landmarks"]).max())
    note("pipeline expressions", np.abs(found.expressions[0] - expected["expressions"]).max())
    note("pipeline age (years)", abs(found.age[0] - expected["age"]))
    note("pipeline P(male)", abs(found.male[0] - expected["male"]))
    print(f"# {len(ref)} fixture images; max |ours - face-api|")
    for key, value in err.items():
        print(f"{key:>26}: {value:.2e}")


if __name__ == "__main__":
    main()
