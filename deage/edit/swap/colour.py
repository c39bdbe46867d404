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

The gain carries the skin's tint only: lips and irises keep their colour relative to the skin. On
a plate without colour (black-and-white, sepia, a monochrome grade) that leaves red lips and blue
eyes in a grey face, so ``plate_colour`` measures how much colour the plate has at all and
``desaturate`` moves the swapped face's colour to the plate skin's tint by as much.
"""

from __future__ import annotations

import cv2
import numpy as np

from deage.face.masks import weighted_blur
from deage.types import Mask

_LUMA = np.array([0.299, 0.587, 0.114], np.float32)

MONOCHROME = (1.0, 4.0)
"""Colourfulness (spread of CIE a*, b* over the crop) below which a plate has no colour, above
which it has its full colour. Colour footage of faces measures 6-30; a black-and-white scan 0-0.5."""


def light_gain(
    target: np.ndarray,
    warped: np.ndarray,
    skin: Mask,
    light_sigma: float,
    chroma_sigma: float | None = None,
    strength: float = 1.0,
    max_gain: float = 8.0,
) -> np.ndarray:
    """Per-pixel RGB gain (float32 (R, R, 3)) that turns ``warped``'s skin tone and light into ``target``'s.

    Args:
        target: float32 (R, R, 3) RGB 0..255, the target crop.
        warped: float32 (R, R, 3) RGB 0..255, the source warped onto the target's geometry.
        skin: float32 (R, R) in [0, 1], where both show skin.
        light_sigma: blur (raster pixels) of the brightness match: broader shading is the target's.
        chroma_sigma: blur of the colour match (default: half ``light_sigma``).
        strength: 0 (gain 1: the source's own colour) .. 1 (the target's colour and light).
        max_gain: bound of the gain per channel (and of its inverse). 8 takes a pale source's skin
            to the darkest and back: from scikit-image's astronaut to the dark-skinned man of the
            shared selfie blue needs 0.30-0.48, beyond the bound of 3 this had on half his skin.

    Returns:
        The gain; multiply the warped source (at any resolution, after resizing the gain) by it.
    """
    if strength <= 0 or float(skin.max()) <= 0:
        return np.ones(target.shape, np.float32)
    chroma_sigma = 0.5 * light_sigma if chroma_sigma is None else chroma_sigma
    eps = np.float32(0.25)  # 0/0 -> 1 where there is no skin; 4 levels biased a dark plate's blue by 16 %
    t = target.astype(np.float32)
    s = warped.astype(np.float32)
    t_c, s_c = weighted_blur(t, skin, chroma_sigma) + eps, weighted_blur(s, skin, chroma_sigma) + eps
    t_l, s_l = weighted_blur(t, skin, light_sigma) @ _LUMA + eps, weighted_blur(s, skin, light_sigma) @ _LUMA + eps
    tint = (t_c / (t_c @ _LUMA)[..., None]) / (s_c / (s_c @ _LUMA)[..., None])
    gain = np.clip(tint * (t_l / s_l)[..., None], 1.0 / max_gain, max_gain)
    if strength != 1.0:
        gain = gain ** np.float32(strength)
    return gain.astype(np.float32)


def plate_colour(target: np.ndarray) -> float:
    """How much colour a plate has, 0 (none: black and white, sepia) .. 1 (full colour).

    ``target``: float32 or uint8 (R, R, 3) RGB 0..255, the target crop (a small copy will do).
    Measured as the spread of CIE a*, b* over the whole crop (face, hair, clothes, background),
    so a tint common to everything (sepia, a colour grade) counts as no colour.
    """
    rgb = np.asarray(target, np.float32) / np.float32(255.0)
    ab = cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab)[..., 1:].reshape(-1, 2)
    spread = float(np.sqrt(ab.var(axis=0).sum()))
    lo, hi = MONOCHROME
    t = min(max((spread - lo) / (hi - lo), 0.0), 1.0)
    return t * t * (3.0 - 2.0 * t)


def desaturate(image: np.ndarray, skin: Mask, keep: float, sigma: float, plate: np.ndarray | None = None) -> np.ndarray:
    """``image`` with every pixel's colour moved towards the local tint of the skin, keeping ``keep``
    (0..1) of the difference: lips, irises and brows take the skin's tint at 0.

    Args:
        image: uint8 (S, S, 3) RGB, the colour-matched swapped face.
        skin: float32 (R, R) in [0, 1] at any raster R (resized), where the face shows skin.
        keep: the plate's ``plate_colour``.
        sigma: blur of the skin tint, in pixels of ``skin``'s raster.
        plate: uint8 / float32 (P, P, 3) RGB 0..255, the target crop at any size, whose skin's
            tint is taken (a black-and-white plate's is neutral, a sepia print's brown); None
            takes the swapped face's own, which still holds its photo's finer colour (cheeks
            redder than the rest) and left a face on a black-and-white plate 4 levels off grey.

    Returns:
        uint8 (S, S, 3) RGB; ``image`` itself when ``keep`` >= 1.
    """
    if keep >= 1.0:
        return image
    size, raster = image.shape[0], skin.shape[0]
    lab = cv2.cvtColor(image.astype(np.float32) / np.float32(255.0), cv2.COLOR_RGB2Lab)
    source = lab if plate is None else cv2.cvtColor(np.asarray(plate, np.float32) / np.float32(255.0),
                                                    cv2.COLOR_RGB2Lab)
    small = cv2.resize(source, (raster, raster), interpolation=cv2.INTER_AREA)
    weight = skin if float(skin.max()) > 0 else np.ones_like(skin)
    tint = weighted_blur(np.ascontiguousarray(small[..., 1:]), weight, sigma)
    tint = cv2.resize(tint, (size, size), interpolation=cv2.INTER_LINEAR)
    lab[..., 1:] = tint + np.float32(keep) * (lab[..., 1:] - tint)
    rgb = cv2.cvtColor(lab, cv2.COLOR_Lab2RGB) * np.float32(255.0)
    return np.clip(rgb + 0.5, 0, 255).astype(np.uint8)
