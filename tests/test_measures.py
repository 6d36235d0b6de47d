"""Measured geometry and colour from 68 landmarks, on synthetic inputs of known answer."""

from __future__ import annotations

import time

import numpy as np
import pytest

from tlgan_tui.engine.extractors import measures as m

NAMES = [f.name for f in m.MEASURE_FEATURES]
COL = {name: i for i, name in enumerate(NAMES)}
GEOMETRY = NAMES[: COL["Skin_Lightness"]]
COLOUR = NAMES[COL["Skin_Lightness"]:]
POSE = ["Yaw", "Pitch", "Roll"]
IOD_MM = 63.0  # the template's distance between eye centres


def posed(yaw: float = 0.0, pitch: float = 0.0, roll: float = 0.0, scale: float = 0.5,
          centre: tuple[float, float] = (64.0, 60.0)) -> np.ndarray:
    """The template under a known pose, weak-perspective projected: (68, 2) pixels."""
    rotated = m.FACE_TEMPLATE @ m.pose_matrix(yaw, pitch, roll).T
    return scale * rotated[:, :2] + np.asarray(centre)


def rotate_2d(points: np.ndarray, degrees: float, about: tuple[float, float]) -> np.ndarray:
    a = np.radians(degrees)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return (points - about) @ rot.T + about


def grey(n: int = 1, size: int = 128, value: int = 119) -> np.ndarray:
    return np.full((n, size, size, 3), value, np.uint8)


def measure_one(landmarks: np.ndarray, image: np.ndarray | None = None) -> np.ndarray:
    image = grey() if image is None else image[None]
    return m.measure_faces(image, landmarks[None])[0]


# ---------------------------------------------------------------- definitions


def test_every_feature_has_a_unit_and_a_definition() -> None:
    assert len(set(NAMES)) == len(NAMES) == 15
    for f in m.MEASURE_FEATURES:
        assert f.kind == "continuous" and f.unit
        assert m.UNITS[f.name] == f.unit
        assert len(m.DESCRIPTIONS[f.name]) > 10
    assert m.UNITS["Yaw"] == "deg" and m.UNITS["Skin_Lightness"] == "L*"
    assert m.UNITS["Lip_Redness"] == "a*"


def test_template_is_symmetric_and_frontal() -> None:
    t = m.FACE_TEMPLATE
    mirror = [16 - i for i in range(17)] + [26 - i for i in range(10)] + [27, 28, 29, 30]
    mirror += [35, 34, 33, 32, 31, 45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40]
    mirror += [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55, 64, 63, 62, 61, 60, 67, 66, 65]
    assert np.allclose(t[mirror] * [-1, 1, 1], t)
    eyes = t[42:48].mean(axis=0) - t[36:42].mean(axis=0)
    assert np.allclose(eyes, [IOD_MM, 0, 0])
    row = measure_one(posed())
    assert np.allclose(row[[COL[p] for p in POSE]], 0.0, atol=1e-9)


# ---------------------------------------------------------------- colour space


def test_cielab_of_known_colours() -> None:
    rgb = np.array([[255, 255, 255], [0, 0, 0], [119, 119, 119], [255, 0, 0]], np.uint8)
    lab = m.srgb_to_lab(rgb)
    assert np.allclose(lab[0], [100, 0, 0], atol=1e-4)
    assert np.allclose(lab[1], [0, 0, 0], atol=1e-9)
    # grey: a* = b* = 0 and L* from the formulas by hand
    y = ((119 / 255 + 0.055) / 1.055) ** 2.4
    assert np.allclose(lab[2], [116 * y ** (1 / 3) - 16, 0, 0], atol=1e-4)
    assert abs(lab[2, 0] - 50.0) < 0.1
    assert np.allclose(lab[3], [53.24, 80.09, 67.20], atol=0.01)  # published sRGB red
    # the dark, linear part of the L* curve: Y = (1/255) / 12.92, L* = 903.3 Y
    assert np.isclose(m.srgb_to_lab(np.array([1, 1, 1], np.uint8))[0],
                      24389 / 27 * (1 / 255 / 12.92), atol=1e-6)


