"""Match a swapped face's skin tone and lighting to the target's.

The source face, already warped onto the target's geometry, and the target crop are blurred over
their skin only (normalised convolution: ``blur(image * w) / blur(w)``, so background, hair, eyes
and lips never leak into the estimate), and their ratio is a per-pixel RGB gain that carries the
target's skin colour and its light onto the source while the source keeps its own features and
skin detail.

Colour and brightness are matched at two scales: the skin's colour (chromaticity: the tint of skin
and light, a black-and-white plate) follows the target closely, at ``chroma_sigma``; brightness
(shading: the key's direction and fall-off) only at the broader ``light_sigma``, because the
shading finer than that is what gives a face its shape (eye sockets, cheekbones): matching it too
would paint the target's face back over the source.
"""

from __future__ import annotations

import cv2
import numpy as np

from deage.types import Mask

_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def skin_blur(image: np.ndarray, weight: Mask, sigma: float) -> np.ndarray:
    """Normalised Gaussian blur of float32 (R, R, 3) ``image`` over the pixels where ``weight`` (R, R) is high."""
    w = np.ascontiguousarray(weight, np.float32)
    num = cv2.GaussianBlur(image * w[..., None], (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)
    den = cv2.GaussianBlur(w, (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)
    return num / np.maximum(den, np.float32(1e-4))[..., None]


def light_gain(
    target: np.ndarray,
    warped: np.ndarray,
    skin: Mask,
    light_sigma: float,
    chroma_sigma: float | None = None,
    strength: float = 1.0,
    max_gain: float = 3.0,
) -> np.ndarray:
    """Per-pixel RGB gain (float32 (R, R, 3)) that turns ``warped``'s skin tone and light into ``target``'s.

    Args:
        target: float32 (R, R, 3) RGB 0..255, the target crop.
        warped: float32 (R, R, 3) RGB 0..255, the source warped onto the target's geometry.
        skin: float32 (R, R) in [0, 1], where both show skin.
        light_sigma: blur (raster pixels) of the brightness match: broader shading is the target's.
        chroma_sigma: blur of the colour match (default: half ``light_sigma``).
        strength: 0 (gain 1: the source's own colour) .. 1 (the target's colour and light).
        max_gain: bound of the gain per channel (and of its inverse).

    Returns:
        The gain; multiply the warped source (at any resolution, after resizing the gain) by it.
    """
    if strength <= 0 or float(skin.max()) <= 0:
        return np.ones(target.shape, np.float32)
    chroma_sigma = 0.5 * light_sigma if chroma_sigma is None else chroma_sigma
    eps = np.float32(4.0)
    t = target.astype(np.float32)
    s = warped.astype(np.float32)
    t_c, s_c = skin_blur(t, skin, chroma_sigma) + eps, skin_blur(s, skin, chroma_sigma) + eps
    t_l, s_l = skin_blur(t, skin, light_sigma) @ _LUMA + eps, skin_blur(s, skin, light_sigma) @ _LUMA + eps
    tint = (t_c / (t_c @ _LUMA)[..., None]) / (s_c / (s_c @ _LUMA)[..., None])
    gain = np.clip(tint * (t_l / s_l)[..., None], 1.0 / max_gain, max_gain)
    if strength != 1.0:
        gain = gain ** np.float32(strength)
    return gain.astype(np.float32)
