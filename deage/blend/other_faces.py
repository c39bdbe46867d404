"""Keep one face's edit off the other faces in the frame.

A face's edit reaches well past its own features: the makeup editor retouches the forehead and
the neck down to 1.1 eye distances below the chin, its shape warp moves the jaw, and a landmark
fit that runs over a face in front of it (heads together in a two-shot, a group selfie) puts
that face inside its outline. Where another face's eyes, brows, nose and mouth are, the edit of
this one is cut to nothing (``spare_other_faces``), so a face is only ever changed by its own
edit: in a group selfie the edits of four of five faces covered another face's features at full
strength (warped with its jaw, retouched with its skin model) before.

The other face's features are the convex hull of its landmarks 17-67 (brows, eyes, nose, mouth):
the cut is whole on them and ``GROW`` of that face's eye distance around them (the blend's
feather, applied to the edit's mask after the cut, then cannot carry the edit back onto them)
and eases out over as much again. A detector finds a face only where those are visible, so they
are that face's and not this one's neck or forehead. Two faces whose features sit within
``SAME_FACE`` eye distances of each other are one person found twice, and do not cut each other.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable

import cv2
import numpy as np

from deage.edit.base import EditResult
from deage.face.align import affine_scale, transform_points
from deage.face.masks import FaceFrame
from deage.types import AlignedFace, Face

GROW = 0.15
"""Eye distances (of the other face) the whole cut reaches around its features; it eases out
over as much again."""
SAME_FACE = 0.5
"""Eye distances (of this face) between the centres of two faces' features under which they are
taken for one face."""


def spare_other_faces(result: EditResult, aligned: AlignedFace, face: Face, others: Iterable[Face]) -> EditResult:
    """``result`` with its mask cut to 0 over the features of ``others``.

    Args:
        result: the edit of ``face`` (its ``mask`` float32 (S, S) in [0, 1], crop pixels).
        aligned: the crop the edit was made on (``matrix`` maps frame -> crop pixels).
        face: the edited face, frame pixels (68 landmarks).
        others: the other faces of the same frame, frame pixels; those without landmarks are skipped.

    Returns:
        ``result`` itself when no other face's features reach the crop, else a shallow copy
        with a new mask (the input, which a preview may have cached, is not modified).
    """
    if face.landmarks is None:
        return result
    own = np.asarray(face.landmarks, np.float64)
    own_centre = own[17:68].mean(axis=0)
    own_d = FaceFrame.from_landmarks(own).eye_distance
    size = aligned.size
    matrix = np.asarray(aligned.matrix, np.float64)
    scale = affine_scale(matrix)  # crop px per frame px
    grid = min(size, 256)  # the cut is smooth: drawn on a coarser grid, then resized
    k = grid / float(size)
    cut = None
    for other in others:
        if other is face or other.landmarks is None:
            continue
        pts = np.asarray(other.landmarks, np.float64)
        if np.hypot(*(pts[17:68].mean(axis=0) - own_centre)) < SAME_FACE * own_d:
            continue
        reach = GROW * FaceFrame.from_landmarks(pts).eye_distance * scale * k  # grid pixels
        hull = cv2.convexHull(transform_points(pts[17:68], matrix) * k)
        lo, hi = hull.reshape(-1, 2).min(axis=0), hull.reshape(-1, 2).max(axis=0)
        if (hi < -2 * reach).any() or (lo > grid + 2 * reach).any():
            continue  # nowhere near this crop
        canvas = np.zeros((grid, grid), np.uint8)
        cv2.fillPoly(canvas, [np.round(hull * 16).astype(np.int32)], 255, lineType=cv2.LINE_AA, shift=4)
        radius = max(1, int(round(2 * reach)))
        grown = cv2.dilate(canvas, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1,) * 2))
        soft = cv2.GaussianBlur(grown.astype(np.float32) / 255.0, (0, 0), max(0.5, 0.5 * reach))
        # Whole to ``reach`` beyond the hull (two sigmas inside the grown edge), 0 at ``2 * reach``.
        soft = np.maximum(soft * 2.0 - 1.0, canvas.astype(np.float32) / 255.0)
        cut = soft if cut is None else np.maximum(cut, soft)
    if cut is None or not cut.any():
        return result
    keep = 1.0 - np.clip(cv2.resize(cut, (size, size), interpolation=cv2.INTER_LINEAR), 0.0, 1.0)
    spared = copy.copy(result)
    spared.mask = (np.asarray(result.mask, np.float32) * keep).astype(np.float32)
    return spared


def others_in(faces: dict[int, Face], track_id: int) -> list[Face]:
    """The faces of ``faces`` (track id -> Face, one frame) other than ``track_id``'s."""
    return [f for t, f in faces.items() if t != track_id]


__all__ = ["GROW", "SAME_FACE", "others_in", "spare_other_faces"]
