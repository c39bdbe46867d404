"""Laplacian-pyramid (multi-band) blending (Burt and Adelson, 1983)."""

from __future__ import annotations

import cv2
import numpy as np

from deage.types import Mask


def pyramid_levels(height: int, width: int, transition: float) -> int:
    """Levels so the coarsest band blends over about ``transition`` pixels, within the image size."""
    by_size = int(np.log2(max(min(height, width), 2) / 8.0))
    by_width = int(np.ceil(np.log2(max(transition, 2.0))))
    return int(np.clip(min(by_size, by_width), 1, 6))


def multiband_blend(base: np.ndarray, top: np.ndarray, alpha: Mask, levels: int) -> np.ndarray:
    """Blend ``top`` over ``base`` band by band: band k is mixed with ``alpha`` blurred to level k.

    Args:
        base, top: float32 (H, W, C) images on the same scale.
        alpha: float32 (H, W) in [0, 1].
        levels: number of pyramid levels (>= 1).

    Returns:
        float32 (H, W, C). Fine detail switches over the width of ``alpha``'s edge, low
        frequencies over a band about 2**levels pixels wide (both inside and outside the edge;
        the caller gates the result to the mask's support).
    """
    diff = (top - base).astype(np.float32)
    sizes = [diff.shape[:2]]
    gauss_d, gauss_a = [diff], [alpha.astype(np.float32)]
    for _ in range(levels):
        if min(gauss_d[-1].shape[:2]) < 4:
            break
        gauss_d.append(cv2.pyrDown(gauss_d[-1]))
        gauss_a.append(cv2.pyrDown(gauss_a[-1]))
        sizes.append(gauss_d[-1].shape[:2])
    # Blend the difference's bands (linear, so equal to blending the two images' bands).
    out = gauss_d[-1] * gauss_a[-1][..., None]
    for k in range(len(gauss_d) - 2, -1, -1):
        h, w = sizes[k]
        up = cv2.pyrUp(gauss_d[k + 1], dstsize=(w, h))
        band = gauss_d[k] - up
        out = cv2.pyrUp(out, dstsize=(w, h)) + band * gauss_a[k][..., None]
    return base + out
