"""Geometry and colour measured from 68 face landmarks (iBUG-68 order).

`measure_faces(images, landmarks)` turns landmarks found by some landmark net
into named, continuous features. Nothing here is learned: every value is a
distance, an angle or a colour statistic whose definition is in `DESCRIPTIONS`.

Conventions
- Landmarks are pixel coordinates, x right, y down; pixel (row i, column j)
  covers [j, j+1) x [i, i+1), so its centre is (j + 0.5, i + 0.5).
- "Right"/"left" are the subject's: the right eye (36-41) is on the image left.
- Distances are projected on the face's own axes (u: from the right eye centre
  to the left eye centre; v: u turned 90 degrees, pointing to the chin) and
  divided by the inter-ocular distance (IOD, between the eye centres, the mean
  of each eye's six points), in percent. They do not change when the landmarks
  are scaled, moved or rotated in the image.
- Head pose R = Roll(roll) @ Yaw(yaw) @ Pitch(pitch) rotates `FACE_TEMPLATE`
  (a generic 3D face, camera axes: x right, y down, z away from the camera)
  into the camera frame; it is fitted by weak-perspective least squares.
  Yaw > 0: the subject turns to their left (the nose moves to the image right).
  Pitch > 0: chin up (the nose tip moves up in the image).
  Roll > 0: the head tilts clockwise as seen in the image (the left eye, on the
  image right, drops). Roll is about the camera axis, so rotating the landmarks
  in the image by a angle adds exactly that angle to Roll.
- Colour is CIE L*a*b* (D65 white) from sRGB, the median over a region sampled
  on a fixed grid of points (so the cost does not depend on the image size).
- NaN: every column of a face whose landmarks are not finite or degenerate
  (eyes on top of each other, all points on a line); a colour column whose
  region is empty or mostly outside the image.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from tlgan_tui.engine.extractors.base import Feature

N_LANDMARKS = 68

# (name, unit, one-line definition); the order is the column order.
_SPEC: tuple[tuple[str, str, str], ...] = (
    ("Mouth_Opening", "% IOD",
     "gap between the inner lips (mean of the three inner-lip pairs, 61-67, 62-66, 63-65)"),
    ("Eye_Opening", "%",
     "eyelid aperture over eye width (37-41, 38-40 over 36-39 and the left eye alike), "
     "mean of both eyes"),
    ("Yaw", "deg", "head turn; positive = the subject turns to their left (image right)"),
    ("Pitch", "deg", "head nod; positive = chin up"),
    ("Roll", "deg", "head tilt in the image plane; positive = clockwise as seen in the image"),
    ("Face_Width", "% IOD",
     "jaw width at the cheeks (mean of jaw points 2-14 and 3-13; TL-GAN's Chubby)"),
    ("Eyebrow_Raise", "% IOD", "height of each brow's centre above its eye's centre, mean of both"),
    ("Mouth_Width", "% IOD", "distance between the mouth corners (48-54)"),
    ("Nose_Width", "% IOD", "width of the nose base (31-35)"),
    ("Lip_Thickness", "% IOD", "upper plus lower lip height at the centre (51-62 plus 66-57)"),
    ("Chin_Height", "% IOD", "lower lip's bottom (57) to the chin (8)"),
    ("Skin_Lightness", "L*",
     "median CIELAB lightness of both cheeks (between eye, nose, mouth corner and jaw; "
     "TL-GAN's Pale_Skin)"),
    ("Hair_Lightness", "L*",
     "median CIELAB lightness of a band 0.45-0.62 face heights above the brows (a Blond proxy)"),
    ("Lip_Redness", "a*",
     "median CIELAB a* inside the outer-lip contour and outside the inner one"),
    ("Background_Lightness", "L*",
     "median CIELAB lightness of bands beside the head at brow level, clear of the jaw line"),
)

MEASURE_FEATURES: tuple[Feature, ...] = tuple(
    Feature(name, "continuous", unit) for name, unit, _ in _SPEC
)
DESCRIPTIONS: dict[str, str] = {name: text for name, _, text in _SPEC}
UNITS: dict[str, str] = {name: unit for name, unit, _ in _SPEC}
_COLUMN = {name: i for i, (name, _, _) in enumerate(_SPEC)}

# Landmark groups.
JAW = np.arange(0, 17)
RIGHT_BROW, LEFT_BROW = np.arange(17, 22), np.arange(22, 27)
RIGHT_EYE, LEFT_EYE = np.arange(36, 42), np.arange(42, 48)
OUTER_LIPS, INNER_LIPS = np.arange(48, 60), np.arange(60, 68)
RIGHT_CHEEK = np.array([41, 40, 31, 48, 3, 2, 1])
LEFT_CHEEK = np.array([46, 47, 35, 54, 13, 14, 15])


def _face_template() -> np.ndarray:
    """A symmetric generic face, 68 x (x, y, z) in mm; x to the image right, y down,
    z away from the camera, origin between the eye centres. Proportions follow
    common adult averages: eye centres 63 apart, mouth 52 wide and 72 below the
    eyes, nose tip 36 below and 28 in front of the eyes, chin 115 below."""
    p = np.zeros((N_LANDMARKS, 3))
    g = np.linspace(0.0, np.pi, 17)  # jaw: half an ellipse from ear to ear via the chin
    p[JAW] = np.stack([-70.0 * np.cos(g), 8.0 + 107.0 * np.sin(g),
                       -14.0 + 69.0 * np.cos(g) ** 2], axis=1)
    p[RIGHT_BROW] = [(-57, -17, 8), (-48, -25, 0), (-37, -28, -5), (-25, -27, -9),
                     (-13, -23, -11)]
    # right eye: outer corner, two upper-lid points, inner corner, two lower-lid points
    p[RIGHT_EYE] = [(-46.5, 0, 4), (-36.5, -4.5, -1), (-26.5, -4.5, -3), (-16.5, 0, -5),
                    (-26.5, 4, -3), (-36.5, 4, -1)]
    p[27:31] = [(0, -2, -14), (0, 10, -18), (0, 23, -23), (0, 36, -28)]  # nose bridge to tip
    p[31:33] = [(-14, 44, -13), (-7, 46, -18)]
    p[33] = (0, 47, -20)
    p[48:51] = [(-26, 72, -7), (-16, 65, -15), (-6, 62, -19)]  # outer upper lip, right half
    p[51] = (0, 63, -20)
    p[55:57] = [(16, 79, -14), (6, 82, -17)]  # outer lower lip, left half
    p[57] = (0, 82.5, -17.5)
    p[60:62] = [(-22, 72, -9), (-8, 71.5, -15)]  # inner lips
    p[62] = (0, 71.5, -16)
    p[66] = (0, 72.5, -16)
    p[67] = (-8, 72.5, -15)

    def mirror(dst: list[int], src: list[int]) -> None:
        p[dst] = p[src] * np.array([-1.0, 1.0, 1.0])

    mirror(list(LEFT_BROW), [21, 20, 19, 18, 17])
    mirror(list(LEFT_EYE), [39, 38, 37, 36, 41, 40])
    mirror([34, 35], [32, 31])
    mirror([52, 53, 54], [50, 49, 48])
    mirror([58, 59], [56, 55])
    mirror([63, 64, 65], [61, 60, 67])
    return p


FACE_TEMPLATE: np.ndarray = _face_template()
FACE_TEMPLATE.setflags(write=False)

# Jaw landmarks trace the face's silhouette, which slides over the skin as the
# head turns, so they count less in the pose fit than fixed points.
_POSE_WEIGHTS = np.ones(N_LANDMARKS)
_POSE_WEIGHTS[JAW] = 0.25
_POSE_ITERATIONS = 6


def _rot_roll(a: np.ndarray) -> np.ndarray:
    c, s, o, z = np.cos(a), np.sin(a), np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, -s, z], -1), np.stack([s, c, z], -1),
                     np.stack([z, z, o], -1)], -2)


def _rot_yaw(a: np.ndarray) -> np.ndarray:
    c, s, o, z = np.cos(a), np.sin(a), np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, z, -s], -1), np.stack([z, o, z], -1),
                     np.stack([s, z, c], -1)], -2)


def _rot_pitch(a: np.ndarray) -> np.ndarray:
    c, s, o, z = np.cos(a), np.sin(a), np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([o, z, z], -1), np.stack([z, c, s], -1),
                     np.stack([z, -s, c], -1)], -2)


def pose_matrix(yaw: np.ndarray | float, pitch: np.ndarray | float,
                roll: np.ndarray | float) -> np.ndarray:
    """Rotation(s) for angles in degrees, in this module's conventions: (..., 3, 3)."""
    y, p, r = (np.radians(np.asarray(a, dtype=np.float64)) for a in (yaw, pitch, roll))
    return _rot_roll(r) @ _rot_yaw(y) @ _rot_pitch(p)