def test_lightness_and_redness_agree_with_the_full_conversion() -> None:
    rgb = np.random.default_rng(0).integers(0, 256, (500, 3), dtype=np.uint8)
    lab = m.srgb_to_lab(rgb)
    assert np.allclose(m.lightness(rgb), lab[:, 0], atol=1e-9)
    assert np.allclose(m.redness(rgb), lab[:, 1], atol=1e-9)


def test_points_in_polygons() -> None:
    square = np.array([[[0, 0], [4, 0], [4, 4], [0, 4]]], float)
    concave = np.array([[[0, 0], [4, 0], [4, 4], [2, 1], [0, 4]]], float)  # notch from above
    points = np.array([[[1, 1], [3.95, 3.8], [5, 2], [-0.1, 2], [2, 3], [2, 0.5]]], float)
    assert m.points_in_polygons(points, square)[0].tolist() == [1, 1, 0, 0, 1, 1]
    assert m.points_in_polygons(points, concave)[0].tolist() == [1, 1, 0, 0, 0, 1]


# ---------------------------------------------------------------- head pose


@pytest.mark.parametrize(("yaw", "pitch", "roll"), [
    (0, 0, 0), (30, 0, 0), (-30, 0, 0), (0, 20, 0), (0, -20, 0), (0, 0, 45),
    (25, -15, 10), (-40, 25, -30), (10, 10, 170),
])
def test_pose_is_recovered_exactly_without_noise(yaw: float, pitch: float, roll: float) -> None:
    row = measure_one(posed(yaw, pitch, roll, scale=1.7, centre=(300.0, -40.0)))
    assert np.allclose(row[[COL[p] for p in POSE]], [yaw, pitch, roll], atol=1e-6)


def test_pose_within_a_degree_with_landmark_noise() -> None:
    rng = np.random.default_rng(1)
    n = 64
    angles = np.column_stack([rng.uniform(-30, 30, n), rng.uniform(-20, 20, n),
                              rng.uniform(-30, 30, n)])
    scales = rng.uniform(0.5, 1.0, n)  # IOD 32-63 px
    centres = rng.uniform(40, 90, (n, 2))
    marks = np.stack([posed(*a, scale=s, centre=tuple(c))
                      for a, s, c in zip(angles, scales, centres, strict=True)])
    marks += rng.normal(0, 0.2, marks.shape)  # sub-pixel detector noise
    rows = m.measure_faces(grey(n), marks)
    errors = np.abs(rows[:, [COL[p] for p in POSE]] - angles)
    assert errors.max() < 1.0, errors.max(axis=0)
    assert np.median(errors) < 0.25


def test_roll_follows_an_image_rotation_exactly() -> None:
    frontal = posed(scale=0.8)
    for phi in (-60.0, -7.5, 0.3, 33.0):
        row = measure_one(rotate_2d(frontal, phi, (10.0, 90.0)))
        assert np.allclose(row[[COL[p] for p in POSE]], [0, 0, phi], atol=1e-9)
    turned = posed(20, -10, 5)
    before = measure_one(turned)
    after = measure_one(rotate_2d(turned, 25.0, (64.0, 64.0)))
    assert np.isclose(after[COL["Roll"]], before[COL["Roll"]] + 25.0, atol=1e-6)
    others = [COL[n] for n in GEOMETRY if n != "Roll"]
    assert np.allclose(after[others], before[others], atol=1e-6)


