"""Where the irises sit in the eye openings: a face's horizontal gaze, from its pixels and landmarks.

dlib's 68 landmarks outline the lids but not the irises. The iris and pupil are darker than the
sclera on either side of them, so each eye is sampled along its corner-to-corner axis into a
small upright strip, the middle of its lid opening (away from the lash lines) averaged into a
column profile of luminance, and the iris taken where a window of the iris's width
(``IRIS_WIDTH`` of the eye) is most darker than its two flanks, refined to a fraction of a
strip column. A shadowed corner or a lash line, dark but not darker than what is beside it,
does not win.

The result is a position along the eye's axis, ``u`` in [0, 1] from the image-left corner to
the image-right one (about 0.5: looking along the face's axis), so it carries over from one
face to another whatever their size, pose or crop. An eye that is closed, too small, or shows
no dark iris against a lighter sclera gives NaN (unknown), never a guess.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from deage.types import Image, Points

EYES = ((36, 39), (42, 45))
"""Landmark indices of each eye's image-left and image-right corner (iBUG), left eye first."""

IRIS_WIDTH = 0.42
"""Iris diameter as a fraction of the eye opening's corner-to-corner width (adults: ~0.4-0.45)."""

MIN_EYE_WIDTH = 12.0
"""Eyes narrower than this (pixels) are too small to place an iris in."""

MIN_OPENING = 0.16
"""Lid opening (height / width) below which an eye counts as closed."""

MIN_CONTRAST = 0.06
"""Luminance (0..1) by which the iris window must be darker than the sclera beside it."""

MIN_COVER = 0.35
"""An iris window counts where it holds at least this much of the best-covered window's samples."""

INNER = 0.6
"""Part of the lid opening's height sampled (the middle; lash lines and lid shadows left out)."""

FLANK = 0.12
"""Width of the sclera compared with the iris on either side, as a fraction of the eye's width."""

MAX_DISAGREEMENT = 0.3
"""Two eyes whose iris positions differ by more than this are both taken as unknown."""

_STRIP = (64, 16)  # strip width and height in samples


@dataclass(frozen=True)
class Gaze:
    """Iris positions of one face's two eyes.

    Attributes:
        u: float64 (2,): for the image-left eye then the image-right eye, the iris centre's
            position along the eye's corner axis, 0 at the image-left corner, 1 at the
            image-right one; NaN where it could not be seen.
        contrast: float64 (2,): how much darker the iris window is than the sclera beside it
            (luminance, 0..1); 0 where unknown.
    """

    u: np.ndarray
    contrast: np.ndarray

    @property
    def known(self) -> np.ndarray:
        """bool (2,): which eyes have an iris position."""
        return np.isfinite(self.u)

    def both(self) -> np.ndarray:
        """float64 (2,) ``u`` with an unknown eye given the other's position (eyes turn
        together); NaN for both when neither is known."""
        u = self.u.copy()
        if np.isfinite(u).sum() == 1:
            u[:] = u[np.isfinite(u)][0]
        return u


def eye_strip_matrix(landmarks: Points, eye: int, shape: tuple[int, int] = _STRIP,
                     span: tuple[float, float] = (0.0, 1.0), height: float = 1.0) -> np.ndarray:
    """float64 (2, 3) affine from strip pixels to image pixels for eye 0 (image left) or 1.

    The strip's columns 0 .. w - 1 run along the eye's corner axis from ``u = span[0]`` to
    ``u = span[1]`` (0: the image-left corner, 1: the image-right one); its rows span ``height``
    times the lid opening, centred on the opening's middle line, image-down for an upright face.
    """
    pts = np.asarray(landmarks, np.float64)
    a, b = EYES[eye]
    left, right = pts[a], pts[b]
    axis = right - left
    width = float(np.hypot(*axis))
    ex = axis / max(width, 1e-9)
    ey = np.array([-ex[1], ex[0]])
    middle = float(np.dot(pts[a:a + 6].mean(0) - left, ey))
    w, h = shape
    sx = width * (span[1] - span[0]) / (w - 1)
    sy = max(height * lid_opening(pts, eye), 1e-3) / h
    origin = left + ex * width * span[0] + ey * (middle - (h - 1) / 2.0 * sy)
    return np.array([[ex[0] * sx, ey[0] * sy, origin[0]], [ex[1] * sx, ey[1] * sy, origin[1]]])


