"""Crease filling and wrinkle softening by frequency separation, per region, keeping skin texture.

Creases, narrow valleys deeper than the skin's texture (``deage.edit.makeup.creases``), are
filled first: on an older face they are most of what reads as age. Then luminance is split into
three bands at the editor's working resolution (320 px across the head crop, never finer than
the face's own resolution in the frame, see ``MakeupEditor``):

- *fine*: everything finer than one working pixel (pores, film grain, sensor noise). It never
  passes through this module, so it is kept exactly (``texture_keep`` scales it separately);
- *wrinkle band*: the working-resolution image minus an edge-preserving low-pass (a guided filter
  with a radius of a twentieth of the eye distance): fine lines, wrinkles, and skin texture;
- *fold band*: that low-pass minus a broader one: the soft shading of deep folds (nasolabial,
  marionette, tear trough, frown lines).
- *hollows*: broader still (to ``HOLLOW_SIGMA`` eye distances), on the cheeks, nasolabial,
  marionette and under-eye regions only: the shadow a sagging cheek casts along the nasolabial
  fold, jowls, a tear trough, and the bulge above them. Hollows are lifted fully, bulges evened
  by ``HOLLOW_BRIGHT`` of that (``hollow_lift``), the way a filler or a contouring brush works;
  the face's broad modelling (its lighting, beyond ``HOLLOW_SIGMA``) stays.

Features (glasses frames, lash lines, moles: structures far deeper than any crease) are left
alone throughout. In the wrinkle band, detail is soft-clipped to the level of the face's own skin texture, so pores
survive and creases, far stronger and mostly dark, are flattened: the skin never goes plastic.
The fold band is attenuated (dark more than light). The result is an additive RGB change at
working resolution: band and fold changes in proportion to the surrounding skin's channels, so
the skin keeps its hue; a filled crease takes the surrounding skin's colour, so it is filled in
colour as well as in lightness.
"""

from __future__ import annotations

import cv2
import numpy as np

from deage.edit.makeup.creases import FLOOR, CreaseMap, find_creases, smoothstep
from deage.face.masks import weighted_blur
from deage.types import Mask


def box_mean(image: np.ndarray, radius: int) -> np.ndarray:
    """Mean over a (2r+1)^2 window, edges reflected (float32, same shape)."""
    k = 2 * int(radius) + 1
    return cv2.boxFilter(image, -1, (k, k), borderType=cv2.BORDER_REFLECT)