def test_sign_conventions_mean_what_the_docs_say() -> None:
    def eyes_nose(marks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return marks[36:42].mean(axis=0), marks[42:48].mean(axis=0), marks[30]

    right, left, nose = eyes_nose(posed(yaw=20))
    assert nose[0] > (right[0] + left[0]) / 2  # turned to their left: nose to the image right
    frontal_nose_drop = posed()[30, 1] - posed()[36:48, 1].mean()
    right, left, nose = eyes_nose(posed(pitch=15))
    assert nose[1] - (right[1] + left[1]) / 2 < frontal_nose_drop  # chin up: nose rises
    right, left, _ = eyes_nose(posed(roll=10))
    assert left[1] > right[1]  # clockwise tilt: the eye on the image right drops
    row = measure_one(posed(yaw=20, pitch=15, roll=10))
    assert (row[[COL[p] for p in POSE]] > 0).all()


# ---------------------------------------------------------------- distances


def test_template_distances_have_their_defined_values() -> None:
    row = measure_one(posed(scale=0.9))
    t = m.FACE_TEMPLATE
    pct = 100.0 / IOD_MM
    assert np.isclose(row[COL["Mouth_Opening"]], (t[66, 1] - t[62, 1]) * pct)
    assert np.isclose(row[COL["Mouth_Width"]], (t[54, 0] - t[48, 0]) * pct)
    assert np.isclose(row[COL["Nose_Width"]], (t[35, 0] - t[31, 0]) * pct)
    assert np.isclose(row[COL["Chin_Height"]], (t[8, 1] - t[57, 1]) * pct)
    assert np.isclose(row[COL["Lip_Thickness"]],
                      (t[62, 1] - t[51, 1] + t[57, 1] - t[66, 1]) * pct)
    assert np.isclose(row[COL["Face_Width"]],
                      (t[14, 0] - t[2, 0] + t[13, 0] - t[3, 0]) / 2 * pct)
    assert np.isclose(row[COL["Eyebrow_Raise"]],
                      (t[36:42, 1].mean() - t[17:22, 1].mean()) * pct)
    aperture = (t[41, 1] - t[37, 1] + t[40, 1] - t[38, 1]) / 2
    assert np.isclose(row[COL["Eye_Opening"]], 100.0 * aperture / (t[39, 0] - t[36, 0]))


def test_distances_do_not_depend_on_scale_position_or_image_rotation() -> None:
    base = posed(15, -5, 0)
    rows = [measure_one(base)]
    for scale, shift, phi in ((0.25, (3, -7), 0), (4.0, (-100, 250), 0), (1.3, (0, 0), 40)):
        centre = base.mean(axis=0)
        moved = rotate_2d((base - centre) * scale + centre + shift, phi, (0, 0))
        rows.append(measure_one(moved))
    cols = [COL[n] for n in GEOMETRY if n != "Roll"]
    for row in rows[1:]:
        assert np.allclose(row[cols], rows[0][cols], atol=1e-6)


def test_opening_the_mouth_by_a_known_gap() -> None:
    scale = 0.7
    closed = posed(scale=scale)
    before = measure_one(closed)[COL["Mouth_Opening"]]
    for gap_px in (1.0, 4.0, 10.0):
        opened = closed.copy()
        opened[[65, 66, 67], 1] += gap_px  # lower inner lip down
        after = measure_one(opened)[COL["Mouth_Opening"]]
        assert np.isclose(after - before, 100.0 * gap_px / (IOD_MM * scale))
    # the same in a tilted face: the gap is measured along the face's own vertical
    tilted = rotate_2d(opened, 30.0, (64, 64))
    assert np.isclose(measure_one(tilted)[COL["Mouth_Opening"]], after)


def test_raising_the_brows_and_widening_the_jaw() -> None:
    scale = 0.5
    face = posed(scale=scale)
    before = measure_one(face)
    face[17:27, 1] -= 3.0
    face[[2, 3], 0] -= 2.0
    face[[13, 14], 0] += 2.0
    after = measure_one(face)
    per_px = 100.0 / (IOD_MM * scale)
    assert np.isclose(after[COL["Eyebrow_Raise"]] - before[COL["Eyebrow_Raise"]], 3 * per_px)
    assert np.isclose(after[COL["Face_Width"]] - before[COL["Face_Width"]], 4 * per_px)


# ---------------------------------------------------------------- colour regions

SKIN, HAIR, LIPS, MOUTH, EYES, BACK = ((224, 172, 140), (235, 205, 120), (196, 52, 70),
                                       (40, 10, 15), (30, 30, 30), (40, 90, 160))


def fill(image: np.ndarray, polygon: np.ndarray, colour: tuple[int, int, int]) -> None:
    """Paint the pixels whose centres lie inside polygon (V, 2)."""
    h, w = image.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w]
    centres = np.stack([xs.ravel() + 0.5, ys.ravel() + 0.5], axis=-1)[None]
    inside = m.points_in_polygons(centres, polygon[None])[0].reshape(h, w)
    image[inside] = colour


