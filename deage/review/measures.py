"""Per-face measurements of a rendered frame against its source frame, on plain arrays.

Everything here works in one face's aligned crop (``deage.face.align`` "ffhq" template at
``MEASURE_SIZE`` pixels), built with the *source* face's key points for both images, so the
source and the render are compared pixel for pixel in face-attached coordinates: camera and
head motion drop out, and sizes are in units of the face (its eye distance), not of the frame.

Functions take luminance crops: float32 (S, S) in [0, 1] (Rec.709 weights on the sRGB-encoded
values, i.e. luma, which is what the eye judges flicker and seams on). ``luma`` makes them.

- ``band_energy``: RMS of a difference-of-Gaussians band at wrinkle scale (about 1 % to 5 % of
  the eye distance) inside soft masks: how much fine-line detail a region holds.
- ``crease_depth``: mean depth of the narrow dark valleys (a grey closing's black-hat, about a
  tenth of the eye distance wide) inside a soft mask: how deep a face's creases are, the thing an
  older face's age is read from; each pixel capped so frames and lash lines weigh little.
- ``seam_ratio``: gradient magnitude of the render over that of the source along the band where
  the edit ends (the matte's transition, or where the edit's change falls off), averaged
  locally, worst quarter: 1 = no visible edge added, above 1 = a seam.
- ``feature_detail``: mean edge strength (gradient magnitude) inside a soft mask: how much of the
  fine detail of a face's features (eyes and lashes, brows, lips, nostrils) a crop holds.
- ``face_grain``: the noise (sensor noise, film grain) over a face's skin, in frame pixels: a
  face cleaner than its plate is the tell of a retouch or a face drawn from elsewhere.
- ``mean_change``: masked mean absolute difference, for flicker (frame to frame) and for
  "was this face edited at all".
- ``landmark_acceleration``: second difference of landmark positions over three frames, in eye
  distances: jitter that smooth motion does not produce.
"""

from __future__ import annotations

import cv2
import numpy as np

from deage.blend.grain import noise_sigma
from deage.face.masks import disk
from deage.types import Image, Mask, Points

MEASURE_SIZE = 512
"""Side (px) of the aligned crop faces are measured in (FFHQ template: eye distance ~126 px)."""

BAND_SIGMAS = (0.012, 0.06)
"""Inner and outer Gaussian sigma of the wrinkle band, as fractions of the eye distance."""

CREASE_RADIUS = 0.06
"""Radius of the closing disk of ``crease_depth``, as a fraction of the eye distance."""
CREASE_CAP = 0.25
"""Per-pixel cap of ``crease_depth`` (luma, 0..1): deeper structures (glasses frames, lash lines,
nostrils) count as this deep, so the few of them do not swamp the many shallow creases."""

_LUMA = np.array([0.2126, 0.7152, 0.0722], np.float32)


def luma(image: Image) -> np.ndarray:
    """Rec.709 luma of an RGB uint8 (H, W, 3) image: float32 (H, W) in [0, 1]."""
    return (image.astype(np.float32) @ (_LUMA / np.float32(255.0))).astype(np.float32)


def eye_distance(landmarks: Points) -> float:
    """Distance between the eye centres of 68 iBUG landmarks (same units as the points)."""
    pts = np.asarray(landmarks, np.float64)
    return float(np.hypot(*(pts[42:48].mean(0) - pts[36:42].mean(0))))


def wrinkle_band(lum: np.ndarray, eye_dist: float) -> np.ndarray:
    """Difference-of-Gaussians band of a luma crop at wrinkle scale: float32 (S, S), signed.

    Sigmas are ``BAND_SIGMAS`` x ``eye_dist`` (pixels of the crop): finer than pores and grain
    is cut below, the soft shading of folds and cheeks above.
    """
    s1, s2 = (max(0.5, f * eye_dist) for f in BAND_SIGMAS)
    fine = cv2.GaussianBlur(lum, (0, 0), s1, borderType=cv2.BORDER_REFLECT)
    coarse = cv2.GaussianBlur(lum, (0, 0), s2, borderType=cv2.BORDER_REFLECT)
    return fine - coarse


