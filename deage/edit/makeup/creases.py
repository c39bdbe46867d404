"""Creases and feature lines of one face, from a grey-level closing of its luminance.

The surface over a face's valleys is a morphological closing (dilate, then erode, with a disk of
``RADIUS`` eye distances): it equals the image except in dark lines and dots narrower than the
disk, which it bridges. Each pixel's *depth* below that surface is taken relative to it, so the
same crease reads the same on dark and light skin, in bright and dim light.

- Depths below ``FLOOR`` are the skin's own texture and the soft modelling of a young face
  (pores, grain, noise, a smile's shallow lines): never filled. Filling those too made young
  faces read as someone else (dlib descriptor distance on a laughing young face, 25 years:
  0.204 mean with a floor of 1.5 %, 0.189 with 3 %).
- Structures whose deepest part reaches ``FEATURE`` are not wrinkles but glasses frames, lash
  lines, moles, nostrils or a hairline: the whole structure is a *feature*, and so are the
  valleys continuing it at half that depth for a fifth of the eye distance (the shallower
  stretches of a glasses rim). Every makeup operation leaves features alone. Below the nose, where
  none of those run, a structure has to reach ``LOWER_FEATURE``: an old face's marionette lines
  and chin creases are deeper than ``FEATURE``, and they are creases.
- Along the face's outline (the jaw line, landmarks 0-16, ``silhouette``) a valley is the shadow
  of the face's edge on what lies behind it (the neck, a hand under the chin, fingers on a cheek,
  a collar), not a wrinkle: there a structure reaching ``SILHOUETTE`` is a feature. Filling it
  washed the jaw line out, the most youthful line of a face, and merged fingers with the cheek.
- Small compact dark dots (a valley no longer than ``DOT`` eye distances and not elongated) are
  not creases either: ``lift`` leaves them alone. Faint ones (blemishes) are left to the spot
  operation; those reaching ``MARK`` (moles, beauty marks: part of who the person is) are
  *marks*, which every operation leaves alone, like features.
- Everything between is a crease, filled by ``CreaseMap.lift``.

Measured at working resolution (320 px across the makeup editor's head crop, about 256 across
the FFHQ crop's part of it): on an older face (the Grace Hopper portrait shipped with matplotlib)
the median skin pixel lies 3 % below the surface, on young faces 0.1-1 %; wrinkles 5-25 %, the
rims of glasses 25-60 %.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from deage.face.masks import FaceFrame, smoothstep
from deage.face.masks import disk as make_disk
from deage.types import Mask


RADIUS = 0.045
"""Closing disk radius, in eye distances: valleys up to about a tenth of the eye distance wide."""
FLOOR = 0.03
"""Relative depth of the skin's own texture and a young face's modelling, kept."""
FEATURE = (0.35, 0.5)
"""Relative depths over which a structure turns from crease into feature."""
LOWER_FEATURE = (0.6, 0.8)
"""The same in the lower face (below the nose), where no glasses rim, lash line or hairline runs:
an older face's marionette lines and chin creases reach 0.5-0.77 there (the Grace Hopper
portrait), and they are the creases a de-ager most has to soften."""
SILHOUETTE = (0.18, 0.28)
"""The same along the face's outline: within ``SILHOUETTE_BAND`` of the jaw line. Measured within
0.05 eye distances of it (``find_creases`` at 320 px, the head crop), the 90th percentile of
valley depth on skin was 0.14-0.31 on young faces (0.02-0.17 an eye distance further in) and the
crease filling lifted it 2-6 times more than the skin further in."""
SILHOUETTE_BAND = (0.06, 0.12)
"""Eye distances from the jaw line over which ``SILHOUETTE`` gives way to the other thresholds
(dlib's jaw line strays a few hundredths of an eye distance from the true outline)."""
FOLLOW = 0.2
"""How far (eye distances) a feature's shallower continuation is protected along its valley."""
DOT = 0.15
"""Largest dot (eye distances across) that is a dot rather than a crease."""
MARK = 0.14
"""Relative depth from which a dot is a mark (a mole) rather than a blemish."""


@dataclass(frozen=True)
class CreaseMap:
    """Valleys of one face's luminance at working resolution W.

    Attributes:
        surface: float32 (W, W), the luminance with its narrow valleys bridged, [0, 1].
        depth: float32 (W, W) >= 0, how far below ``surface`` each pixel is, as a fraction of it.
        feature: float32 (W, W) in [0, 1], 1 on structures that are features (see module doc).
        dots: float32 (W, W) in [0, 1], 1 on small compact dots and their rims.
        marks: float32 (W, W) in [0, 1], 1 on the dots deep enough to be moles, and their rims.
        radius: closing radius in working pixels.
    """

    surface: np.ndarray
    depth: np.ndarray
    feature: Mask
    dots: Mask
    marks: Mask
    radius: int

    def lift(self, skin: Mask) -> np.ndarray:
        """float32 (W, W) >= 0: the luminance to add to fill every crease on ``skin`` (float32
        (W, W) in [0, 1]) up to the texture floor; features, dots and non-skin left alone."""
        amount = np.maximum(self.depth - np.float32(FLOOR), 0.0) * (1.0 - np.maximum(self.feature, self.dots))
        return (amount * self.surface * skin).astype(np.float32)

    def keep_features(self, grow: float) -> Mask:
        """float32 (W, W) in [0, 1]: 1 - features and marks grown by ``grow`` working pixels, to
        weight an operation that reaches that far from a pixel (so it cannot pull a frame's edge in)."""
        feature = np.maximum(self.feature, self.marks)
        if grow >= 1:
            feature = cv2.dilate(feature, make_disk(int(round(grow))))
        return (1.0 - feature).astype(np.float32)


def lower_face(landmarks: np.ndarray, size: int, crop_size: int,
               window: tuple[slice, slice] | None = None) -> Mask:
    """float32 (size, size) in [0, 1]: 1 from a little below the nose's base (landmark 33) down,
    along the face's own up direction (tilted faces), 0 above it; with ``window`` (rows, columns
    of that raster), only that part of it.

    ``landmarks``: float (68, 2) in crop pixels of a ``crop_size`` crop; the mask is on a ``size``
    raster of the same crop.
    """
    frame = FaceFrame.from_landmarks(landmarks)
    scale = size / crop_size
    rows, cols = window if window is not None else (slice(0, size), slice(0, size))
    ys, xs = np.mgrid[rows, cols].astype(np.float32)
    base = np.asarray(landmarks[33], np.float64) * scale
    below = -((xs - base[0]) * frame.up[0] + (ys - base[1]) * frame.up[1]) / (frame.eye_distance * scale)
    return smoothstep(below.astype(np.float32), 0.0, 0.15)


CHEEK_INSET = 0.12
"""Fraction of the way from the face's outline to the nose's bridge that the cheek mask stays
inside the jaw line (the outline's own shading is the face's roundness, not a hollow)."""


def cheeks(landmarks: np.ndarray, size: int, crop_size: int,
           window: tuple[slice, slice] | None = None) -> Mask:
    """float32 (size, size) in [0, 1]: both cheeks, from below the eyes to beside the mouth and
    down to the jaw line (kept ``CHEEK_INSET`` inside it), clear of the nose, the mouth and the
    outline; soft edges; with ``window`` (rows, columns of that raster), only that part of it.

    ``landmarks``: float (68, 2) in crop pixels of a ``crop_size`` crop.
    """
    pts = np.asarray(landmarks, np.float64)
    frame = FaceFrame.from_landmarks(pts)
    d, down, out = frame.eye_distance, -frame.up, frame.x_axis
    centre = pts[27:31].mean(0)
    polys = []
    for side, eye, nostril, corner, jaw in ((-1, (36, 39), 31, 48, (1, 2, 3, 4, 5, 6)),
                                            (1, (45, 42), 35, 54, (15, 14, 13, 12, 11, 10))):
        ring = [pts[eye[0]] + down * 0.3 * d, pts[eye[1]] + down * 0.28 * d,
                pts[nostril] + out * side * 0.12 * d, pts[corner] + out * side * 0.12 * d,
                pts[corner] + out * side * 0.05 * d + down * 0.35 * d]
        ring += [pts[j] + (centre - pts[j]) * CHEEK_INSET for j in reversed(jaw)]
        polys.append(np.round(np.asarray(ring) * (size / crop_size) * 16).astype(np.int32))
    canvas = np.zeros((size, size), np.uint8)
    cv2.fillPoly(canvas, polys, 255, lineType=cv2.LINE_AA, shift=4)
    mask = cv2.GaussianBlur(canvas.astype(np.float32) / 255.0, (0, 0), max(0.5, 0.06 * d * size / crop_size))
    return mask[window] if window is not None else mask


def silhouette(landmarks: np.ndarray, size: int, crop_size: int,
               window: tuple[slice, slice] | None = None) -> Mask:
    """float32 (size, size) in [0, 1]: 1 within ``SILHOUETTE_BAND[0]`` eye distances of the jaw
    line (landmarks 0-16, the face's outline from ear to ear), easing to 0 at ``SILHOUETTE_BAND[1]``;
    with ``window`` (rows, columns of that raster), only that part of it.

    ``landmarks``: float (68, 2) in crop pixels of a ``crop_size`` crop; the mask is on a ``size``
    raster of the same crop.
    """
    frame = FaceFrame.from_landmarks(landmarks)
    scale = size / crop_size
    line = np.full((size, size), 255, np.uint8)
    jaw = np.round(np.asarray(landmarks[:17], np.float64) * scale * 16).astype(np.int32).reshape(-1, 1, 2)
    cv2.polylines(line, [jaw], False, 0, thickness=1, lineType=cv2.LINE_8, shift=4)
    distance = cv2.distanceTransform(line, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    if window is not None:
        distance = distance[window]
    near, far = SILHOUETTE_BAND
    return (1.0 - smoothstep(distance / np.float32(frame.eye_distance * scale), near, far)).astype(np.float32)


def find_creases(gray: np.ndarray, eye_distance: float, skin: Mask | None = None,
                 lower: Mask | None = None, outline: Mask | None = None) -> CreaseMap:
    """The ``CreaseMap`` of a face.

    Args:
        gray: float32 (W, W) luminance in [0, 1] of the aligned crop at working resolution (or
            (H, W), a window of it; every array here then has that shape).
        eye_distance: eye distance in working pixels.
        skin: float32 (W, W) skin probability in [0, 1] (features cut out); when given, only
            structures on skin count as features, so the lash lines, lips and nostrils the
            editor protects anyway do not also shield the creases that run into them.
        lower: float32 (W, W) in [0, 1], the lower face (``lower_face``), where a structure
            must reach ``LOWER_FEATURE`` rather than ``FEATURE`` to be a feature.
        outline: float32 (W, W) in [0, 1], the band along the face's outline (``silhouette``),
            where a structure reaching ``SILHOUETTE`` is a feature (it overrides ``lower``).
    """
    radius = max(1, int(round(RADIUS * eye_distance)))
    disk = make_disk(radius)
    surface = cv2.morphologyEx(gray, cv2.MORPH_CLOSE, disk, borderType=cv2.BORDER_REFLECT)
    surface = cv2.GaussianBlur(surface, (0, 0), max(0.5, 0.5 * radius))
    depth = (np.maximum(surface - gray, 0.0) / np.maximum(surface, np.float32(0.02))).astype(np.float32)
    f0, f1 = FEATURE
    # Every decision here is soft (smoothsteps, not thresholds), so that a structure measured a
    # little differently on the next frame is treated a little differently, never switched.
    # The deepest part decides for its whole structure: filling only the shallower sides of a
    # deep line would leave it thinner and sharper.
    if lower is not None:
        g0, g1 = LOWER_FEATURE
        f0, f1 = f0 + (g0 - f0) * lower, f1 + (g1 - f1) * lower
    # A feature's shallower continuation is followed at half the depth that makes a feature
    # elsewhere, also from the outline: the outline's low threshold followed an old face's
    # wrinkles away from it and left a strip of them unfilled along the jaw.
    valley = smoothstep(depth, 0.5 * f0 - 0.03, 0.5 * f0 + 0.03)
    if outline is not None:
        s0, s1 = SILHOUETTE
        f0, f1 = f0 + (s0 - f0) * outline, f1 + (s1 - f1) * outline
    feature = smoothstep(cv2.dilate(depth, disk), f0, f1)
    if skin is not None:
        feature *= cv2.erode(smoothstep(skin, 0.1, 0.4), disk)
    for _ in range(max(1, int(round(FOLLOW * eye_distance / radius)))):
        feature = np.maximum(feature, cv2.dilate(feature, disk) * valley)
    dots, marks = _dots(depth, eye_distance, disk)
    return CreaseMap(surface=surface.astype(np.float32), depth=depth, feature=feature.astype(np.float32),
                     dots=dots, marks=marks, radius=radius)


def _dots(depth: np.ndarray, eye_distance: float, disk: np.ndarray) -> tuple[Mask, Mask]:
    """Dots and marks in [0, 1], grown by ``disk`` and softened: valleys whose bounding box is at
    most about ``DOT`` eye distances across and about a third filled or more (a line that long is
    far thinner); marks are the dots whose deepest pixel reaches about ``MARK``."""
    marked = (depth > FLOOR).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(marked, connectivity=8)
    side = np.maximum(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]).astype(np.float32)
    fill = stats[:, cv2.CC_STAT_AREA] / np.maximum(side * side, 1.0)
    small = 1.0 - smoothstep(side / np.float32(eye_distance), 0.8 * DOT, 1.2 * DOT)
    dot = (smoothstep(fill, 0.25, 0.45) * small * (side >= 2)).astype(np.float32)
    dot[0] = 0.0  # the background label
    peak = np.zeros(count, np.float32)
    np.maximum.at(peak, labels.ravel(), depth.ravel())
    mark = dot * smoothstep(peak, MARK - 0.03, MARK + 0.03)
    sigma = max(0.5, 0.25 * (disk.shape[0] - 1))

    def grown(per_label: np.ndarray) -> Mask:
        return cv2.GaussianBlur(cv2.dilate(per_label[labels], disk), (0, 0), sigma)

    return grown(dot), grown(mark)
