"""A visible "AI-altered" label burnt into delivered frames."""

from __future__ import annotations

import cv2
import numpy as np

from deage.types import Image


def burn_in_label(frame: Image, text: str = "AI-altered") -> Image:
    """Return a copy of ``frame`` (RGB uint8 (H, W, 3)) with ``text`` in a dark box, bottom left,
    sized to the frame (readable from 360p to 4K)."""
    out = frame.copy()
    h, w = out.shape[:2]
    scale = max(h / 720.0, 0.4)
    thickness = max(int(round(2 * scale)), 1)
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    pad = int(10 * scale)
    x0, y1 = pad, h - pad
    y0 = y1 - th - base - 2 * pad
    x1 = x0 + tw + 2 * pad
    region = out[max(y0, 0):y1, x0:min(x1, w)]
    region[:] = (region.astype(np.float32) * 0.35).astype(np.uint8)
    cv2.putText(out, text, (x0 + pad, y1 - pad - base), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255),
                thickness, cv2.LINE_AA)
    return out
