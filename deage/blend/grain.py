"""Keep the plate's grain on a retouched face.

A retouch that softens skin (crease filling, detail attenuation) also softens the sensor noise or
film grain on the face, so on a noisy plate the face comes out cleaner than the frame around it:
the classic tell of beauty work, which compositors fix by regraining. ``keep_grain`` restores the
frame's own finest detail up to the plate's noise level: in a fine band (finer than ``GRAIN_SIGMA``
frame pixels), the low-amplitude part (within ``GRAIN_CLIP`` noise deviations) of the retouched
region is replaced by the original's. Larger structure (a crease's edges, a pore) keeps what the
retouch did to it; a clean plate (noise a fraction of a level) is left almost exactly as retouched.

``noise_sigma`` measures the plate's noise: the median absolute response of a kernel blind to flat
areas and linear ramps (Immerkaer 1996), through a median, so edges and texture weigh little. On
the test media: 6.9 levels on a clip with added Gaussian noise of 7, 0.1-0.3 on clean clips,
about 1 on scanned or JPEG photos.
"""

from __future__ import annotations

import cv2
import numpy as np

GRAIN_SIGMA = 2.0
"""Gaussian sigma (frame pixels) below which detail counts as grain."""
GRAIN_CLIP = 2.5
"""Fine-band amplitude, in noise deviations, up to which the original's detail is restored."""
MIN_NOISE = 0.75
"""Noise (levels) below which a plate counts as clean and its grain is left alone: what could be
put back is under 2 levels, unseen (clean, denoised or CG plates: the example clip's face region
measures 0.5, its compression and the skin's own texture; visible grain measures 2 and more)."""
NOISE_KERNEL = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
"""Immerkaer's kernel: zero on flat areas and linear ramps, 6 sigma of response to white noise."""
NOISE_SCALE = 1.0 / (0.6745 * 6.0)
"""Median absolute kernel response -> noise sigma (0.6745: a normal's median absolute deviation)."""


def noise_sigma(image: np.ndarray) -> float:
    """Standard deviation (levels) of the white noise in an RGB float32 / uint8 (H, W, 3) image (its
    green channel: one channel's noise, grey or colour) or a grey (H, W) one: 0 for an image under
    3 pixels a side."""
    grey = np.asarray(image)
    grey = np.ascontiguousarray(grey[..., 1] if grey.ndim == 3 else grey, dtype=np.float32)
    if min(grey.shape) < 3:
        return 0.0
    response = cv2.filter2D(grey, -1, NOISE_KERNEL, borderType=cv2.BORDER_REFLECT)[1:-1:2, 1:-1:2]  # every 4th: as good a median
    return float(np.median(np.abs(response))) * NOISE_SCALE


def plate_sigma(sigma: float) -> float:
    """A measured noise ``sigma``, 0 below ``MIN_NOISE`` (a clean plate: no grain work)."""
    return sigma if sigma >= MIN_NOISE else 0.0


def plate_noise(image: np.ndarray) -> float:
    """``plate_sigma`` of a frame region's ``noise_sigma``."""
    return plate_sigma(noise_sigma(image))


def split_grain(image: np.ndarray, sigma: float) -> np.ndarray | None:
    """The grain of an RGB float32 (h, w, 3) image: its detail finer than ``GRAIN_SIGMA`` pixels,
    clipped to +-``GRAIN_CLIP * sigma``; None when ``sigma`` is 0. A shape warp moves it by
    whole pixels (interpolating it would smooth it) and the rest of the image interpolated."""
    limit = np.float32(GRAIN_CLIP * sigma)
    if limit <= 0:
        return None
    return np.clip(image - cv2.GaussianBlur(image, (0, 0), GRAIN_SIGMA), -limit, limit)


def keep_grain(top: np.ndarray, base: np.ndarray, sigma: float, amount: float = 1.0) -> np.ndarray:
    """``top`` (the retouched region, float32 (h, w, 3), 0..255) with the grain of ``base`` (the
    same region of the original frame, noise ``sigma`` levels) put back in place of its own
    (``split_grain``), ``amount`` (0..1) of it."""
    if sigma <= 0 or amount <= 0:
        return top
    return top + (split_grain(base, sigma) - split_grain(top, sigma)) * np.float32(amount)