def cartoon(marks: np.ndarray, size: int = 256) -> np.ndarray:
    """A flat-colour face: background, hair above the forehead, skin, lips, eyes."""
    image = np.empty((size, size, 3), np.uint8)
    image[:] = BACK
    eye_r, eye_l = marks[36:42].mean(axis=0), marks[42:48].mean(axis=0)
    u = (eye_l - eye_r) / np.linalg.norm(eye_l - eye_r)
    v = np.array([-u[1], u[0]])
    brow = marks[17:27].mean(axis=0)
    height = (marks[8] - brow) @ v
    hairline = brow - 0.35 * height * v
    # hair: a wide block from the hairline up, wider than the head, but above the
    # background bands (which stop a quarter face height above the brows)
    far = 3 * size
    fill(image, np.array([hairline - far * u, hairline + far * u,
                          hairline + far * u - far * v, hairline - far * u - far * v]), HAIR)
    face = np.concatenate([marks[:17], [marks[16] + (hairline - brow) @ v * v,
                                        marks[0] + (hairline - brow) @ v * v]])
    fill(image, face, SKIN)
    fill(image, marks[48:60], LIPS)
    fill(image, marks[60:68], MOUTH)
    fill(image, marks[36:42], EYES)
    fill(image, marks[42:48], EYES)
    return image


def expected_colours() -> np.ndarray:
    return np.array([m.lightness(np.array(SKIN, np.uint8)), m.lightness(np.array(HAIR, np.uint8)),
                     m.redness(np.array(LIPS, np.uint8)), m.lightness(np.array(BACK, np.uint8))])


@pytest.mark.parametrize(("yaw", "pitch", "roll"), [(0, 0, 0), (15, -8, 20), (-20, 10, -12)])
def test_painted_regions_return_their_colours(yaw: float, pitch: float, roll: float) -> None:
    marks = posed(yaw, pitch, roll, scale=0.75, centre=(128.0, 112.0))
    marks[[65, 66, 67], 1] += 6.0  # an open mouth, so the inner-lip polygon has an area
    row = measure_one(marks, cartoon(marks))
    assert np.allclose(row[[COL[n] for n in COLOUR]], expected_colours(), atol=1e-9)


def test_each_region_reads_only_its_own_colour() -> None:
    marks = posed(scale=0.75, centre=(128.0, 112.0))
    marks[[65, 66, 67], 1] += 6.0
    image = cartoon(marks)
    base = measure_one(marks, image)
    for colour, column in ((SKIN, "Skin_Lightness"), (HAIR, "Hair_Lightness"),
                           (LIPS, "Lip_Redness"), (BACK, "Background_Lightness")):
        changed = image.copy()
        changed[(image == colour).all(axis=-1)] = (255, 0, 0)
        row = measure_one(marks, changed)
        stat = m.redness if column == "Lip_Redness" else m.lightness
        assert np.isclose(row[COL[column]], stat(np.array([255, 0, 0], np.uint8)))
        others = [COL[n] for n in COLOUR if n != column]
        assert np.allclose(row[others], base[others])


def test_uniform_image_gives_its_colour_everywhere() -> None:
    marks = posed(scale=0.6, centre=(128.0, 120.0))
    image = np.full((256, 256, 3), 119, np.uint8)
    row = measure_one(marks, image)
    l_grey = m.lightness(np.array([119, 119, 119], np.uint8))
    assert np.allclose(row[[COL["Skin_Lightness"], COL["Hair_Lightness"],
                            COL["Background_Lightness"]]], l_grey)
    assert abs(row[COL["Lip_Redness"]]) < 1e-9


def test_medians_ignore_a_minority_of_outliers() -> None:
    marks = posed(scale=0.75, centre=(128.0, 112.0))
    marks[[65, 66, 67], 1] += 6.0
    image = cartoon(marks)
    noisy = image.copy()
    speckle = np.random.default_rng(2).random(image.shape[:2]) < 0.1
    noisy[speckle] = (255, 255, 255)
    row = measure_one(marks, noisy)
    assert np.allclose(row[[COL[n] for n in COLOUR]], expected_colours(), atol=1e-9)


# ---------------------------------------------------------------- NaN rules