def crease_depth(lum: np.ndarray, eye_dist: float, mask: Mask) -> float:
    """Mean crease depth under ``mask`` in 8-bit code values (0..255 scale); NaN for an (almost)
    empty mask.

    Args:
        lum: float32 (S, S) luma crop in [0, 1].
        eye_dist: eye distance in crop pixels (sets the closing's disk, ``CREASE_RADIUS``).
        mask: float32 (S, S) soft weights in [0, 1].
    """
    element = disk(max(1, int(round(CREASE_RADIUS * eye_dist))))
    depth = np.minimum(cv2.morphologyEx(lum, cv2.MORPH_BLACKHAT, element, borderType=cv2.BORDER_REFLECT),
                       np.float32(CREASE_CAP))
    w = float(mask.sum())
    return float((depth * mask).sum() / w * 255.0) if w > 4.0 else float("nan")


def band_energy(band: np.ndarray, masks: dict[str, Mask]) -> dict[str, float]:
    """RMS of ``band`` (float32 (S, S)) under each soft mask, in 8-bit code values (0..255 scale).

    Masks are float32 (S, S) in [0, 1]; a mask with (almost) no weight gives NaN.
    """
    sq = band * band
    out: dict[str, float] = {}
    for name, m in masks.items():
        w = float(m.sum())
        out[name] = float(np.sqrt(float((sq * m).sum()) / w) * 255.0) if w > 4.0 else float("nan")
    return out


def mean_change(a: np.ndarray, b: np.ndarray, mask: Mask) -> float:
    """Mean of ``|a - b|`` weighted by ``mask`` (float32 (S, S)), in 8-bit code values; NaN if the mask is empty."""
    w = float(mask.sum())
    if w <= 4.0:
        return float("nan")
    return float((np.abs(a - b) * mask).sum() / w * 255.0)


def gradient_magnitude(lum: np.ndarray) -> np.ndarray:
    """Sobel gradient magnitude of a luma crop: float32 (S, S), per pixel, in [0, 1] units."""
    gx = cv2.Sobel(lum, cv2.CV_32F, 1, 0, ksize=3, scale=0.125)
    gy = cv2.Sobel(lum, cv2.CV_32F, 0, 1, ksize=3, scale=0.125)
    return cv2.magnitude(gx, gy)


def feature_detail(lum: np.ndarray, eye_dist: float, mask: Mask) -> float:
    """Mean gradient magnitude of a luma crop (float32 (S, S) in [0, 1]) under ``mask`` (float32
    (S, S) soft weights in [0, 1]), after the seam's light smoothing (``SEAM_SCALES[0]`` eye
    distances: pixel grain and codec noise drop out, a lash line or a lip's edge stays), in 8-bit
    code values per pixel; NaN for an (almost) empty mask."""
    w = float(mask.sum())
    if w <= 4.0:
        return float("nan")
    grad = gradient_magnitude(cv2.GaussianBlur(lum, (0, 0), max(0.5, SEAM_SCALES[0] * eye_dist)))
    return float((grad * mask).sum() / w * 255.0)


def face_grain(frame: Image, landmarks: Points) -> float:
    """Noise (levels, ``deage.blend.grain.noise_sigma``) of an RGB uint8 (H, W, 3) frame over one
    face, in the frame's own pixels (resampling into a crop would change it): inside the jaw line
    and the brows' line, kept 0.15 eye distances off them and off the eyes and the mouth. NaN
    where that leaves too few pixels (a face under about 40 pixels across)."""
    pts = np.asarray(landmarks, np.float64)
    d = eye_distance(pts)
    h, w = frame.shape[:2]
    x0, y0 = np.maximum(np.floor(pts.min(0)).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(pts.max(0)).astype(int) + 1, (w, h))
    if x1 - x0 < 8 or y1 - y0 < 8:
        return float("nan")
    inside = np.zeros((y1 - y0, x1 - x0), np.uint8)
    local = np.round(pts - (x0, y0)).astype(np.int32)
    cv2.fillConvexPoly(inside, cv2.convexHull(np.vstack([local[0:17], local[17:27]])), 1)
    for part in (slice(36, 42), slice(42, 48), slice(48, 60)):
        cv2.fillConvexPoly(inside, cv2.convexHull(local[part]), 0)
    inside = cv2.erode(inside, disk(max(1, int(round(0.15 * d))))) > 0
    return noise_sigma(frame[y0:y1, x0:x1], inside)  # 0 for a face without any noise


SEAM_SCALES = (0.012, 0.015, 0.12)
"""Seam measurement scales, as fractions of the eye distance: pre-smoothing sigma (drops pixel
grain, keeps a hard step sharp), half-width of the boundary band, and the sigma of the local
average along the band (a seam on part of the outline must not be diluted by the rest)."""


