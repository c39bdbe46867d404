"""The one place where RGB meets OpenCV's BGR."""

from __future__ import annotations

import numpy as np


def rgb_to_bgr(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) RGB -> contiguous (H, W, 3) BGR, same dtype."""
    return np.ascontiguousarray(image[..., ::-1])


bgr_to_rgb = rgb_to_bgr  # the same channel swap, named for the reader