def test_unusable_landmarks_give_a_nan_row() -> None:
    good = posed()
    with_nan, with_inf = good.copy(), good.copy()
    with_nan[30, 0] = np.nan
    with_inf[5, 1] = np.inf
    same_point = np.full((68, 2), 50.0)
    on_a_line = np.column_stack([np.linspace(0, 100, 68), np.linspace(0, 50, 68)])
    eyes_together = good.copy()
    eyes_together[36:48] = good[36:48].mean(axis=0)
    batch = np.stack([good, with_nan, with_inf, same_point, on_a_line, eyes_together, good])
    rows = m.measure_faces(grey(len(batch)), batch)
    assert np.isfinite(rows[[0, 6]]).all()
    assert np.isnan(rows[1:6]).all()
    assert np.allclose(rows[0], rows[6])


def test_odd_but_finite_landmarks_never_raise_or_give_infinities() -> None:
    rng = np.random.default_rng(4)
    shut = posed()
    shut[36:42] = shut[36:42].mean(axis=0)  # a right eye of zero width
    upside_down = posed()
    upside_down[8, 1] = upside_down[17:27, 1].min() - 5  # the chin above the brows
    batch = np.concatenate([rng.uniform(0, 128, (20, 68, 2)), [shut, upside_down]])
    rows = m.measure_faces(grey(len(batch)), batch)
    assert not np.isinf(rows).any()
    assert np.isnan(rows[20, COL["Eye_Opening"]]) and np.isfinite(rows[20, COL["Yaw"]])
    assert np.isnan(rows[21, COL["Hair_Lightness"]])


def test_regions_outside_the_image_give_nan_colour_only() -> None:
    near_top = posed(scale=0.5, centre=(64.0, 40.0))  # hair band above the top edge
    row = measure_one(near_top)
    assert np.isnan(row[COL["Hair_Lightness"]])
    assert np.isfinite(row[[COL["Skin_Lightness"], COL["Lip_Redness"]]]).all()
    away = posed(scale=0.5, centre=(-500.0, 900.0))  # the whole face beyond the frame
    row = measure_one(away)
    assert np.isnan(row[[COL[n] for n in COLOUR]]).all()
    assert np.isfinite(row[[COL[n] for n in GEOMETRY]]).all()
    tight = posed(scale=1.5, centre=(64.0, 50.0))  # the head fills the frame
    assert np.isnan(measure_one(tight)[COL["Background_Lightness"]])


def test_an_empty_lip_region_gives_nan() -> None:
    marks = posed()
    marks[48:68] = marks[48:68].mean(axis=0)  # every lip point at one spot
    row = measure_one(marks)
    assert np.isnan(row[COL["Lip_Redness"]])
    assert np.isfinite(row[COL["Skin_Lightness"]])


def test_bad_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="landmarks"):
        m.measure_faces(grey(2), np.zeros((2, 5, 2)))
    with pytest.raises(ValueError, match="images"):
        m.measure_faces(np.zeros((1, 8, 8, 3)), np.zeros((1, 68, 2)))
    assert m.measure_faces(grey(0), np.zeros((0, 68, 2))).shape == (0, len(NAMES))


# ---------------------------------------------------------------- batches


def test_batch_equals_one_by_one_and_is_fast() -> None:
    rng = np.random.default_rng(3)
    n = 64
    angles = rng.uniform(-25, 25, (n, 3))
    marks = np.stack([posed(*a, scale=0.4, centre=(64.0, 66.0)) for a in angles])
    marks += rng.normal(0, 0.3, marks.shape)
    marks[7, 3] = np.nan
    images = rng.integers(0, 256, (n, 128, 128, 3), dtype=np.uint8)
    m.measure_faces(images[:2], marks[:2])  # warm-up
    times = []
    for _ in range(5):
        start = time.perf_counter()
        rows = m.measure_faces(images, marks)
        times.append(time.perf_counter() - start)
    one_by_one = np.concatenate([m.measure_faces(images[i:i + 1], marks[i:i + 1])
                                 for i in range(n)])
    assert np.allclose(rows, one_by_one, equal_nan=True)
    assert np.isnan(rows[7]).all() and np.isfinite(rows[np.arange(n) != 7, :11]).all()
    print(f"measure_faces: 64 faces at 128 px in {1e3 * min(times):.1f} ms")
    assert min(times) < 0.5  # generous: the CPU is shared; ~20 ms measured