def opening_mask(landmarks: Points, eye: int, matrix: np.ndarray, shape: tuple[int, int],
                 scale: tuple[float, float] = (1.0, 1.0)) -> np.ndarray:
    """float32 (h, w) in [0, 1]: the eye's lid opening in the strip of ``matrix`` (strip -> image),
    its outline scaled about its centre by ``scale`` (along, across the eye); anti-aliased."""
    outline = np.asarray(landmarks, np.float64)[EYES[eye][0]:EYES[eye][0] + 6]
    inverse = cv2.invertAffineTransform(matrix)
    pts = outline @ inverse[:, :2].T + inverse[:, 2]
    centre = pts.mean(0)
    pts = centre + (pts - centre) * np.asarray(scale, np.float64)
    w, h = shape
    canvas = np.zeros((h * 4, w * 4), np.uint8)  # 4x finer raster, then averaged: soft edges
    poly = np.round(((pts + 0.5) * 4 - 0.5) * 16).astype(np.int32).reshape(-1, 1, 2)
    cv2.fillPoly(canvas, [poly], 255, lineType=cv2.LINE_AA, shift=4)
    return cv2.resize(canvas, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / np.float32(255.0)


def eye_width(landmarks: Points, eye: int) -> float:
    """Corner-to-corner width of eye 0 (image left) or 1, in the landmarks' pixels."""
    pts = np.asarray(landmarks, np.float64)
    a, b = EYES[eye]
    return float(np.hypot(*(pts[b] - pts[a])))


def lid_opening(landmarks: Points, eye: int) -> float:
    """Lid opening of eye 0 or 1 (pixels): mean distance between the upper and lower lid points."""
    pts = np.asarray(landmarks, np.float64)
    a = EYES[eye][0]
    upper, lower = pts[[a + 1, a + 2]], pts[[a + 5, a + 4]]
    return float(np.mean(np.hypot(*(lower - upper).T)))


def estimate_gaze(image: Image, landmarks: Points) -> Gaze:
    """Iris positions of the face with ``landmarks`` in ``image``.

    Args:
        image: RGB uint8 (H, W, 3) (a frame or an aligned crop).
        landmarks: float (68, 2) iBUG landmarks in ``image``'s pixels.

    Returns:
        ``Gaze``; an eye closed (opening under ``MIN_OPENING`` of its width), narrower than
        ``MIN_EYE_WIDTH`` pixels, partly outside the image, or without a clearly darker iris
        (``MIN_CONTRAST``) has NaN.
    """
    pts = np.asarray(landmarks, np.float64)
    height, width = image.shape[:2]
    u = np.full(2, np.nan)
    contrast = np.zeros(2)
    for eye in (0, 1):
        a = EYES[eye][0]
        outline = pts[a:a + 6]
        across = eye_width(pts, eye)
        if across < MIN_EYE_WIDTH or lid_opening(pts, eye) < MIN_OPENING * across:
            continue
        if outline.min() < 0 or outline[:, 0].max() > width - 1 or outline[:, 1].max() > height - 1:
            continue
        matrix = eye_strip_matrix(pts, eye)
        # Only the strip is sampled, then turned grey: not the whole image.
        strip = cv2.warpAffine(image, matrix, _STRIP, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                               borderMode=cv2.BORDER_REPLICATE)
        grey = cv2.cvtColor(strip, cv2.COLOR_RGB2GRAY)
        inner = opening_mask(pts, eye, matrix, _STRIP, (0.94, INNER))
        found = _iris_in_strip(grey.astype(np.float32) / np.float32(255.0), inner)
        if found is not None:
            u[eye], contrast[eye] = found
    if np.isfinite(u).all() and abs(u[0] - u[1]) > MAX_DISAGREEMENT:
        # Eyes turn together: irises this far apart are a closing eye's lash line, a reflection
        # or a misfit, not a gaze.
        u[:], contrast[:] = np.nan, 0.0
    return Gaze(u=u, contrast=contrast)


def _iris_in_strip(strip: np.ndarray, weights: np.ndarray) -> tuple[float, float] | None:
    """(u, contrast) of the iris in a (h, w) luminance strip, or None.

    ``weights`` (h, w) say which samples lie in the opening; each column is the weighted mean of
    its samples. The iris is the iris-wide window most darker than its two flanks (``FLANK`` of
    the eye wide each; one is enough where the other is past a corner): darker than the sclera
    beside it, which a shadowed corner or a lash line is not. A window counts where it holds at
    least ``MIN_COVER`` of the best-covered window's samples (an iris turned into a corner is
    partly hidden there, where the opening narrows).
    """
    h, w = strip.shape
    mass = weights.sum(axis=0).astype(np.float64)
    if mass.max() <= 0:
        return None
    profile = (strip * weights).sum(axis=0) / np.maximum(mass, 1e-9)
    k = max(3, int(round(IRIS_WIDTH * (w - 1))))
    f = max(2, int(round(FLANK * (w - 1))))
    pad = k + f
    sum_mass = np.concatenate([[0.0], np.cumsum(np.pad(mass, pad))])
    sum_dark = np.concatenate([[0.0], np.cumsum(np.pad(profile * mass, pad))])
    starts = np.arange(-(k // 2), w - k + k // 2 + 1)  # windows [s, s + k), up to half past an end

    def span(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return sum_dark[hi + pad] - sum_dark[lo + pad], sum_mass[hi + pad] - sum_mass[lo + pad]

    inner_dark, inner_mass = span(starts, starts + k)
    left_dark, left_mass = span(starts - f, starts)
    right_dark, right_mass = span(starts + k, starts + k + f)
    flank_mass = left_mass + right_mass
    window = inner_dark / np.maximum(inner_mass, 1e-9)
    flank = (left_dark + right_dark) / np.maximum(flank_mass, 1e-9)
    score = flank - window
    score[(inner_mass < MIN_COVER * inner_mass.max()) | (flank_mass < 0.3 * f * mass.max())] = -np.inf
    best = int(np.argmax(score))
    contrast = float(score[best])
    if not contrast >= MIN_CONTRAST:
        return None
    offset = 0.0
    if 0 < best < len(score) - 1 and np.isfinite(score[best - 1]) and np.isfinite(score[best + 1]):
        a, b, c = score[best - 1], score[best], score[best + 1]
        denom = a - 2 * b + c
        if denom < -1e-12:
            offset = float(np.clip(0.5 * (a - c) / denom, -0.5, 0.5))
    centre = starts[best] + offset + (k - 1) / 2.0
    return float(np.clip(centre / (w - 1), 0.0, 1.0)), contrast
