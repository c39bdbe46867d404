"""Wrinkle and fine-line softening by frequency separation, per region.

The crop is split into three bands at the editor's working resolution (about 256 px across the
crop, see ``MakeupEditor``):

- *fine*: everything finer than one working pixel (pores, film grain, sensor noise). It never
  passes through this module, so it is kept exactly (``texture_keep`` scales it separately);
- *wrinkle band*: the working-resolution image minus an edge-preserving low-pass (a guided filter
  with a radius of about a tenth of the eye distance): fine lines and wrinkles;
- *fold band*: that low-pass minus a broader one: the soft shading of deep folds (nasolabial,
  marionette, tear trough, frown lines).

The result is an additive RGB change at working resolution: ``- A * wrinkle_band - F * fold_band``,
where A and F are the per-region strength maps. Dark lines are removed more than bright ridges
(skin sheen and highlights carry life; wrinkles are shadows), which keeps the skin from going flat.
"""

from __future__ import annotations

import cv2
import numpy as np

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
    """Rec. 601 luma of an RGB float image, float32 (H, W)."""
    return cv2.transform(image, np.array([[0.299, 0.587, 0.114]], np.float32))[..., 0] if image.ndim == 3 else image


def wrinkle_delta(
    small: np.ndarray,
    wrinkle_strength: Mask,
    fold_strength: Mask,
    eye_distance: float,
    bright_ratio: float = 0.35,
) -> np.ndarray:
    """The additive change that softens wrinkles and folds.

    Args:
        small: float32 RGB [0, 1] (W, W, 3), the crop at working resolution.
        wrinkle_strength: float32 (W, W) in [0, 1], attenuation of the wrinkle band.
        fold_strength: float32 (W, W) in [0, 1], attenuation of the fold band.
        eye_distance: eye distance in working pixels (sets the filter scales).
        bright_ratio: how much of the attenuation applies to bright (above base) detail.

    Returns:
        float32 (W, W, 3) change to add to ``small``.
    """
    gray = luminance(small)
    r1 = max(2, int(round(0.05 * eye_distance)))
    base = guided_filter(gray, small, r1, 0.003)
    band = small - base
    # Dark detail (wrinkle shadows) is attenuated fully, bright detail (sheen, ridges) less.
    sign = luminance(band)
    bright = np.where(sign > 0, np.float32(bright_ratio), np.float32(1.0))
    delta = -band * (wrinkle_strength * bright)[..., None]
    if np.any(fold_strength > 0):
        w = small.shape[1]
        half = cv2.resize(base, (w // 2, w // 2), interpolation=cv2.INTER_AREA)
        r2 = max(2, int(round(0.07 * eye_distance)))
        broad = guided_filter(luminance(half), half, r2, 0.006)
        broad = cv2.resize(broad, (w, w), interpolation=cv2.INTER_LINEAR)
        fold = base - broad
        fold_bright = np.where(luminance(fold) > 0, np.float32(0.2), np.float32(1.0))
        delta -= fold * (np.float32(0.6) * fold_strength * fold_bright)[..., None]
    return delta.astype(np.float32)
