"""Move a face's irises along their eyes: the source's eyes, looking where the plate looks.

A swapped face keeps the source photo's eyes (their colour and shape are identity) but must look
where the actor on the plate looks (gaze is performance). After the mesh warp has laid the
source's eyes into the target's lid openings, each eye is resampled into an upright strip along
its corner axis (``deage.face.gaze.eye_strip_matrix``), and in it every column is taken from the
column a 1-D map sends it (``column_knots``): the iris band (``IRIS_WIDTH`` of the eye) shifts
rigidly to where the plate's iris is, the sclera beside it stretches or shrinks to fill, the
corners stay put unless the iris reaches them (then it slides under the lid). Each column is
rescaled from its own lid opening's height to the destination's, so no lid margin is carried
into the eye, and the strip is pasted back inside the lid opening only: lids and lashes stay as
the warp made them.
"""

from __future__ import annotations

import cv2
import numpy as np

from deage.face.gaze import IRIS_WIDTH, eye_strip_matrix, eye_width, lid_opening, opening_mask
from deage.types import Image, Points

MIN_SHIFT = 0.02
"""Iris moves smaller than this fraction of the eye's width are left alone."""

CORNER_KNOTS = (0.0, 0.12, 0.88, 1.0)
"""Positions along the eye (u) that an iris move leaves in place while the iris is clear of them."""

MAX_SHIFT = 0.3
"""Iris moves are limited to this fraction of the eye's width: further, the sclera the iris leaves
would be stretched from a sliver of the photo's (often shadowed) sclera by the inner corner."""

MAX_SOURCE_OFFSET = 0.25
"""An iris further than this from the eye's middle (u = 0.5) is not moved: part of it is under a
corner, and moving it would show what the lid hides."""

_SPAN = (-0.35, 1.35)  # strip columns: from beyond one corner to beyond the other (u units)
_HEIGHT = 1.6  # strip rows: this many lid openings


def redirect_gaze(image: Image, landmarks: Points, u_from: np.ndarray, u_to: np.ndarray) -> Image:
    """``image`` with each eye's iris moved along its corner axis from ``u_from`` to ``u_to``.

    Args:
        image: RGB uint8 (S, S, 3), a crop whose eyes are outlined by ``landmarks``.
        landmarks: float (68, 2) iBUG landmarks in ``image``'s pixels.
        u_from, u_to: float (2,) iris positions (``deage.face.gaze.Gaze.u``: image-left eye first,
            0 at an eye's image-left corner, 1 at its image-right one); an eye with NaN in either,
            a move under ``MIN_SHIFT``, or its iris further than ``MAX_SOURCE_OFFSET`` from the
            eye's middle, is left as it is; moves are limited to ``MAX_SHIFT``.

    Returns:
        A new RGB uint8 image; pixels outside the two lid openings are the input's.
    """
    out = image.copy()
    pts = np.asarray(landmarks, np.float64)
    for eye in (0, 1):
        start, end = float(u_from[eye]), float(u_to[eye])
        if not (np.isfinite(start) and np.isfinite(end)) or abs(end - start) < MIN_SHIFT \
                or abs(start - 0.5) > MAX_SOURCE_OFFSET:
            continue
        width = eye_width(pts, eye)
        if width < 4.0:
            continue
        _move_iris(out, pts, eye, width, start, start + float(np.clip(end - start, -MAX_SHIFT, MAX_SHIFT)))
    return out


