"""Colour transfer under a mask: CIE Lab mean and spread (Reinhard et al., 2001) or histograms.

Both make an edited image's colour statistics, measured where ``weight`` is high, match a
reference's over the same pixels; used when an editor's output drifts in colour.
"""

from __future__ import annotations

import cv2
import numpy as np

from deage.types import Mask


def _weighted_stats(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    total = max(float(w.sum()), 1e-6)
    mean = (x * w[:, None]).sum(0) / total
    var = (((x - mean) ** 2) * w[:, None]).sum(0) / total
    return mean, np.sqrt(np.maximum(var, 1e-8))


def lab_transfer(image: np.ndarray, reference: np.ndarray, weight: Mask, max_gain: float = 2.0) -> np.ndarray:
    """Match ``image``'s Lab mean and standard deviation to ``reference``'s under ``weight``.

    Args:
        image, reference: float32 RGB (H, W, 3) on a 0..255 scale, the same pixels.
        weight: float32 (H, W) in [0, 1], where to measure (e.g. the blend mask).
        max_gain: bound on the spread ratio (so a nearly flat patch is not blown up).

    Returns:
        float32 (H, W, 3) RGB 0..255, the corrected ``image`` (everywhere; blend it by the mask).
    """
    sel = weight > 0.05
    if sel.sum() < 16:
        return image.astype(np.float32)
    lab_i = cv2.cvtColor(np.clip(image, 0, 255).astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    lab_r = cv2.cvtColor(np.clip(reference, 0, 255).astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    w = weight[sel]
    mi, si = _weighted_stats(lab_i[sel], w)
    mr, sr = _weighted_stats(lab_r[sel], w)
    gain = np.clip(sr / si, 1.0 / max_gain, max_gain).astype(np.float32)
    out = (lab_i - mi.astype(np.float32)) * gain + mr.astype(np.float32)
    return cv2.cvtColor(out.astype(np.float32), cv2.COLOR_Lab2RGB) * np.float32(255.0)


def histogram_transfer(image: np.ndarray, reference: np.ndarray, weight: Mask, bins: int = 256) -> np.ndarray:
    """Match ``image``'s per-channel (RGB) histograms to ``reference``'s, weighted by ``weight``.

    Args:
        image, reference: float32 RGB (H, W, 3) on a 0..255 scale, the same pixels.
        weight: float32 (H, W) in [0, 1].

    Returns:
        float32 (H, W, 3) RGB 0..255, ``image`` through the per-channel tone curves.
    """
    sel = weight > 0.05
    if sel.sum() < 16:
        return image.astype(np.float32)
    w = weight[sel].astype(np.float64)
    edges = np.linspace(0.0, 256.0, bins + 1)
    centres = 0.5 * (edges[:-1] + edges[1:])
    out = np.empty_like(image, dtype=np.float32)
    for c in range(image.shape[2]):
        hi, _ = np.histogram(image[..., c][sel], bins=edges, weights=w)
        hr, _ = np.histogram(reference[..., c][sel], bins=edges, weights=w)
        cdf_i = np.cumsum(hi) / max(hi.sum(), 1e-9)
        cdf_r = np.cumsum(hr) / max(hr.sum(), 1e-9)
        # image value -> its quantile -> the reference value at that quantile
        curve = np.interp(cdf_i, cdf_r, centres)
        out[..., c] = np.interp(image[..., c], centres, curve).astype(np.float32)
    return out
