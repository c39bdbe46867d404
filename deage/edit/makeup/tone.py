"""Skin-tone corrections: under-eye darkness, redness, blotchy tone, small dark spots.

All are colour corrections computed from skin-only local averages (normalised convolution with
the skin mask, so hair, brows and the background never bleed into them) and returned as an
additive RGB change at the editor's working resolution. The broad ones (under-eye, redness,
blotches) work in CIE Lab at half that resolution; spots work in RGB at full working resolution.
"""

from __future__ import annotations

import cv2
import numpy as np

from deage.edit.makeup.creases import CreaseMap, smoothstep
from deage.edit.makeup.texture import luminance
from deage.face.masks import FaceRegions, disk, rgb_to_lab
from deage.types import Mask


def skin_average(values: np.ndarray, weight: Mask, sigma: float) -> np.ndarray:
    """Gaussian average of ``values`` (H, W[, C]) over the pixels where ``weight`` is high.

    Normalised convolution: blur(values * weight) / blur(weight); where no skin is near, the
    plain value is returned. Large sigmas are computed at a reduced size (same result, faster).
    """
    h, w = weight.shape
    factor = int(max(1, min(sigma // 3, min(h, w) // 16)))
    wv = weight if values.ndim == 2 else weight[..., None]
    num, den = values * wv, weight
    if factor > 1:
        size = (max(1, w // factor), max(1, h // factor))
        num = cv2.resize(num, size, interpolation=cv2.INTER_AREA)
        den = cv2.resize(den, size, interpolation=cv2.INTER_AREA)
    num = cv2.GaussianBlur(num, (0, 0), sigma / factor)
    den = cv2.GaussianBlur(den, (0, 0), sigma / factor)
    if factor > 1:
        num = cv2.resize(num, (w, h), interpolation=cv2.INTER_LINEAR)
        den = cv2.resize(den, (w, h), interpolation=cv2.INTER_LINEAR)
    den = den if values.ndim == 2 else den[..., None]
    return np.where(den > 1e-3, num / np.maximum(den, 1e-3), values).astype(np.float32)


def tone_delta(
    small: np.ndarray,
    regions: FaceRegions,
    *,
    under_eye: float,
    redness: float,
    evenness: float,
    spots: float,
    creases: CreaseMap | None = None,
    hair: Mask | None = None,
) -> tuple[np.ndarray, Mask]:
    """Additive RGB change (float32 (H, W, 3)) and the mask of where it acts (float32 (H, W)).

    Args:
        small: float32 RGB [0, 1] (H, W, 3), the crop at working resolution, or a window of it.
        regions: the face's regions on the same pixels (``FaceRegions.window`` for a window).
        under_eye, redness, evenness, spots: strengths in [0, 1].
        creases: the face's ``CreaseMap`` on the same pixels; spots are not lifted on or beside
            its features (a glasses rim, a mole).
        hair: float32 (H, W) in [0, 1], ``hair_darkness`` on the same pixels: spots are not
            lifted there.
    """
    h, w = small.shape[:2]
    delta = np.zeros_like(small)
    acting = np.zeros((h, w), np.float32)
    if max(under_eye, redness, evenness, spots) <= 0:
        return delta, acting
    skin = regions.skin

    if max(under_eye, redness, evenness) > 0:
        half = (max(8, w // 2), max(8, h // 2))  # cv2 sizes: (width, height)
        rgb_h = cv2.resize(small, half, interpolation=cv2.INTER_AREA)
        skin_h = cv2.resize(skin, half, interpolation=cv2.INTER_AREA)
        d = regions.eye_distance * half[0] / w
        lab = rgb_to_lab(rgb_h)
        adj = np.zeros_like(lab)
        broad = np.zeros(half[::-1], np.float32)
        mid = skin_average(lab, skin_h, max(0.7, 0.035 * d))
        if evenness > 0 or redness > 0:
            big = skin_average(lab, skin_h, max(1.5, 0.25 * d))
            if evenness > 0:
                # Blotches: mid-scale deviations from the broad skin tone; luminance is evened
                # much less than colour so the face's modelling (its 3D shading) stays.
                blotch = (mid - big) * np.array([0.15, 0.8, 0.8], np.float32)
                adj -= np.float32(evenness) * blotch * skin_h[..., None]
            if redness > 0:
                # Local redness only (blotches, broken capillaries, irritation): redder than the
                # broad tone around it; a healthy flush spread over the cheeks is not touched.
                excess = np.maximum(mid[..., 1] - big[..., 1] - 1.0, 0.0)
                adj[..., 1] -= np.float32(0.8 * redness) * excess * skin_h
            broad = skin_h * max(evenness, redness)
        if under_eye > 0 and regions.skin_reference is not None:
            m = cv2.resize(regions.regions["under_eye"], half, interpolation=cv2.INTER_AREA)
            m = cv2.GaussianBlur(m, (0, 0), max(0.7, 0.04 * d))
            # Lift what is darker than the cheek on its side of the face and pull its colour
            # (often violet or brown) halfway to that cheek's, never lifting it above the whole
            # face's skin. The side matters under side light: measured against both cheeks, the
            # shadowed under-eye of a real clip was lifted into a bright patch (+16 levels).
            ref_l, ref_ab = _cheek_reference(regions, half)
            lift = np.maximum(ref_l * np.float32(0.98) - mid[..., 0], 0.0)
            k = np.float32(under_eye) * m
            adj[..., 0] += np.float32(0.8) * k * lift
            adj[..., 1:] += np.float32(0.5) * k[..., None] * (ref_ab - mid[..., 1:])
            broad = np.maximum(broad, m * under_eye)
        rgb_new = cv2.cvtColor((lab + adj).astype(np.float32), cv2.COLOR_Lab2RGB)
        delta += cv2.resize(rgb_new - rgb_h, (w, h), interpolation=cv2.INTER_LINEAR)
        acting = np.maximum(acting, cv2.resize(broad, (w, h), interpolation=cv2.INTER_LINEAR))

    if spots > 0:
        d = regions.eye_distance
        surround = skin_average(small, skin, max(1.0, 0.06 * d))
        depth = (luminance(surround) - luminance(small)) * np.float32(100.0)
        # Small blobs a little darker than their surroundings; much darker ones are features
        # (nostrils, lash lines: already protected) or marks of character, and are left alone.
        # Only well inside the face's outline (jaw line and forehead, from the landmarks): at the
        # edge of the face, its shading against the background is darker than the skin average,
        # and would be lifted into a bright rim.
        inner = cv2.erode(smoothstep(regions.face, 0.3, 0.7), disk(max(1, int(round(0.06 * d)))))
        # Nor right beside hair, a hat or a frame (the features it protects count as skin here).
        on_skin = smoothstep(np.maximum(skin, regions.protect), 0.3, 0.7)
        inner *= cv2.erode(on_skin, disk(max(1, int(round(0.03 * d)))))
        inner = cv2.GaussianBlur(inner, (0, 0), max(0.5, 0.03 * d)) * skin
        # Nor on darkness that runs on from the hair (``hair_darkness``): thin hair at the temples
        # and along the hairline passes for skin, and lifting it as spots pulled the hairline back.
        if hair is not None:
            inner *= 1.0 - hair
        weight = smoothstep(depth, 1.0, 3.0) * (1.0 - smoothstep(depth, 9.0, 16.0)) * inner
        if creases is not None:
            weight *= creases.keep_features(creases.radius)
        # Grow the weight a pixel so a spot's soft rim is lifted along with its core.
        weight = cv2.GaussianBlur(cv2.dilate(weight, np.ones((3, 3), np.uint8)), (0, 0), max(0.5, 0.01 * d))
        delta += np.float32(spots) * weight[..., None] * (surround - small)
        acting = np.maximum(acting, weight * spots)
    return delta.astype(np.float32), acting


HAIR_REACH = 0.12
"""Eye distances that darkness running on from the hair is followed into the skin."""
HAIR_DARK = (15.0, 30.0)
"""Percent darker than the face's typical skin from which a pixel carries darkness on from hair."""


def hair_darkness(skin: Mask, protect: Mask, lum: np.ndarray, above: Mask, eye_distance: float) -> Mask:
    """float32 (H, W) in [0, 1]: how surely a pixel's darkness runs on from the hair.

    Thin hair at the temples and along the hairline lies over skin and passes the skin-colour
    model; filled as creases and lifted as spots it was lightened, and the hairline drew back
    (up to 13 levels at 10 years, 26 at 25, on a young man's temples). What is not skin above the
    brows (``above``, 0..1: the hair, a hat; the features of ``protect`` count as skin) is grown a
    pixel a step, ``HAIR_REACH`` eye distances in all, through pixels darker than the face's
    typical skin (``lum``: luminance in [0, 1]; ``HAIR_DARK``), soft in both. Spots and creases
    away from the hair are not reached; a crease's end at the hairline is.

    Args:
        skin, protect: ``FaceRegions.skin`` / ``protect`` on the raster (H, W).
        lum: float32 (H, W) luminance of the crop on the same raster.
        above: float32 (H, W) in [0, 1], 1 above the brows.
        eye_distance: in raster pixels.
    """
    on_skin = smoothstep(np.maximum(skin, protect), 0.3, 0.7)
    sure = skin > 0.8
    typical = float(np.median(lum[sure])) if np.count_nonzero(sure) > 16 else float(np.mean(lum))
    depth = (typical - lum) * np.float32(100.0 / max(typical, 1e-3))
    dark = smoothstep(depth, *HAIR_DARK).astype(np.float32)
    reached = ((1.0 - on_skin) * above).astype(np.float32)
    kernel = np.ones((3, 3), np.uint8)
    for _ in range(max(1, int(round(HAIR_REACH * eye_distance)))):
        reached = np.maximum(reached, cv2.dilate(reached, kernel) * dark)
    return reached


def _cheek_reference(regions: FaceRegions, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel of a ``size`` (width, height) raster of the regions' window: the Lab lightness
    (H, W) and a, b (H, W, 2) of the cheek on that pixel's side of the face (``side_references``,
    blended across the middle), the lightness no higher than the whole face's skin; the whole
    face's skin reference everywhere where the sides were not sampled."""
    ref = np.asarray(regions.skin_reference, np.float32)
    w, h = size
    if regions.side is None or regions.side_references is None:
        return np.full((h, w), ref[0], np.float32), np.broadcast_to(ref[1:], (h, w, 2))
    left, right = (ref if r is None else np.asarray(r, np.float32) for r in regions.side_references)
    side = cv2.resize(regions.side, size, interpolation=cv2.INTER_LINEAR)[..., None]
    blend = left * (1.0 - side) + right * side
    return np.minimum(blend[..., 0], ref[0]), blend[..., 1:]