def _move_iris(out: Image, pts: np.ndarray, eye: int, width: float, start: float, end: float) -> None:
    """Redirect one eye of ``out`` in place (see ``redirect_gaze``)."""
    # Strip at twice the eye's own resolution (sub-pixel moves resample cleanly).
    cols = max(16, int(np.ceil(2.0 * width * (_SPAN[1] - _SPAN[0]))))
    rows = max(8, int(np.ceil(2.0 * _HEIGHT * max(lid_opening(pts, eye), 1.0))))
    shape = (cols, rows)
    matrix = eye_strip_matrix(pts, eye, shape, _SPAN, _HEIGHT)
    strip = cv2.warpAffine(out, matrix, shape, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                           borderMode=cv2.BORDER_REFLECT_101)
    # Each destination column samples the source column the iris move maps onto it, rescaled
    # from that column's lid opening to its own (no lid margin carried into the eye).
    inside = opening_mask(pts, eye, matrix, shape)
    top, bottom = _lid_rows(inside)
    knots_to, knots_from = column_knots(start, end)
    per_u = (cols - 1) / (_SPAN[1] - _SPAN[0])
    u = _SPAN[0] + np.arange(cols, dtype=np.float64) / per_u
    source_x = (np.interp(u, knots_to, knots_from) - _SPAN[0]) * per_u
    src_top = np.interp(source_x, np.arange(cols), top)
    src_bottom = np.interp(source_x, np.arange(cols), bottom)
    v = (np.arange(rows, dtype=np.float64)[:, None] - top[None, :]) / (bottom - top)[None, :]
    map_y = (src_top[None, :] + v * (src_bottom - src_top)[None, :]).astype(np.float32)
    map_x = np.ascontiguousarray(np.broadcast_to(source_x.astype(np.float32)[None, :], (rows, cols)))
    moved = cv2.remap(strip, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    # Back into the image, inside the lid opening only.
    box = _image_box(matrix, shape, out.shape[:2])
    if box is None:
        return
    x0, y0, x1, y1 = box
    to_box = matrix.copy()
    to_box[:, 2] -= (x0, y0)
    size = (x1 - x0, y1 - y0)
    new = cv2.warpAffine(moved, to_box, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    alpha = cv2.warpAffine(inside, to_box, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    region = out[y0:y1, x0:x1].astype(np.float32)
    mixed = region + (new.astype(np.float32) - region) * alpha[..., None]
    out[y0:y1, x0:x1] = np.clip(mixed + 0.5, 0, 255).astype(np.uint8)


def _lid_rows(inside: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """float64 (w,) top and bottom row of the lid opening in each strip column (``inside``:
    float32 (h, w)), at least a fifth of the tallest column's height apart (the opening narrows
    to nothing at the corners; beyond them the nearest column's rows, kept that far apart)."""
    h, w = inside.shape
    rows = np.arange(h, dtype=np.float64)[:, None]
    mass = inside.sum(axis=0).astype(np.float64)
    centre = np.where(mass > 0, (inside * rows).sum(axis=0) / np.maximum(mass, 1e-9), np.nan)
    has = mass > 0.5
    if not has.any():
        return np.full(w, 0.0), np.full(w, h - 1.0)
    cols = np.arange(w)
    centre = np.interp(cols, cols[has], centre[has])
    half = 0.5 * np.maximum(mass, 0.2 * mass.max())
    return centre - half, centre + half


def column_knots(start: float, end: float) -> tuple[np.ndarray, np.ndarray]:
    """Knots (destination u, source u), increasing, of the 1-D map that moves an iris from
    ``start`` to ``end`` along its eye: the iris band (``IRIS_WIDTH`` wide) shifts rigidly, the
    sclera beside it stretches or shrinks to fill, the eye corners (``CORNER_KNOTS``: the corner
    and the caruncle or lid fold beside it) stay put unless the iris reaches them (then they move
    out with it: the iris slides under the lid), and the strip's ends stay put."""
    half = 0.5 * IRIS_WIDTH
    shift = end - start
    to = [_SPAN[0], start - half + shift, start + half + shift, _SPAN[1]]
    src = [_SPAN[0], start - half, start + half, _SPAN[1]]
    for fixed in CORNER_KNOTS:
        clear_of_moved = fixed < to[1] - 0.02 or fixed > to[2] + 0.02
        clear_of_source = fixed < src[1] - 0.02 or fixed > src[2] + 0.02
        if clear_of_moved and clear_of_source:
            to.append(fixed)
            src.append(fixed)
    order = np.argsort(to)
    return np.asarray(to, np.float64)[order], np.asarray(src, np.float64)[order]


def _image_box(matrix: np.ndarray, shape: tuple[int, int], image_shape: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """The image box (x0, y0, x1, y1) a strip of ``shape`` covers through ``matrix``, clipped."""
    w, h = shape
    corners = np.array([[0, 0], [w - 1, 0], [0, h - 1], [w - 1, h - 1]], np.float64)
    pts = corners @ matrix[:, :2].T + matrix[:, 2]
    x0, y0 = np.floor(pts.min(axis=0)).astype(int) - 1
    x1, y1 = np.ceil(pts.max(axis=0)).astype(int) + 2
    x0, y0 = max(x0, 0), max(y0, 0)
    x1, y1 = min(x1, image_shape[1]), min(y1, image_shape[0])
    if x1 <= x0 or y1 <= y0:
        return None
    return int(x0), int(y0), int(x1), int(y1)