def guided_filter(guide: np.ndarray, source: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """He et al.'s guided filter (box-filter form) with a grey guide.

    Args:
        guide: float32 (H, W), e.g. luminance in [0, 1].
        source: float32 (H, W) or (H, W, C) to filter.
        radius: window radius in pixels.
        eps: regularisation; edges whose local variance is well above ``eps`` are kept,
            variations well below it are smoothed.

    Returns:
        float32 array shaped like ``source``.
    """
    g = guide.astype(np.float32, copy=False)
    src = source.astype(np.float32, copy=False)
    mean_g = box_mean(g, radius)
    var_g = box_mean(g * g, radius) - mean_g * mean_g
    if src.ndim == 3:
        mean_g3, var_g3, g3 = mean_g[..., None], var_g[..., None], g[..., None]
    else:
        mean_g3, var_g3, g3 = mean_g, var_g, g
    mean_s = box_mean(src, radius)
    cov = box_mean(src * g3, radius) - mean_g3 * mean_s
    a = cov / (var_g3 + np.float32(eps))
    b = mean_s - a * mean_g3
    return box_mean(a, radius) * g3 + box_mean(b, radius)


def luminance(image: np.ndarray) -> np.ndarray:
    """Rec. 601 luma of an RGB float image (H, W, 3) -> float32 (H, W)."""
    if image.ndim == 2:
        return image
    out = cv2.transform(np.ascontiguousarray(image, np.float32), np.array([[0.299, 0.587, 0.114]], np.float32))
    return out.reshape(image.shape[:2])


def texture_level(band_luma: np.ndarray, skin: Mask) -> float:
    """Robust amplitude of the skin's own texture in the wrinkle band (1.4826 x median |band|).

    Wrinkles cover a minority of the skin, so the median measures pores and grain, not them.
    """
    values = np.abs(band_luma[skin > 0.5])
    if values.size < 64:
        values = np.abs(band_luma).ravel()
    return float(max(1.4826 * np.median(values), 1.0 / 255.0))


def soft_clip(x: np.ndarray, dark: float, bright: float) -> np.ndarray:
    """``level * tanh(x / level)`` with a different level for negative (dark) and positive values."""
    level = np.where(x < 0, np.float32(dark), np.float32(bright))
    return level * np.tanh(x / level)


HOLLOW_SIGMA = 0.25
"""Eye distances: the skin tone around a hollow is its skin-weighted mean at this scale."""
HOLLOW_INNER = 0.06
"""Eye distances: a hollow's own tone is its skin-weighted mean at this scale (finer shading is
the wrinkle and fold bands' work)."""
HOLLOW_BRIGHT = 0.7
"""Share of a bulge (lighter than around it: the sagging cheek above a fold) that is evened,
against all of a hollow: both sides of a fold read as age, the shadow most."""


def hollow_lift(base: np.ndarray, strength: Mask, skin: Mask, eye_distance: float) -> np.ndarray:
    """Luminance change (float32 (H, W)) evening broad hollows and bulges by ``strength`` (float32
    (H, W), 0..1): positive where a hollow is filled, negative (``HOLLOW_BRIGHT`` as strong) where
    a bulge is toned down.

    A hollow is where the skin-weighted mean at ``HOLLOW_INNER`` eye distances is darker than that
    at ``HOLLOW_SIGMA`` (normalised by ``skin``, so the background, hair and a beard beside the
    face never count as the surroundings). Computed at a quarter of the working resolution: it is
    smooth by construction. ``base`` is the edge-preserving low-pass of the luminance (0..1).
    """
    h, w = base.shape
    if not np.any(strength > 0):
        return np.zeros_like(base)
    quarter = (max(w // 4, 1), max(h // 4, 1))
    b = cv2.resize(base, quarter, interpolation=cv2.INTER_AREA)
    weight = cv2.resize(skin, quarter, interpolation=cv2.INTER_AREA)
    d = eye_distance * quarter[0] / w
    near = weighted_blur(b, weight, max(0.5, HOLLOW_INNER * d))
    wide = weighted_blur(b, weight, max(1.0, HOLLOW_SIGMA * d))
    diff = wide - near
    depth = np.where(diff > 0, diff, np.float32(HOLLOW_BRIGHT) * diff)
    return cv2.resize(depth, (w, h), interpolation=cv2.INTER_LINEAR) * strength


def wrinkle_delta(
    small: np.ndarray,
    wrinkle_strength: Mask,
    fold_strength: Mask,
    eye_distance: float,
    skin: Mask,
    texture_keep: float = 1.0,
    creases: CreaseMap | None = None,
    hollow_strength: Mask | None = None,
) -> np.ndarray:
    """The additive change that fills creases and softens wrinkles and folds but keeps skin texture.

    Creases (valleys deeper than the skin's texture, shallower than features: see
    ``deage.edit.makeup.creases``) are filled first, by the per-region strength. Then, in the
    wrinkle band of the filled skin, each pixel's detail is soft-clipped to the level of the
    skin's own texture (measured on this face): pores and grain, which are below that level, pass
    almost unchanged; what is left of lines, far above it and mostly dark, is flattened to it. The
    result is scaled by ``0.75 * texture_keep`` (young skin has a slightly finer texture). The
    fold band is attenuated (dark more than light). Features (glasses frames, lash lines, moles)
    are left alone by all three.

    Args:
        small: float32 RGB [0, 1] (H, W, 3), the crop at working resolution (or a window of it:
            every array here is (H, W), square or not).
        wrinkle_strength: float32 (H, W) in [0, 1], per-pixel strength of crease filling and of
            the wrinkle band.
        fold_strength: float32 (H, W) in [0, 1], attenuation of the fold band.
        eye_distance: eye distance in working pixels (sets the filter scales).
        skin: float32 (H, W) skin probability (where to fill creases and measure texture).
        texture_keep: scale of the kept texture (1 = natural).
        creases: the face's ``CreaseMap`` on the same pixels (computed here when not given).
        hollow_strength: float32 (H, W) in [0, 1], how far broad hollows are filled and bulges
            evened (``hollow_lift``); None: not at all.

    Returns:
        float32 (H, W, 3) change to add to ``small``.
    """
    # Wrinkles and folds are shading: the bands are taken on luminance only (one channel, three
    # times cheaper); colour blotches are the tone module's job.
    gray = luminance(small)
    if creases is None:
        creases = find_creases(gray, eye_distance)
    lift = creases.lift(skin) * wrinkle_strength
    filled = gray + lift
    change = np.zeros_like(gray)
    r1 = max(2, int(round(0.05 * eye_distance)))
    base = guided_filter(filled, filled, r1, 0.006)
    band = filled - base
    tau = texture_level(band, skin)
    clipped = soft_clip(band, 0.6 * tau, 1.2 * tau) * np.float32(0.75 * texture_keep)
    # The new band is ``clipped``; blend it in by the strength. Edges far stronger than any line
    # in skin (the bright side of a frame, a hairline) are left alone, and so are features.
    keep = creases.keep_features(r1)
    steep = smoothstep(np.abs(band) / np.maximum(base, np.float32(0.02)), 0.12, 0.25)
    change += (clipped - band) * wrinkle_strength * (1.0 - steep) * keep
    h, w = gray.shape
    half = (max(w // 2, 1), max(h // 2, 1))  # cv2 sizes: (width, height)
    if np.any(fold_strength > 0):
        coarse = cv2.resize(base, half, interpolation=cv2.INTER_AREA)
        r2 = max(2, int(round(0.07 * eye_distance)))
        broad = cv2.resize(guided_filter(coarse, coarse, r2, 0.006), (w, h), interpolation=cv2.INTER_LINEAR)
        fold = base - broad
        fold_bright = np.where(fold > 0, np.float32(0.2), np.float32(1.0))
        deep = smoothstep(np.abs(fold) / np.maximum(broad, np.float32(0.02)), 0.2, 0.35)
        change -= fold * (np.float32(0.6) * fold_strength * fold_bright * (1.0 - deep) * keep)
    if hollow_strength is not None:
        change += hollow_lift(base, hollow_strength * keep, skin, eye_distance)
    # The skin's colour around each pixel, creases left out of the mean, per unit of luminance.
    # The band and fold changes are applied in proportion to it, which keeps the skin's hue and
    # saturation; a filled crease takes that colour at the surface's lightness, so it is filled
    # in colour too (shadow in a deep crease is more saturated than the skin: lifting only its
    # lightness left a pale orange line).
    open_skin = 1.0 - smoothstep(creases.depth, FLOOR, 2.0 * FLOOR)
    # Smooth by construction: measured at half the working resolution (a quarter of the work).
    around = weighted_blur(cv2.resize(small, half, interpolation=cv2.INTER_AREA),
                           cv2.resize(open_skin, half, interpolation=cv2.INTER_AREA), max(0.5, 0.025 * eye_distance))
    around = cv2.resize(around, (w, h), interpolation=cv2.INTER_LINEAR)
    tint = np.clip(around / np.maximum(luminance(around), 1e-3)[..., None], 0.2, 3.0)
    filled_part = np.clip(lift / np.maximum(creases.surface - gray, np.float32(1e-4)), 0.0, 1.0)
    fill = filled_part[..., None] * (tint * creases.surface[..., None] - small)
    return (change[..., None] * tint + fill).astype(np.float32)
