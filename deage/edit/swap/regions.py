"""Masks of a target face for the swap, from its 68 landmarks in an aligned crop.

All masks are float32 (R, R) in [0, 1] at a raster size R of the caller's choice (they are smooth;
the editor rasters them at a quarter of the crop, at least 128 px, and resizes). Sizes are given in eye
distances (the distance between the eye centres), so they scale with the face.

- ``face``: where the swapped face replaces the target: the jaw contour and the forehead points,
  pulled in a little so the soft edge ends on the target's own skin, not on the background.
- ``outline``: the jaw contour and the forehead points filled, hard, not pulled in.
- ``skin``: the face without eyes, brows, nostrils and lips: where skin colour and light are
  measured for the colour match.
- ``eyes``: the eye openings (iris, sclera) with the lash line.
- ``mouth``: the mouth opening inside the lips (teeth, tongue).
- ``lips``: the lips and the opening between them; ``around_mouth``: the lips with the skin
  around them to halfway to the nose and the jaw (for a source whose mouth is set very differently).
- ``upper``: the forehead band above the brows, where hair may hang over the skin: there the
  face mask is also kept to where both faces show skin (``skin_or_features``).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from deage.edit.swap.mesh import check_landmarks, forehead_points
from deage.face.masks import FaceFrame, FaceRegions, face_regions
from deage.types import Image, Mask, Points


@dataclass
class SwapRegions:
    """The swap's masks of one face (float32 (size, size) in [0, 1]) and its eye distance in raster pixels."""

    size: int
    face: Mask
    outline: Mask
    skin: Mask
    eyes: Mask
    mouth: Mask
    lips: Mask
    around_mouth: Mask
    upper: Mask
    eye_distance: float


def _fill(points: np.ndarray, k: float, size: int) -> Mask:
    canvas = np.zeros((size, size), np.uint8)
    pts = np.round(np.asarray(points, np.float64) * k * 16.0).astype(np.int32).reshape(-1, 1, 2)
    cv2.fillPoly(canvas, [pts], 255, lineType=cv2.LINE_AA, shift=4)
    return canvas.astype(np.float32) / np.float32(255.0)


def _line(points: np.ndarray, k: float, size: int, width: float) -> Mask:
    canvas = np.zeros((size, size), np.uint8)
    pts = np.round(np.asarray(points, np.float64) * k * 16.0).astype(np.int32).reshape(-1, 1, 2)
    cv2.polylines(canvas, [pts], False, 255, thickness=max(1, int(round(width))), lineType=cv2.LINE_AA, shift=4)
    return canvas.astype(np.float32) / np.float32(255.0)


def _grow(points: np.ndarray, factor: float) -> np.ndarray:
    c = points.mean(0)
    return c + (points - c) * factor


def _blur(mask: Mask, sigma: float) -> Mask:
    if sigma < 0.3:
        return mask
    return cv2.GaussianBlur(mask, (0, 0), sigma, borderType=cv2.BORDER_CONSTANT)


def _erode(mask: Mask, radius: float) -> Mask:
    r = int(round(radius))
    if r < 1:
        return mask
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    return cv2.erode(mask, disk, borderType=cv2.BORDER_CONSTANT, borderValue=0)


def swap_regions(
    landmarks: Points,
    crop_size: int,
    size: int,
    *,
    forehead: float = 0.45,
    inset: float = 0.06,
    feather: float = 0.06,
) -> SwapRegions:
    """The swap's masks of a face whose 68 landmarks are in the pixels of a ``crop_size`` crop.

    Args:
        landmarks: float (68, 2) iBUG landmarks, crop pixels.
        crop_size: side S of the crop the landmarks belong to.
        size: raster size R of the masks.
        forehead: how far above the brows the face mask reaches, in eye distances.
        inset: how far inside the jaw and forehead contour the face mask's edge (its 0.5 level) lies.
        feather: softness of the face mask's edge (Gaussian sigma), in eye distances.
    """
    pts = check_landmarks(landmarks)
    frame = FaceFrame.from_landmarks(pts)
    k = size / float(crop_size)
    d = frame.eye_distance * k  # eye distance in raster pixels
    top = forehead_points(pts, forehead)
    hull = _fill(np.vstack([pts[0:17], top[::-1]]), k, size)
    face = _blur(_erode(hull, inset * d), feather * d)

    eyes = np.zeros((size, size), np.float32)
    for idx in (slice(36, 42), slice(42, 48)):
        np.maximum(eyes, _fill(_grow(pts[idx], 1.12), k, size), out=eyes)
    eyes = _blur(eyes, 0.02 * d)
    mouth = _blur(_fill(_grow(pts[60:68], 1.05), k, size), 0.015 * d)
    lips = _blur(_fill(_grow(pts[48:60], 1.1), k, size), 0.04 * d)
    around_mouth = _blur(_fill(_grow(pts[48:60], 1.8), k, size), 0.12 * d)

    features = np.zeros((size, size), np.float32)
    for idx in (slice(36, 42), slice(42, 48)):
        np.maximum(features, _fill(_grow(pts[idx], 1.5), k, size), out=features)
    for idx in (slice(17, 22), slice(22, 27)):
        np.maximum(features, _line(pts[idx], k, size, 0.22 * d), out=features)
    np.maximum(features, _fill(_grow(pts[48:60], 1.12), k, size), out=features)
    nostrils = np.vstack([pts[31:36], pts[35] + frame.up * 0.12 * frame.eye_distance,
                          pts[31] + frame.up * 0.12 * frame.eye_distance])
    np.maximum(features, _fill(nostrils, k, size), out=features)
    skin = _erode(hull, 0.1 * d) * (1.0 - np.clip(_blur(features, 0.03 * d) * 1.5, 0.0, 1.0))
    brows = pts[17:27] + frame.up * 0.12 * frame.eye_distance
    upper = _blur(_fill(np.vstack([brows, forehead_points(pts, forehead + 0.3)[::-1]]), k, size), 0.04 * d)
    return SwapRegions(size=size, face=face.astype(np.float32), outline=hull, skin=skin.astype(np.float32),
                       eyes=eyes.astype(np.float32), mouth=mouth.astype(np.float32), lips=lips.astype(np.float32),
                       around_mouth=around_mouth.astype(np.float32), upper=upper.astype(np.float32),
                       eye_distance=d)