def edit_boundary(
    source: np.ndarray,
    render: np.ndarray,
    eye_dist: float,
    *,
    matte: Mask | None = None,
    valid: Mask | None = None,
    noise: float = 1.0 / 255.0,
) -> np.ndarray:
    """Where the edit ends: a bool (S, S) band a few pixels wide along the outline of the edited area.

    With a ``matte`` (the blend mask warped into the crop) the band is its transition
    (0.02 < matte < 0.98), grown by the band half-width. Without one, the edited area is where the
    smoothed absolute change exceeds both ``noise`` and a quarter of its typical level inside
    the change; the band straddles its outline. ``valid`` (float32 (S, S)) limits the band to
    where both crops hold real frame pixels. Empty when nothing changed.
    """
    width = max(1, int(round(SEAM_SCALES[1] * eye_dist)))
    kernel = disk(width)
    if matte is not None:
        transition = ((matte > 0.02) & (matte < 0.98)).astype(np.uint8)
        band = cv2.dilate(transition, kernel) > 0
    else:
        change = cv2.GaussianBlur(np.abs(render - source), (0, 0), max(1.0, 0.02 * eye_dist))
        inside = change[change > noise]
        if inside.size < 16:
            return np.zeros(source.shape, bool)
        level = max(noise, 0.25 * float(np.percentile(inside, 90)))
        area = (change > level).astype(np.uint8)
        band = (cv2.dilate(area, kernel) - cv2.erode(area, kernel)) > 0
    if valid is not None:
        band &= valid > 0.999
    return band


def seam_ratio(source: np.ndarray, render: np.ndarray, band: np.ndarray, eye_dist: float,
               edit: np.ndarray | None = None) -> float:
    """How much edge the render adds where the edit ends: 1.0 = none, 1.5 = half as much again.

    Gradient magnitudes of both luma crops (lightly smoothed) are averaged locally along
    ``band`` (bool (S, S)); the result is the mean of the highest quarter of the local
    render / source ratios, so a seam along part of the outline counts in full while
    texture changes (a smoothed, de-aged skin) average out. 1.0 when the band is empty
    (nothing was edited, so nothing can show an edge). ``edit``: optional luma crop of the
    edit's own content, unblended (``FrameRenderer.pasted``): the render's edges are then compared
    with the larger of the source's and its, so the features a replacement brings where its
    blend ends count as the edit's, and only an edge that neither holds counts as a seam.
    """
    if band.sum() < 16:
        return 1.0
    pre, _, along = SEAM_SCALES

    def edges(lum: np.ndarray) -> np.ndarray:
        return gradient_magnitude(cv2.GaussianBlur(lum, (0, 0), max(0.5, pre * eye_dist)))

    g_src, g_out = edges(source), edges(render)
    if edit is not None:
        g_src = np.maximum(g_src, edges(edit))
    weight = band.astype(np.float32)
    sigma = max(1.0, along * eye_dist)
    norm = cv2.GaussianBlur(weight, (0, 0), sigma) + np.float32(1e-6)
    local_src = cv2.GaussianBlur(g_src * weight, (0, 0), sigma) / norm
    local_out = cv2.GaussianBlur(g_out * weight, (0, 0), sigma) / norm
    eps = 0.25 / 255.0  # a flat band (studio backdrop) must not turn noise into a huge ratio
    ratios = np.sort((local_out[band] + eps) / (local_src[band] + eps))
    return float(ratios[-max(1, len(ratios) // 4):].mean())


def landmark_acceleration(history: list[Points], eye_dist: float) -> float:
    """Mean length of ``L[t] - 2 L[t-1] + L[t-2]`` over 68 points, in eye distances.

    ``history`` holds the last three float32 (68, 2) landmark sets, oldest first; NaN with fewer.
    Smooth motion (constant velocity) gives 0; jitter gives about twice its amplitude.
    """
    if len(history) < 3 or eye_dist <= 0:
        return float("nan")
    a, b, c = (np.asarray(p, np.float64) for p in history[-3:])
    return float(np.linalg.norm(c - 2 * b + a, axis=1).mean() / eye_dist)


def landmark_shift(source: Points, render: Points, eye_dist: float) -> float:
    """Mean distance between two landmark sets (float (68, 2)), in eye distances."""
    if eye_dist <= 0:
        return float("nan")
    return float(np.linalg.norm(np.asarray(render, np.float64) - np.asarray(source, np.float64), axis=1).mean() / eye_dist)
