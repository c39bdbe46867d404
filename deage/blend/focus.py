"""Give a face drawn from elsewhere the plate's softness (defocus, a soft lens, compression).

A swapped face comes from a sharp photo; put onto a plate that is out of focus, shot through a
soft lens, or compressed, it reads as a sharp patch pasted onto a soft frame: after grain, the
compositor's next tell. ``soften_to`` blurs the new face until its edges are as soft as the
plate's own face's.

Softness is measured at a face's strongest edges (lash lines, irises, brows, nostrils, the
mouth's line), which every face has, whatever its skin's texture: at a blurred step edge the
gradient's peak falls as ``1 / sigma``, so comparing the peak with the peak after a further known
blur (``PROBE``) gives the edge's blur without knowing its contrast (``edge_blur``). The edges
are picked on that further blur, where noise is gone, so a plate's grain (added back to the new
face later by ``deage.blend.grain``) does not read as sharpness. Over the face of scikit-image's
astronaut blurred by 0, 1, 2, 3 and 4 pixels the reading is 1.63, 2.22, 3.34, 3.88 and 4.48, and
1.60, 2.13, 3.36, 4.04 and 4.43 with noise of 4 levels added. A face's edges are lines and
corners as well as steps, so the reading is not exactly the blur: the blur that matches two
faces is found by trying it (``missing_blur``).

Motion blur is not measured the same way (a face's edges run mostly one way, so which of them a
plate has blurred cannot be told across two different faces); ``smear`` blurs along a known move,
the face's tracked motion times the shutter angle (the swap's ``shutter``).

Work is done where the swap works, in its aligned crop: a small face's crop is an enlargement of
the plate, softer by the enlargement, and the new face, blurred to match there, is as sharp as the
plate once the crop goes back into the frame.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import cv2
import numpy as np

PRESMOOTH = 0.7
"""Gaussian sigma (pixels) both images are smoothed by before their edges are measured."""
PROBE = 3.0
"""The further blur (pixels) whose effect on the edges' peaks reveals their blur; the edges are
picked on it too."""
TOP = 0.05
"""Fraction of the edge peaks measured: the strongest, the face's features, not its skin."""
MIN_PEAKS = 12
"""Fewer edge peaks than this and a face's softness is not measured (NaN)."""
REFINE = 6
"""Tries at most of the blur that matches the plate's softness."""
TOLERANCE = 0.04
"""Relative difference of softness at which a try is kept."""
TAN_22 = math.tan(math.pi / 8)
"""Gradients within 22.5 degrees of an axis count as along it (``_ridges``)."""
MIN_BLUR = 0.35
"""Added blur (pixels) below which the face is left as it is (unseen, and bit for bit the same)."""
MAX_BLUR = 0.04
"""The most blur ever added, as a fraction of the image's shorter side (20 pixels on a 512 crop:
a face that soft has no features left to match)."""


def edge_blur(grey: np.ndarray, where: np.ndarray) -> float:
    """Softness (pixels) of the strongest edges of a grey float32 (H, W) image (any value range)
    within bool (H, W) ``where``; NaN where fewer than ``MIN_PEAKS`` edges are found.

    The equivalent Gaussian blur of a step edge, which rises with the image's blur s (about
    sqrt(s^2 + c^2), c about 1.5 on a sharp photo's face): a face's edges are lines and corners
    as well as steps, so two images are compared by this reading (as ``missing_blur`` does), not
    by its value in pixels."""
    ys, xs = np.nonzero(where.any(axis=1))[0], np.nonzero(where.any(axis=0))[0]
    if ys.size == 0:
        return float("nan")
    # Only the box around ``where``, with room for the probe's blur.
    margin = int(4 * PROBE) + 2
    y0, y1 = max(ys[0] - margin, 0), min(ys[-1] + margin + 1, grey.shape[0])
    x0, x1 = max(xs[0] - margin, 0), min(xs[-1] + margin + 1, grey.shape[1])
    base = cv2.GaussianBlur(np.asarray(grey[y0:y1, x0:x1], np.float32), (0, 0), PRESMOOTH)
    before = cv2.magnitude(*_sobel(base))
    # The edges are picked on the probe's blur, where noise and grain are gone: picked on the
    # image itself, the strongest would be those that noise happens to strengthen.
    gx, gy = _sobel(cv2.GaussianBlur(base, (0, 0), PROBE))
    after = cv2.magnitude(gx, gy)
    peaks = _ridges(after, gx, gy) & where[y0:y1, x0:x1] & (after > 1e-3)
    values = after[peaks]
    if values.size < MIN_PEAKS / TOP:
        return float("nan")
    strong = peaks & (after >= np.quantile(values, 1.0 - TOP))
    ratio = before[strong] / np.maximum(after[strong], 1e-6)
    return float(np.median(PROBE / np.sqrt(np.maximum(ratio * ratio - 1.0, 1e-4))))


def missing_blur(face: np.ndarray, plate: np.ndarray, face_where: np.ndarray, plate_where: np.ndarray) -> float:
    """Gaussian sigma (pixels) that makes RGB (H, W, 3) ``face``'s edges within bool (H, W)
    ``face_where`` as soft as ``plate``'s within ``plate_where`` (same raster, uint8 or float32
    0..255): 0 where the face is already as soft or either is not measured. Each guess is tried
    on the face and corrected, up to ``REFINE`` times, until the two read within ``TOLERANCE``."""
    grey = _grey(face)
    target = edge_blur(_grey(plate), plate_where)
    have = edge_blur(grey, face_where)

    def reading(sigma: float) -> float:
        return edge_blur(cv2.GaussianBlur(grey, (0, 0), sigma, borderType=cv2.BORDER_REFLECT), face_where)

    return _fit(reading, have, target, MAX_BLUR * min(face.shape[:2]))