def skin_or_features(image: Image, landmarks: Points, size: int, regions: FaceRegions | None = None) -> Mask:
    """float32 (size, size) in [0, 1]: where an aligned face crop (RGB uint8 (S, S, 3), landmarks
    in its pixels) shows skin or a facial feature, not hair, a hat, a glasses frame or background.

    Colour: ``deage.face.masks.face_regions``' per-face skin-colour model (the features, eyes,
    brows, lips and nostrils, count as face; pass ``regions`` when they are already made at
    ``size``). Texture: blond or grey hair can have the skin's colour, but not its smoothness;
    pixels whose fine-detail energy is well above that of the face's cheeks are not skin.
    """
    from deage.face.masks import FaceFrame, skin_sample_mask

    fr = regions if regions is not None else face_regions(image, landmarks, size)
    out = np.clip(np.maximum(fr.skin * 1.4, fr.protect * fr.face), 0.0, 1.0)
    crop = image.shape[0]
    small = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
    gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32)
    d = fr.frame.eye_distance * size / float(crop)
    detail = fine_detail(gray, d)
    sample = skin_sample_mask(FaceFrame.from_landmarks(np.asarray(landmarks, np.float64)), landmarks, size, crop) > 0.5
    brow_row = np.asarray(landmarks, np.float64)[17:27, 1].min() * size / float(crop)
    if sample.sum() < 16:
        return _below_the_hair(out, brow_row)
    reference = max(float(np.median(detail[sample])), 1.0)
    rough = np.clip((detail / reference - 2.5) / 2.0, 0.0, 1.0)
    out = out * (1.0 - rough * (1.0 - fr.protect))
    return _below_the_hair(out, brow_row, gray >= HAIR_DARKNESS * float(np.median(gray[sample])))


def fine_detail(gray: np.ndarray, eye_distance: float) -> np.ndarray:
    """float32 (H, W): the local energy of a float32 grey image's finest detail (a 3x3 Laplacian's
    magnitude, averaged over 0.06 of ``eye_distance``, in its pixels): hair and stubble are rich
    in it, skin is smooth."""
    return cv2.GaussianBlur(np.abs(cv2.Laplacian(gray, cv2.CV_32F, ksize=3)), (0, 0), max(0.6, 0.06 * eye_distance))


HAIR_DARKNESS = 0.8
"""Above the brows, what is darker than this fraction of the cheeks' median luminance is taken
for hair (a fringe's lower edge, brown or blond, can have the skin's colour; a forehead is lit
as brightly as the cheeks or more, the astronaut's forehead 1.0-1.2 of them, her fringe 0.5-0.7)."""


def _below_the_hair(skin: Mask, brow_row: float, light: np.ndarray | None = None) -> Mask:
    """``skin`` (float32 (H, W), an upright face crop's) with what reads as skin above
    ``brow_row`` (the brows' highest landmark, in its pixels) kept only where it runs up from
    there unbroken (and, with bool (H, W) ``light``, light enough not to be hair: ``HAIR_DARKNESS``):
    a fringe's strands that pass for skin lie beyond hair that does not, and are not forehead."""
    top = int(np.floor(brow_row))
    if top < 2:
        return skin.astype(np.float32)
    seen = skin[:top] > 0.5
    if light is not None:
        seen &= light[:top]
    seen = seen.astype(np.uint8)
    seen = cv2.morphologyEx(seen, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))  # a stray pixel breaks no run
    runs = np.cumprod(seen[::-1], axis=0)[::-1]  # 1 from the brows up to the first row that is not skin
    out = skin.astype(np.float32)
    out[:top] *= runs
    return out
