"""Our PyTorch ports of face-api's nets give face-api's own numbers.

tests/fixtures/faceapi/reference.json was recorded once with face-api 1.7.15 on
tfjs 4.22's pure-JavaScript CPU backend (scripts/record_faceapi_reference.mjs)
on small synthetic faces (scripts/make_faceapi_fixtures.py).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tlgan_tui.engine.extractors.faceapi import dense, recognition, xception
from tlgan_tui.engine.extractors.faceapi.detector import TinyFaceDetector
from tlgan_tui.engine.extractors.faceapi.inputs import batch_tensor, to_tensor

FIXTURES = Path(__file__).parent / "fixtures" / "faceapi"
TOLERANCE = 1e-4


@cache
def reference() -> dict:
    return json.loads((FIXTURES / "reference.json").read_text())


def images() -> dict[str, np.ndarray]:
    return {name: np.asarray(Image.open(FIXTURES / name).convert("RGB"))
            for name in reference()["images"]}


@pytest.fixture(scope="module")
def nets() -> dict[str, torch.nn.Module]:
    return {"landmarks": dense.LandmarkNet().eval(), "expressions": dense.ExpressionNet().eval(),
            "age_gender": xception.AgeGenderNet().eval(),
            "descriptor": recognition.RecognitionNet().eval(),
            "detector": TinyFaceDetector().eval()}


def test_reference_was_recorded_by_face_apis_own_runtime() -> None:
    ref = reference()
    assert ref["backend"] == "cpu" and ref["faceapi"] == "1.7.15"
    assert len(ref["images"]) >= 6


@torch.no_grad()
def test_landmarks_match_face_api_to_a_ten_thousandth_of_a_pixel(nets: dict) -> None:
    for name, image in images().items():
        height, width = image.shape[:2]
        rel = nets["landmarks"](batch_tensor([image], dense.INPUT_SIZE))[0].numpy()
        # face-api maps the padded square back to the image's own pixels.
        side = max(height, width)
        points = rel * side - [(side - width) / 2, (side - height) / 2]
        expected = np.asarray(reference()["images"][name]["landmarks"])
        assert np.abs(points - expected).max() < TOLERANCE, name


@torch.no_grad()
def test_expressions_age_gender_and_descriptor_match_face_api(nets: dict) -> None:
    pictures = images()
    # One batch of several images: batching must not change any face's result.
    names = [n for n in pictures if pictures[n].shape == pictures["face-01.png"].shape]
    faces = [pictures[n] for n in names]
    expressions = nets["expressions"](batch_tensor(faces, dense.INPUT_SIZE)).numpy()
    age, male = (t.numpy() for t in nets["age_gender"](batch_tensor(faces, xception.INPUT_SIZE)))
    descriptors = nets["descriptor"](batch_tensor(faces, recognition.INPUT_SIZE)).numpy()
    for i, name in enumerate(names):
        ref = reference()["images"][name]
        assert np.abs(expressions[i] - ref["expressions"]).max() < TOLERANCE, name
        assert abs(age[i] - ref["age"]) < TOLERANCE, name
        assert abs(male[i] - ref["male"]) < TOLERANCE, name
        assert np.abs(descriptors[i] - ref["descriptor"]).max() < TOLERANCE, name


@torch.no_grad()
def test_tiny_face_detector_matches_face_api(nets: dict) -> None:
    for name, image in images().items():
        ref = reference()["images"][name]
        size = ref["detector_input_size"]
        x = batch_tensor([image], size, centre=False)
        raw = nets["detector"](x)[0].numpy().ravel()
        assert np.abs(raw - ref["detector_raw"]).max() < TOLERANCE, name
        found = nets["detector"].detect(to_tensor(image), size, score_threshold=0.1)
        assert len(found) == len(ref["detections"]), name
        for ours, theirs in zip(found, ref["detections"], strict=True):
            assert abs(ours.score - theirs["score"]) < TOLERANCE
            assert np.abs(np.subtract(ours.box, theirs["box"])).max() < TOLERANCE


def test_the_scene_has_two_faces_for_the_detector() -> None:
    assert len(reference()["images"]["scene-256x192.png"]["detections"]) == 2


def test_the_photo_pipeline_gives_face_apis_numbers() -> None:
    """detect -> crop -> landmarks -> aligned crop -> expressions, age, gender, as face-api."""
    from tlgan_tui.engine.extractors.face_features import FaceFeatures

    scene = images()["scene-256x192.png"]
    expected = reference()["images"]["scene-256x192.png"]["pipeline"][0]  # the best face
    extractor = FaceFeatures("detect", detector_size=224, min_score=0.1)
    found = extractor.analyse(scene[None])
    assert found.found[0]
    assert abs(found.detection_score[0] - expected["score"]) < TOLERANCE
    assert np.abs(found.landmarks[0] - expected["landmarks"]).max() < TOLERANCE
    assert np.abs(found.expressions[0] - expected["expressions"]).max() < TOLERANCE
    assert abs(found.age[0] - expected["age"]) < TOLERANCE
    assert abs(found.male[0] - expected["male"]) < TOLERANCE