def _fit(reading: Callable[[float], float], have: float, target: float, most: float) -> float:
    """The sigma x (0..``most``) of a blur for which ``reading(x)`` (a softness, ``edge_blur``)
    reaches ``target`` from ``have`` (the reading at 0): 0 where ``have`` is already as soft or
    either is NaN. Readings squared against x squared, bracketed between the tries (beyond them,
    as steep as the last; at first 1, as for step edges), up to ``REFINE`` tries, until within
    ``TOLERANCE``."""
    if not (math.isfinite(have) and math.isfinite(target)) or target <= have:
        return 0.0
    low, high = (0.0, have * have), None
    best, best_miss, slope = 0.0, target - have, 1.0
    for _ in range(REFINE):
        if high is None:
            if low[0] > 0:
                slope = (low[1] - have * have) / low[0]
            guess = low[0] + (target * target - low[1]) / max(slope, 0.05)
        else:
            guess = low[0] + (high[0] - low[0]) * (target * target - low[1]) / max(high[1] - low[1], 1e-6)
        x = min(math.sqrt(max(guess, 0.0)), most)
        if x < MIN_BLUR:
            break
        got = reading(x)
        if not math.isfinite(got):
            break
        if abs(got - target) < abs(best_miss):
            best, best_miss = x, got - target
        if abs(got - target) <= TOLERANCE * target or x >= most:
            break
        if got < target:
            low = (x * x, got * got)
        else:
            high = (x * x, got * got)
    return best


def soften_to(face: np.ndarray, plate: np.ndarray, face_where: np.ndarray, plate_where: np.ndarray,
              amount: float = 1.0) -> tuple[np.ndarray, float]:
    """``face`` (RGB uint8 (H, W, 3)) blurred to the softness of ``plate``'s face, and the blur
    added (pixels). ``amount`` 0..1 scales the blur's sigma; ``face`` itself is returned where the
    blur is under ``MIN_BLUR``. See ``missing_blur`` for the arguments."""
    sigma = amount * missing_blur(face, plate, face_where, plate_where)
    if sigma < MIN_BLUR:
        return face, 0.0
    return cv2.GaussianBlur(face, (0, 0), sigma, borderType=cv2.BORDER_REFLECT), sigma


def smear(image: np.ndarray, travel: np.ndarray) -> np.ndarray:
    """``image`` (H, W) or (H, W, C), uint8 or float32) motion-blurred along ``travel`` ((2,) x, y
    pixels: a box of that length and direction, centred, anti-aliased), same dtype."""
    travel = np.asarray(travel, np.float64)
    length = float(np.hypot(*travel))
    if length < 1e-3:
        return image
    half = int(math.ceil(length / 2.0)) + 1
    kernel = np.zeros((2 * half + 1, 2 * half + 1), np.float32)
    for t in np.linspace(-0.5, 0.5, max(2, int(math.ceil(length * 4)) + 1)):
        x, y = half + t * travel[0], half + t * travel[1]
        x0, y0 = int(math.floor(x)), int(math.floor(y))
        fx, fy = x - x0, y - y0
        kernel[y0, x0] += (1 - fx) * (1 - fy)
        kernel[y0, x0 + 1] += fx * (1 - fy)
        kernel[y0 + 1, x0] += (1 - fx) * fy
        kernel[y0 + 1, x0 + 1] += fx * fy
    kernel /= kernel.sum()
    return cv2.filter2D(image, -1, kernel, borderType=cv2.BORDER_REFLECT)


def _grey(image: np.ndarray) -> np.ndarray:
    """Luma (Rec. 601 weights) of an RGB (H, W, 3) image, float32."""
    pixels = np.asarray(image, np.float32)
    return pixels @ np.array([0.299, 0.587, 0.114], np.float32)


def _sobel(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x and y derivatives (value units per pixel) of a float32 (H, W) image, Sobel's 3x3."""
    return (cv2.Sobel(image, cv2.CV_32F, 1, 0, ksize=3, scale=0.125),
            cv2.Sobel(image, cv2.CV_32F, 0, 1, ksize=3, scale=0.125))


def _ridges(magnitude: np.ndarray, gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
    """bool (H, W): where the gradient's magnitude is at its peak across the edge (at least its two
    neighbours along the gradient's direction, rounded to 45 degrees); never on the border."""
    ax, ay = np.abs(gx)[1:-1, 1:-1], np.abs(gy)[1:-1, 1:-1]
    along_x = ay <= TAN_22 * ax
    along_y = ax <= TAN_22 * ay
    diagonal = ~(along_x | along_y)
    rising = (gx[1:-1, 1:-1] * gy[1:-1, 1:-1]) > 0
    h, w = magnitude.shape
    centre = magnitude[1:-1, 1:-1]
    peak = np.zeros((h, w), bool)
    for direction, (dy, dx) in ((along_x, (0, 1)), (diagonal & rising, (1, 1)), (along_y, (1, 0)),
                                (diagonal & ~rising, (1, -1))):
        ahead = magnitude[1 + dy:h - 1 + dy, 1 + dx:w - 1 + dx]
        behind = magnitude[1 - dy:h - 1 - dy, 1 - dx:w - 1 - dx]
        peak[1:-1, 1:-1] |= direction & (centre >= ahead) & (centre >= behind)
    return peak


__all__ = ["edge_blur", "missing_blur", "smear", "soften_to"]