def pose_angles(rotation: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotations -> (..., 3) yaw, pitch, roll in degrees (inverse of pose_matrix)."""
    r = rotation
    yaw = np.arcsin(np.clip(r[..., 2, 0], -1.0, 1.0))
    pitch = np.arctan2(-r[..., 2, 1], r[..., 2, 2])
    roll = np.arctan2(r[..., 1, 0], r[..., 0, 0])
    return np.degrees(np.stack([yaw, pitch, roll], axis=-1))


def _rodrigues(w: np.ndarray) -> np.ndarray:
    """(N, 3) rotation vectors -> (N, 3, 3) rotations."""
    theta = np.linalg.norm(w, axis=-1)[:, None, None]
    k = np.zeros((len(w), 3, 3))
    k[:, 0, 1], k[:, 0, 2], k[:, 1, 2] = -w[:, 2], w[:, 1], -w[:, 0]
    k -= np.swapaxes(k, 1, 2)
    small = theta < 1e-12
    t = np.where(small, 1.0, theta)
    a = np.where(small, 1.0, np.sin(t) / t)
    b = np.where(small, 0.5, (1.0 - np.cos(t)) / t**2)
    return np.eye(3) + a * k + b * (k @ k)


def fit_pose(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weak-perspective fit of FACE_TEMPLATE to finite (N, 68, 2) landmarks.

    Minimises sum_i w_i |s R[:2] X_i + t - p_i|^2 over scale s, rotation R and
    translation t: the affine least-squares camera projected onto the nearest
    scaled rotation, then Gauss-Newton steps on (rotation, scale).
    Returns (R (N, 3, 3), s (N,)).
    """
    w = _POSE_WEIGHTS / _POSE_WEIGHTS.sum()
    x = FACE_TEMPLATE - w @ FACE_TEMPLATE  # (68, 3), weighted centroid at 0
    p = landmarks - np.einsum("k,nkd->nd", w, landmarks)[:, None, :]
    xw = x * w[:, None]
    m = np.einsum("nkd,ke->nde", p, xw) @ np.linalg.inv(x.T @ xw)  # (N, 2, 3)
    u, sv, vt = np.linalg.svd(m, full_matrices=False)
    rows = u @ vt
    rot = np.concatenate([rows, np.cross(rows[:, 0], rows[:, 1])[:, None, :]], axis=1)
    scale = sv.mean(axis=1)
    sw = np.sqrt(w)[None, :, None]
    for _ in range(_POSE_ITERATIONS):
        y = x @ np.swapaxes(rot, 1, 2)  # (N, 68, 3) template in the camera frame
        a, b, c = y[..., 0], y[..., 1], y[..., 2]
        res = scale[:, None, None] * y[..., :2] - p  # (N, 68, 2)
        zero = np.zeros_like(a)
        s_ = scale[:, None]
        jx = np.stack([zero, s_ * c, -s_ * b, a], axis=-1)  # d(x)/d(w1, w2, w3, s)
        jy = np.stack([-s_ * c, zero, s_ * a, b], axis=-1)
        jac = np.stack([jx, jy], axis=2) * sw[..., None]  # (N, 68, 2, 4)
        jac = jac.reshape(len(p), -1, 4)
        r = (res * sw).reshape(len(p), -1)
        normal = np.swapaxes(jac, 1, 2) @ jac
        # a whisker of damping keeps odd (nearly flat) landmark sets solvable
        normal += 1e-9 * np.trace(normal, axis1=1, axis2=2)[:, None, None] * np.eye(4)
        step = np.linalg.solve(normal, -np.einsum("nkj,nk->nj", jac, r)[..., None])[..., 0]
        rot = _rodrigues(step[:, :3]) @ rot
        scale = scale + step[:, 3]
    return rot, scale


# ---------------------------------------------------------------- colour


def _srgb_to_linear_table() -> np.ndarray:
    c = np.arange(256) / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


_LINEAR = _srgb_to_linear_table()
_RGB_TO_XYZ = np.array([[0.4124564, 0.3575761, 0.1804375],
                        [0.2126729, 0.7151522, 0.0721750],
                        [0.0193339, 0.1191920, 0.9503041]])
_WHITE_D65 = _RGB_TO_XYZ.sum(axis=1)  # the XYZ of sRGB white: (0.95047, 1.0, 1.08883)


def _lab_f(t: np.ndarray) -> np.ndarray:
    d = 6.0 / 29.0
    return np.where(t > d**3, np.cbrt(t), t / (3 * d * d) + 4.0 / 29.0)


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """uint8 sRGB (..., 3) -> CIE L*a*b* (..., 3), D65 white, float64."""
    xyz = _LINEAR[np.asarray(rgb, dtype=np.uint8)] @ _RGB_TO_XYZ.T
    f = _lab_f(xyz / _WHITE_D65)
    return np.stack([116.0 * f[..., 1] - 16.0, 500.0 * (f[..., 0] - f[..., 1]),
                     200.0 * (f[..., 1] - f[..., 2])], axis=-1)


# Per-channel tables of each channel's share of X/Xn and Y/Yn: one lookup and a
# sum per pixel instead of a matrix product, for the one or two channels needed.
_X_TABLE = _LINEAR[:, None] * (_RGB_TO_XYZ[0] / _WHITE_D65[0])
_Y_TABLE = _LINEAR[:, None] * (_RGB_TO_XYZ[1] / _WHITE_D65[1])


def _f_of(table: np.ndarray, rgb: np.ndarray) -> np.ndarray:
    return _lab_f(table[rgb[..., 0], 0] + table[rgb[..., 1], 1] + table[rgb[..., 2], 2])


def lightness(rgb: np.ndarray) -> np.ndarray:
    """uint8 sRGB (..., 3) -> L* (...)."""
    return 116.0 * _f_of(_Y_TABLE, rgb) - 16.0


def redness(rgb: np.ndarray) -> np.ndarray:
    """uint8 sRGB (..., 3) -> a* (...)."""
    return 500.0 * (_f_of(_X_TABLE, rgb) - _f_of(_Y_TABLE, rgb))


def points_in_polygons(points: np.ndarray, polygons: np.ndarray) -> np.ndarray:
    """Even-odd test of points (N, P, 2) against one polygon per row (N, V, 2): (N, P) bool."""
    pts = points.astype(np.float32)
    px, py = pts[..., 0][..., None], pts[..., 1][..., None]  # (N, P, 1)
    poly = polygons.astype(np.float32)
    xi, yi = poly[:, None, :, 0], poly[:, None, :, 1]  # (N, 1, V)
    xj, yj = np.roll(xi, 1, axis=-1), np.roll(yi, 1, axis=-1)
    # where yi == yj no point crosses the edge, so the slope there is never used
    slope = (xj - xi) / np.where(yj == yi, np.float32(1), yj - yi)
    crosses = (yi > py) != (yj > py)
    crosses &= px < xi + (py - yi) * slope
    return np.logical_xor.reduce(crosses, axis=-1)


_GRID = 16  # samples per side of a region's box
_UNIT = (np.arange(_GRID) + 0.5) / _GRID
_GRID_UV = np.stack(np.meshgrid(_UNIT, _UNIT, indexing="xy"), axis=-1).reshape(-1, 2)


def _box_samples(polygons: np.ndarray) -> np.ndarray:
    """A _GRID x _GRID grid over each polygon's bounding box: (N, G*G, 2)."""
    lo, hi = polygons.min(axis=1), polygons.max(axis=1)
    return lo[:, None, :] + _GRID_UV[None] * (hi - lo)[:, None, :]


def _shrink(polygons: np.ndarray, factor: float) -> np.ndarray:
    centre = polygons.mean(axis=1, keepdims=True)
    return centre + factor * (polygons - centre)


def _gather(images: np.ndarray, points: np.ndarray,
            in_region: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixels under sample points: (rgb (N, P, 3), usable (N, P), n in region (N,))."""
    n, h, w = images.shape[:3]
    safe = np.where(np.isfinite(points), points, -1.0)
    col, row = np.floor(safe[..., 0]).astype(np.int64), np.floor(safe[..., 1]).astype(np.int64)
    usable = in_region & (col >= 0) & (col < w) & (row >= 0) & (row < h)
    col, row = np.clip(col, 0, w - 1), np.clip(row, 0, h - 1)
    rgb = images[np.arange(n)[:, None], row, col]
    return rgb, usable, in_region.sum(axis=1)


def _masked_median(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Row medians of values (N, P) over mask; NaN where the mask is empty."""
    ordered = np.sort(np.where(mask, values, np.inf), axis=1)
    k = mask.sum(axis=1)
    lo = np.take_along_axis(ordered, np.maximum((k - 1) // 2, 0)[:, None], axis=1)[:, 0]
    hi = np.take_along_axis(ordered, np.maximum(k // 2, 0)[:, None], axis=1)[:, 0]
    with np.errstate(invalid="ignore"):
        med = 0.5 * (lo + hi)
    return np.where(k > 0, med, np.nan)


# A region whose in-image share of samples is below this gives NaN. Background
# bands reach the image edge on most crops, so they need less.
_MIN_INSIDE = 0.5
_MIN_INSIDE_BACKGROUND = 0.2
HAIR_BAND = (0.45, 0.62)  # face heights (brows to chin) above the brow line
HAIR_HALF_WIDTH = 0.5  # IODs either side of the brows' centre
BACKGROUND_BAND = (0.6, 1.1)  # IODs beyond the outermost jaw point, each side
BACKGROUND_HEIGHT = 0.25  # face heights above and below the brow line
CHEEK_SHRINK = 0.6  # cheek polygons scaled about their centre, off eye, nose and jaw


def _region_stat(images: np.ndarray, points: np.ndarray, in_region: np.ndarray,
                 stat: Callable[[np.ndarray], np.ndarray], min_inside: float) -> np.ndarray:
    """Median of stat(pixel) over a region's samples; NaN when too few are in the image."""
    rgb, usable, n_region = _gather(images, points, in_region)
    med = _masked_median(stat(rgb), usable)
    enough = (n_region > 0) & (usable.sum(axis=1) >= min_inside * np.maximum(n_region, 1))
    return np.where(enough, med, np.nan)


def _rect_samples(origin: np.ndarray, u: np.ndarray, v: np.ndarray,
                  u_range: np.ndarray, v_range: np.ndarray) -> np.ndarray:
    """Grid points of the rectangle u_range x v_range (each (N, 2), in units of the
    u and v vectors) in the face frame at origin: (N, G*G, 2) image points."""
    gu = u_range[:, :1] + _GRID_UV[None, :, 0] * (u_range[:, 1:] - u_range[:, :1])
    gv = v_range[:, :1] + _GRID_UV[None, :, 1] * (v_range[:, 1:] - v_range[:, :1])
    return origin[:, None, :] + gu[..., None] * u[:, None, :] + gv[..., None] * v[:, None, :]


# ---------------------------------------------------------------- measuring


def _project(d: np.ndarray, axis: np.ndarray) -> np.ndarray:
    return np.einsum("n...d,nd->n...", d, axis)


def measure_faces(images: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """uint8 RGB images (N, H, W, 3) and their (N, 68, 2) landmarks -> float64
    (N, len(MEASURE_FEATURES)); see the module docstring for the NaN rules."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return _measure(images, landmarks)


def _measure(images: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    images = np.asarray(images)
    pts = np.asarray(landmarks, dtype=np.float64)
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise ValueError(f"images must be uint8 (N, H, W, 3), got {images.dtype} {images.shape}")
    if pts.shape != (len(images), N_LANDMARKS, 2):
        raise ValueError(f"landmarks must be ({len(images)}, 68, 2), got {pts.shape}")
    out = np.full((len(images), len(_SPEC)), np.nan)
    ok = np.isfinite(pts).all(axis=(1, 2))
    pts_ok = np.where(ok[:, None, None], pts, FACE_TEMPLATE[None, :, :2])
    eye_r, eye_l = pts_ok[:, RIGHT_EYE].mean(axis=1), pts_ok[:, LEFT_EYE].mean(axis=1)
    iod = np.linalg.norm(eye_l - eye_r, axis=1)
    centred = pts_ok - pts_ok.mean(axis=1, keepdims=True)
    spread = np.linalg.svd(centred, compute_uv=False)  # (N, 2), largest first
    ok &= (iod > 1e-6 * np.maximum(spread[:, 0], 1e-300)) & (spread[:, 1] > 1e-6 * spread[:, 0])
    if not ok.any():
        return out
    pts, eye_r, eye_l, iod, imgs = pts_ok[ok], eye_r[ok], eye_l[ok], iod[ok], images[ok]
    u = (eye_l - eye_r) / iod[:, None]
    v = np.stack([-u[:, 1], u[:, 0]], axis=1)  # u turned 90 degrees towards the chin
    per_iod = 100.0 / iod

    def along(a: int | np.ndarray, b: int | np.ndarray, axis: np.ndarray) -> np.ndarray:
        """Component of (point b - point a) along axis, in % IOD: (N,) or (N, k)."""
        proj = _project(pts[:, b] - pts[:, a], axis)
        return proj * per_iod.reshape(-1, *([1] * (proj.ndim - 1)))

    res = np.empty((len(pts), len(_SPEC)))
    res[:, _COLUMN["Mouth_Opening"]] = along(np.array([61, 62, 63]), np.array([67, 66, 65]),
                                             v).mean(axis=1)
    aperture_r = along(np.array([37, 38]), np.array([41, 40]), v).mean(axis=1)
    aperture_l = along(np.array([43, 44]), np.array([47, 46]), v).mean(axis=1)
    res[:, _COLUMN["Eye_Opening"]] = 50.0 * (aperture_r / along(36, 39, u)
                                             + aperture_l / along(42, 45, u))
    rot, _ = fit_pose(pts)
    angles = pose_angles(rot)
    res[:, _COLUMN["Yaw"]], res[:, _COLUMN["Pitch"]], res[:, _COLUMN["Roll"]] = angles.T
    res[:, _COLUMN["Face_Width"]] = along(np.array([2, 3]), np.array([14, 13]), u).mean(axis=1)
    brow_r, brow_l = pts[:, RIGHT_BROW].mean(axis=1), pts[:, LEFT_BROW].mean(axis=1)
    raise_r = _project(eye_r - brow_r, v) * per_iod
    raise_l = _project(eye_l - brow_l, v) * per_iod
    res[:, _COLUMN["Eyebrow_Raise"]] = 0.5 * (raise_r + raise_l)
    res[:, _COLUMN["Mouth_Width"]] = along(48, 54, u)
    res[:, _COLUMN["Nose_Width"]] = along(31, 35, u)
    res[:, _COLUMN["Lip_Thickness"]] = along(51, 62, v) + along(66, 57, v)
    res[:, _COLUMN["Chin_Height"]] = along(57, 8, v)
    res[:, _COLUMN["Skin_Lightness"]:] = _colours(imgs, pts, eye_r, eye_l, iod, u, v)
    res[~np.isfinite(res)] = np.nan  # e.g. an eye of zero width
    out[ok] = res
    return out


def _colours(images: np.ndarray, pts: np.ndarray, eye_r: np.ndarray, eye_l: np.ndarray,
             iod: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Skin, hair, lip and background columns for faces with valid landmarks."""
    n = len(pts)
    cols = np.empty((n, 4))

    cheeks = np.concatenate([_shrink(pts[:, RIGHT_CHEEK], CHEEK_SHRINK),
                             _shrink(pts[:, LEFT_CHEEK], CHEEK_SHRINK)])  # (2N, 7, 2)
    samples = _box_samples(cheeks)
    inside = points_in_polygons(samples, cheeks)
    # both cheeks' samples pooled per face
    cols[:, 0] = _region_stat(images, np.concatenate([samples[:n], samples[n:]], axis=1),
                              np.concatenate([inside[:n], inside[n:]], axis=1), lightness,
                              _MIN_INSIDE)

    brows = pts[:, 17:27].mean(axis=1)
    eye_mid = 0.5 * (eye_r + eye_l)
    brow_v = _project(brows - eye_mid, v)
    height = _project(pts[:, 8] - eye_mid, v) - brow_v  # face height, brows to chin
    brow_u = _project(brows - eye_mid, u)
    u_vec, v_vec = u * iod[:, None], v * height[:, None]
    u_range = np.stack([brow_u / iod - HAIR_HALF_WIDTH, brow_u / iod + HAIR_HALF_WIDTH], 1)
    v_range = np.stack([brow_v / height - HAIR_BAND[1], brow_v / height - HAIR_BAND[0]], 1)
    hair = _rect_samples(eye_mid, u_vec, v_vec, u_range, v_range)
    upright = np.broadcast_to((height > 0)[:, None], hair.shape[:2])  # chin below the brows
    cols[:, 1] = _region_stat(images, hair, upright, lightness, _MIN_INSIDE)

    outer, inner = pts[:, OUTER_LIPS], pts[:, INNER_LIPS]
    samples = _box_samples(outer)
    in_lips = points_in_polygons(samples, outer) & ~points_in_polygons(samples, inner)
    cols[:, 2] = _region_stat(images, samples, in_lips, redness, _MIN_INSIDE)

    jaw_u = _project(pts[:, JAW] - eye_mid[:, None], u) / iod[:, None]
    bands = []
    v_range = np.stack([brow_v / height - BACKGROUND_HEIGHT,
                        brow_v / height + BACKGROUND_HEIGHT], 1)
    for side, edge in ((-1.0, jaw_u.min(axis=1)), (1.0, jaw_u.max(axis=1))):
        u_range = np.sort(np.stack([edge + side * BACKGROUND_BAND[0],
                                    edge + side * BACKGROUND_BAND[1]], 1), axis=1)
        bands.append(_rect_samples(eye_mid, u_vec, v_vec, u_range, v_range))
    back = np.concatenate(bands, axis=1)
    upright = np.broadcast_to((height > 0)[:, None], back.shape[:2])
    cols[:, 3] = _region_stat(images, back, upright, lightness,
                              _MIN_INSIDE_BACKGROUND)
    return cols
