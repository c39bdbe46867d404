"""Mask shaping (erode, dilate, feather) and the plain alpha blend."""

from __future__ import annotations

import cv2
import numpy as np

from deage.face.masks import disk
from deage.types import Mask


def shape_mask(mask: Mask, erode: float = 0.0, dilate: float = 0.0, feather: float = 0.0) -> Mask:
    """Erode, then dilate, then feather a soft mask (all sizes in pixels of ``mask``).

    Grey-level morphology keeps the mask soft; the feather is a Gaussian whose sigma is a third of
    ``feather`` (the edge ramps over about ``feather`` pixels). The result is float32 in [0, 1];
    values below 1/512 (Gaussian tails) are set to exactly 0, so "outside" is exactly outside and
    the matte ends about ``dilate + feather`` pixels beyond the input's support.
    """
    out = np.asarray(mask, np.float32)
    if erode >= 0.5:
        out = cv2.erode(out, disk(int(round(erode))), borderType=cv2.BORDER_CONSTANT, borderValue=0)
    if dilate >= 0.5:
        out = cv2.dilate(out, disk(int(round(dilate))), borderType=cv2.BORDER_CONSTANT, borderValue=0)
    if feather >= 0.5:
        out = cv2.GaussianBlur(out, (0, 0), feather / 3.0, borderType=cv2.BORDER_CONSTANT)
    out = np.clip(out, 0.0, 1.0)
    out[out < 1.0 / 512.0] = 0.0
    return out.astype(np.float32)


def alpha_blend(base: np.ndarray, top: np.ndarray, alpha: Mask) -> np.ndarray:
    """``base * (1 - alpha) + top * alpha`` for (H, W, C) float images and an (H, W) alpha."""
    a = alpha[..., None]
    return base + (top - base) * a
