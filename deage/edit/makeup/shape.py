"""A smooth landmark-driven warp: jowl and jaw-line lift, cheek fullness, a touch of eye aperture,
fuller lips.

Landmarks (and a few points derived from them) are moved by small amounts given in eye distances;
every other landmark, a ring around the face and the crop border stay fixed. A thin-plate spline
(scipy's ``RBFInterpolator``) through those constraints gives a smooth backward flow on a coarse
grid; it is bounded so it can never tear or fold: displacements are capped, and the spline is
scaled down until the Jacobian determinant of the map stays well above zero everywhere.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.interpolate import RBFInterpolator

from deage.face.masks import FaceFrame
from deage.types import Points

# Jaw contour points lifted by ``jaw_lift`` (weight: jowls most, chin less, upper jaw little).
_JAW_WEIGHTS = {3: 0.25, 4: 0.6, 5: 0.9, 6: 1.0, 7: 0.75, 8: 0.55, 9: 0.75, 10: 1.0, 11: 0.9, 12: 0.6, 13: 0.25}
_LIFT = 0.05  # eye distances, upwards
_TUCK = 0.022  # eye distances, inwards
_CHEEK_OUT = 0.035
_CHEEK_UP = 0.02
_CONTOUR_OUT = 0.02
_LID_UP = 0.14  # fraction of the eye's height
_LID_DOWN = 0.05
# Outer lip contour points moved away from the mouth's line by ``lip_fullness``, as a fraction of
# that lip's own height (vermilion: the outer contour to the inner one), which thins with age;
# the corners and the inner contour stay.
_UPPER_LIP = {49: 0.6, 50: 1.0, 51: 1.0, 52: 1.0, 53: 0.6}
_LOWER_LIP = {55: 0.6, 56: 1.0, 57: 1.0, 58: 1.0, 59: 0.6}
_LIP_OUT = 0.3
_LIP_MAX = 0.045  # eye distances
_LIP_RING = 0.35  # eye distances beyond the outer lip contour, held still
# How far beyond the face's outline the warp reaches: a ring of still points RING eye distances
# beyond the jaw line, and the flow eased from full at REACH_FULL to 0 at REACH_END beyond the
# outline. The jaw line moves as far as with a wider reach (within 5 %) and the map stays far
# from folding (Jacobian >= 0.85 at full strength); a wider reach (0.6 / 0.3 / 0.75) moved collars,
# necklaces, hair and hands below and beside the face for no visible gain (benchmarks/edit_reach.py,
# seven photos at 20 years: mean change 0.3-0.8 eye distances beyond the outline 0.69 -> 0.26
# levels, the largest 69 -> 31 on average).
RING = 0.4
REACH_FULL, REACH_END = 0.15, 0.45
MIN_JACOBIAN = 0.5
DEAD_ZONE = 0.2  # crop pixels
MAX_DISPLACEMENT = 0.09  # eye distances


def control_points(
    landmarks: Points, *, jaw_lift: float, cheek_fullness: float, eye_aperture: float
) -> tuple[np.ndarray, np.ndarray, FaceFrame]:
    """Source points (float64 (N, 2), crop pixels) and their forward displacements (N, 2).

    Fixed points (zero displacement) are included: the other landmarks and a ring around the face.
    """
    pts = np.asarray(landmarks, np.float64)
    fr = FaceFrame.from_landmarks(pts)
    d, up, ex = fr.eye_distance, fr.up, fr.x_axis
    centre = pts[27:36].mean(0)
    moves = np.zeros_like(pts)
    for i, w in _JAW_WEIGHTS.items():
        side = np.sign(np.dot(pts[i] - pts[8], ex)) if i != 8 else 0.0
        moves[i] += jaw_lift * w * (up * _LIFT * d - ex * side * _TUCK * d)
    for i, side in ((1, -1), (2, -1), (14, 1), (15, 1)):
        moves[i] += cheek_fullness * ex * side * _CONTOUR_OUT * d
    for upper, lower in (((37, 38), (40, 41)), ((43, 44), (46, 47))):
        height = float(np.dot(pts[list(upper)].mean(0) - pts[list(lower)].mean(0), up))
        height = max(height, 0.0)
        for i in upper:
            moves[i] += eye_aperture * up * _LID_UP * height
        for i in lower:
            moves[i] -= eye_aperture * up * _LID_DOWN * height
    extra_src, extra_mov = [], []
    for jaw, wing, side in ((pts[2], pts[31], -1.0), (pts[14], pts[35], 1.0)):
        cheek = 0.5 * (jaw + wing) + up * 0.12 * d
        extra_src.append(cheek)
        extra_mov.append(cheek_fullness * (ex * side * _CHEEK_OUT * d + up * _CHEEK_UP * d))
    ring = np.vstack([_pushed_out(pts[0:17], centre, RING * d), pts[17:27] + up * 0.9 * d])
    src = np.vstack([pts, np.array(extra_src), ring])
    mov = np.vstack([moves, np.array(extra_mov), np.zeros((len(ring), 2))])
    return src, mov, fr


def lip_control_points(landmarks: Points, lip_fullness: float) -> tuple[np.ndarray, np.ndarray]:
    """The lips' own warp: source points (float64 (N, 2), crop pixels) and forward displacements.

    The outer contour moves away from the mouth's line by ``lip_fullness`` times ``_LIP_OUT`` of
    that lip's height (upper: outer top 50-52 over inner top 61-63; lower: inner bottom 65-67 over
    outer bottom 56-58; a negative height, a bad fit, moves nothing); the corners and the inner
    contour stay, and so does a ring 0.35 eye distances around the mouth, which keeps the warp
    local (the nostrils and the chin do not move)."""
    pts = np.asarray(landmarks, np.float64)
    fr = FaceFrame.from_landmarks(pts)
    d, up = fr.eye_distance, fr.up
    lips = pts[48:68].copy()
    moves = np.zeros_like(lips)
    upper_h = max(float(np.dot(pts[50:53].mean(0) - pts[61:64].mean(0), up)), 0.0)
    lower_h = max(float(np.dot(pts[65:68].mean(0) - pts[56:59].mean(0), up)), 0.0)
    for weights, height, sign in ((_UPPER_LIP, upper_h, 1.0), (_LOWER_LIP, lower_h, -1.0)):
        step = lip_fullness * min(_LIP_OUT * height, _LIP_MAX * d)
        for i, w in weights.items():
            moves[i - 48] += up * sign * w * step
    ring = _pushed_out(pts[48:60], pts[48:60].mean(0), _LIP_RING * d)
    return np.vstack([lips, ring]), np.vstack([moves, np.zeros((len(ring), 2))])


def _pushed_out(points: np.ndarray, centre: np.ndarray, reach: float) -> np.ndarray:
    """``points`` (N, 2) each moved ``reach`` pixels further from ``centre``: a ring held still."""
    out = points - centre
    out /= np.maximum(np.hypot(out[:, 0], out[:, 1]), 1e-6)[:, None]
    return points + out * reach


def _spline_flow(src: np.ndarray, mov: np.ndarray, crop_size: int, grid: int,
                 where: np.ndarray | None = None) -> np.ndarray:
    """Backward flow (G, G, 2) of the thin-plate spline taking ``src`` to ``src + mov``, the crop's
    border held still; evaluated only on the cells where ``where`` (G, G) is non-zero, when given
    (0 elsewhere)."""
    s = float(crop_size)
    border = np.linspace(-0.05 * s, 1.05 * s, 9)
    frame_pts = np.array([(x, y) for x in border for y in (border[0], border[-1])]
                         + [(x, y) for y in border[1:-1] for x in (border[0], border[-1])])
    # Fit on the destination positions so the spline evaluates the backward map directly.
    dst = np.vstack([src + mov, frame_pts])
    values = np.vstack([-mov, np.zeros_like(frame_pts)])
    spline = RBFInterpolator(dst, values, kernel="thin_plate_spline", degree=1, smoothing=1e-3)
    centres = (np.arange(grid) + 0.5) * s / grid - 0.5
    gx, gy = np.meshgrid(centres, centres)
    cells = np.ones((grid, grid), bool) if where is None else where != 0
    flow = np.zeros((grid, grid, 2))
    flow[cells] = spline(np.column_stack([gx[cells], gy[cells]]))
    return flow


def shape_flow(
    landmarks: Points,
    crop_size: int,
    *,
    jaw_lift: float,
    cheek_fullness: float,
    eye_aperture: float,
    lip_fullness: float = 0.0,
    grid: int = 32,
) -> np.ndarray | None:
    """Backward flow of the warp on a coarse grid, or None when nothing moves.

    Args:
        landmarks: float32 (68, 2) in crop pixels.
        crop_size: S, the crop's size.
        jaw_lift, cheek_fullness, eye_aperture, lip_fullness: strengths in [0, 1].
        grid: G, the flow's resolution.

    Returns:
        float32 (G, G, 2): for output pixel p, the crop is sampled at ``p + flow(p)`` (crop pixels);
        grid cell (i, j) is the crop pixel centre ``((j + 0.5) * S / G - 0.5, (i + 0.5) * S / G - 0.5)``
        (the ``cv2.resize`` convention, so it upsamples with ``cv2.resize``).
    """
    if max(jaw_lift, cheek_fullness, eye_aperture, lip_fullness) <= 0:
        return None
    src, mov, fr = control_points(
        landmarks, jaw_lift=jaw_lift, cheek_fullness=cheek_fullness, eye_aperture=eye_aperture
    )
    cap = MAX_DISPLACEMENT * fr.eye_distance
    flow = np.zeros((grid, grid, 2))
    if np.any(mov):
        norm = np.hypot(mov[:, 0], mov[:, 1])[:, None]
        mov = mov * np.minimum(1.0, cap / np.maximum(norm, 1e-9))
        reach = _falloff(landmarks, fr, crop_size, grid)
        flow = _spline_flow(src, mov, crop_size, grid, where=reach) * reach[..., None]
    if lip_fullness > 0:
        # The lips' warp is its own small spline, added to the broad one: its ring of still
        # points around the mouth, put in the broad spline, would bend the jaw lift's field there.
        lip_src, lip_mov = lip_control_points(landmarks, lip_fullness)
        near = _mouth_falloff(lip_src[20:], crop_size, grid)
        flow += _spline_flow(lip_src, lip_mov, crop_size, grid, where=near) * near[..., None]
    flow *= np.minimum(1.0, cap / max(float(np.abs(flow).max()), 1e-9))
    # Dead zone: where the warp would move pixels by a fraction of a pixel it is set to exactly 0,
    # so those pixels are not resampled at all (interpolation softens pores and grain).
    mag = np.hypot(flow[..., 0], flow[..., 1])
    t = np.clip((mag - DEAD_ZONE) / DEAD_ZONE, 0.0, 1.0)
    flow *= (t * t * (3.0 - 2.0 * t))[..., None]
    step = crop_size / grid
    for _ in range(8):  # bounded: shrink until the map is a diffeomorphism with margin
        if _min_jacobian(flow, step) >= MIN_JACOBIAN:
            break
        flow *= 0.7
    return flow.astype(np.float32)


def _falloff(landmarks: Points, fr: FaceFrame, crop_size: int, grid: int) -> np.ndarray:
    """1 on the face and ``REACH_FULL`` eye distances around it, easing to 0 at ``REACH_END`` out."""
    pts = np.asarray(landmarks, np.float64)
    hull = np.vstack([pts[0:17], (pts[17:27] + fr.up * 0.6 * fr.eye_distance)[::-1]])
    d = fr.eye_distance
    return _eased_outside(hull, crop_size, grid, REACH_FULL * d, (REACH_END - REACH_FULL) * d)


def _mouth_falloff(ring: np.ndarray, crop_size: int, grid: int) -> np.ndarray:
    """1 inside the polygon ``ring`` (crop pixels), easing to 0 a grid cell and a half outside it."""
    return _eased_outside(ring, crop_size, grid, 0.0, 1.5 * crop_size / grid)


def _eased_outside(polygon: np.ndarray, crop_size: int, grid: int, start: float, width: float) -> np.ndarray:
    """On the flow grid (G, G): 1 inside ``polygon`` (crop pixels) and up to ``start`` crop pixels
    outside it, easing to 0 over the next ``width``."""
    k = grid / float(crop_size)
    inside = np.zeros((grid, grid), np.uint8)
    cv2.fillPoly(inside, [np.round((polygon * k + 0.5 * k - 0.5) * 16).astype(np.int32)], 1, shift=4)
    dist = cv2.distanceTransform(1 - inside, cv2.DIST_L2, 5) / k  # crop pixels
    t = np.clip((dist - start) / width, 0.0, 1.0)
    return 1.0 - t * t * (3.0 - 2.0 * t)


def _min_jacobian(flow: np.ndarray, step: float) -> float:
    dfx_dy, dfx_dx = np.gradient(flow[..., 0], step)
    dfy_dy, dfy_dx = np.gradient(flow[..., 1], step)
    det = (1.0 + dfx_dx) * (1.0 + dfy_dy) - dfx_dy * dfy_dx
    return float(det.min())
