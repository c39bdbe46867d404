"""A smile's folds follow the plate's expression, not the source photo's.

The mesh warp moves a smiling source's mouth onto a plate's neutral one (and the reverse), but a
smile also lives in the skin around the mouth: the folds from the nose's wings past the mouth's
corners and the cheeks bunched above them. Warped with the source's skin, they put a grin's folds
on a straight face. Where the two mouths smile differently (``smile_mismatch``), the swapped face
takes the plate's shading of those regions at the folds' scales (``BAND``): its own finer skin
texture and its broader light and colour stay.

A broad smile's folds warped onto a narrower mouth (straight, or an "o") are squeezed to sharp
lines, finer than ``BAND``: a dark crease with its bright ridge beside it from the nose's wing to
the mouth's corner. So where the source smiles more than the plate, the warp starts from the
photo with its folds smoothed away (``unsmiling``, once a source), that far.

A smile is read from the mouth's landmarks: its corners spread (mouth width 0.63-0.88 eye
distances on the neutral faces measured here, 1.0-1.14 on the smiling ones) and lifted (the
corners' height above the lips' centre: -0.05 to 0.06 eye distances neutral, 0.10-0.22 smiling).
"""

from __future__ import annotations

import cv2
import numpy as np

from deage.face.masks import FaceFrame, disk, landmark_regions, padded_box, smoothstep, weighted_blur
from deage.types import Image, Mask, Points

SMILE_WIDTH = (0.85, 1.05)
"""Mouth width (eye distances) over which a face goes from not smiling to smiling."""
SMILE_LIFT = (0.05, 0.15)
"""Height of the mouth's corners above the lips' centre (eye distances), the same."""
BAND = (0.035, 0.3)
"""Scales (Gaussian sigmas, eye distances) between which the plate's shading replaces the
source's: finer is the source's skin texture, broader its light (already matched to the plate's)."""
REACH = 0.18
"""How far (eye distances) the nasolabial and marionette regions (``deage.face.masks``) are grown
to hold a smile's folds and the cheeks bunched beside them."""
EDGE = 0.04
"""How far (eye distances) the change keeps off the edges of what is not skin on the plate."""
MAX_GAIN = 1.6
"""Bound of the change in each channel (and of its inverse): a smile's shading is milder than
this, a moustache the skin model missed (on either face) is not: it is neither painted in nor
taken out."""
FLAT_FINE = 0.015
"""Finest scale (Gaussian sigma, eye distances) of the source's shading that ``unsmiling`` smooths
over its folds (up to ``BAND``'s broad scale): finer is the photo's skin texture, kept."""
VALLEY = 0.045
"""Radius (eye distances) of the closing that fills the folds' creases first: valleys up to about
a tenth of the eye distance wide (``deage.edit.makeup.creases`` measures creases the same way)."""
TEXTURE = 0.03
"""Relative depth below that closing the skin's own texture reaches; kept."""
GAP = 0.1
"""Gaps in the source's skin mask narrower than twice this (eye distances) are a deep fold's
shadow and are smoothed with the skin around them; a moustache or a beard is broader and kept."""
FEATURE = (2.0, 2.6)
"""Factors of change (lighter or darker) over which a structure goes from fold to feature, which
``unsmiling`` leaves: a smile's folds need 1.3-1.5, their deepest part by the nose's wings up to
about 2 (the astronaut's: left at 1.6 it was squeezed into a dark line beside a narrower mouth's
nose); a moustache, which the skin mask mostly keeps out, 1.8-2.6 where it half takes it for
skin, the edge of a beard 2-3 (source_s12's moustache changes by 1.1 levels on average)."""


def smile(landmarks: Points) -> float:
    """How much a face smiles, 0 (not) .. 1 (a full smile), from its 68 landmarks (any pixels)."""
    lm = np.asarray(landmarks, np.float64)
    frame = FaceFrame.from_landmarks(lm)
    d = max(frame.eye_distance, 1e-6)
    width = float(np.linalg.norm(lm[54] - lm[48])) / d
    lips = 0.5 * (lm[62] + lm[66])
    lift = float(np.dot(0.5 * (lm[48] + lm[54]) - lips, frame.up)) / d
    spread = smoothstep(np.float32(width), *SMILE_WIDTH)
    raised = smoothstep(np.float32(lift), *SMILE_LIFT)
    return float(max(spread, raised))


def smile_mismatch(source: Points, target: Points) -> float:
    """0..1: how differently two faces (68 landmarks each, any pixels) smile, either way round."""
    return abs(smile(source) - smile(target))


def fold_weight(landmarks: Points, crop_size: int, size: int | None = None) -> Mask:
    """float32 (size, size) in [0, 1] (default ``crop_size``): where a smile's folds lie on a face
    whose 68 landmarks are in the pixels of a ``crop_size`` crop: the nasolabial and marionette
    regions grown by ``REACH`` eye distances, softened, with the lips, nostrils and eyes cut out."""
    size = crop_size if size is None else size
    regions, protect, _, _, frame = landmark_regions(landmarks, size, crop_size)
    d = frame.eye_distance * size / float(crop_size)
    folds = np.maximum(regions["nasolabial"], regions["marionette"])
    r = max(1, int(round(REACH * d)))
    folds = cv2.dilate(folds, disk(r))
    folds = cv2.GaussianBlur(folds, (0, 0), max(0.5, 0.06 * d))
    return (np.clip(folds, 0.0, 1.0) * (1.0 - protect)).astype(np.float32)


def take_folds(target: Image, swapped: Image, landmarks: Points, amount: float, skin: Mask) -> Image:
    """``swapped`` with ``target``'s shading at the ``BAND`` scales over a smile's folds
    (``fold_weight``), ``amount`` of the way.

    Per channel, the log of the image's skin-weighted mean at the band's fine scale minus the log
    of that at its broad scale is the band; the swapped face's band is replaced by the target's,
    changing no channel by more than ``MAX_GAIN`` times. Both means are over the target's skin
    only, so a beard, a moustache or the lips beside the folds never count.

    Args:
        target: RGB uint8 (S, S, 3), the plate's crop.
        swapped: RGB uint8 (S, S, 3), the source on the plate's geometry, colour-matched.
        landmarks: float (68, 2), the plate's landmarks in crop pixels.
        amount: 0..1 (the look's ``folds`` times ``smile_mismatch``).
        skin: float32 (S, S) in [0, 1], where the target shows skin.

    Returns:
        RGB uint8 (S, S, 3); ``swapped`` itself when ``amount`` is 0.
    """
    if amount <= 0:
        return swapped
    d = FaceFrame.from_landmarks(np.asarray(landmarks, np.float64)).eye_distance
    # Kept off the edges of what is not skin too (where a moustache's darkness spreads).
    inside = cv2.erode(skin, disk(max(1, int(round(EDGE * d)))))
    size = target.shape[0]
    folds = cv2.resize(fold_weight(landmarks, size, min(size, 128)), (size, size), interpolation=cv2.INTER_LINEAR)
    weight = folds * inside * np.float32(amount)
    fine, broad = (max(0.5, k * d) for k in BAND)
    # Only the box where the weight reaches, with room for the broad blur.
    box = padded_box(weight, 1e-3, int(np.ceil(3.0 * broad)))
    if box is None:
        return swapped
    # A little weight everywhere: away from any skin the means fall back to plain ones (and stay > 0).
    on_skin = np.ascontiguousarray(skin[box], np.float32) + np.float32(0.01)

    def band(image: Image) -> np.ndarray:
        part = image[box].astype(np.float32) + np.float32(4.0)
        return np.log(_skin_mean(part, on_skin, fine) / _skin_mean(part, on_skin, broad))

    limit = np.float32(np.log(MAX_GAIN))
    gain = np.exp(np.clip(band(target) - band(swapped), -limit, limit) * weight[box][..., None])
    out = swapped.copy()
    out[box] = np.clip(swapped[box].astype(np.float32) * gain + 0.5, 0, 255).astype(np.uint8)
    return out


def unsmiling(image: Image, landmarks: Points, skin: Mask) -> Image:
    """The source photo with its smile's folds smoothed away, for a plate that smiles less.

    Over the folds' regions (``fold_weight``) of the source's skin (``GAP``), its creases are
    filled up to its texture (a closing, ``VALLEY``, ``TEXTURE``) and its shading between
    ``FLAT_FINE`` and ``BAND``'s broad scale is evened out, except on structures that would change
    more than a fold does (``FEATURE``: a moustache, a beard's edge, a mole); its finer skin texture
    and broader light stay, and so does everything outside those regions, bit for bit.

    Args:
        image: RGB uint8 (S, S, 3), the source's aligned crop.
        landmarks: float (68, 2), its landmarks in crop pixels.
        skin: float32 (S, S) in [0, 1], where it shows skin or facial features (not hair).

    Returns:
        RGB uint8 (S, S, 3).
    """
    size = image.shape[0]
    d = FaceFrame.from_landmarks(np.asarray(landmarks, np.float64)).eye_distance
    skin = cv2.morphologyEx(np.ascontiguousarray(skin, np.float32), cv2.MORPH_CLOSE,
                            disk(max(1, int(round(GAP * d)))))
    weight = fold_weight(landmarks, size) * skin
    broad = BAND[1] * d
    box = padded_box(weight, 1e-3, int(np.ceil(3.0 * broad)))
    if box is None:
        return image.copy()
    part = image[box].astype(np.float32)
    r = max(1, int(round(VALLEY * d)))
    surface = cv2.GaussianBlur(cv2.morphologyEx(part, cv2.MORPH_CLOSE, disk(r)), (0, 0), 0.5 * r)
    filled = np.maximum(part, surface * np.float32(1.0 - TEXTURE)) + np.float32(4.0)
    on_skin = np.ascontiguousarray(skin[box]) + np.float32(0.01)
    flat = filled * _skin_mean(filled, on_skin, broad) / _skin_mean(filled, on_skin, max(0.5, FLAT_FINE * d))
    # What would change too much is a feature, not a fold: left, with a margin round it.
    # (Measured where the folds' weight is, not on the lips and nostrils, which change most.)
    change = np.abs(np.log(flat.mean(axis=2) / (part.mean(axis=2) + np.float32(4.0))))
    change = cv2.dilate(change * smoothstep(weight[box], 0.05, 0.15), disk(r))
    lo, hi = np.log(FEATURE[0]), np.log(FEATURE[1])
    keep = cv2.GaussianBlur(smoothstep(change, lo, hi), (0, 0), 0.5 * r)
    w = (weight[box] * (1.0 - keep))[..., None]
    out = image.copy()
    out[box] = np.clip(part + w * (flat - np.float32(4.0) - part) + 0.5, 0, 255).astype(np.uint8)
    return out


def _skin_mean(image: np.ndarray, skin: Mask, sigma: float) -> np.ndarray:
    """``weighted_blur`` of float32 (H, W, 3) ``image`` over ``skin`` at ``sigma`` pixels, worked
    at a resolution where ``sigma`` is about 2 pixels (the mean is smooth at that scale) and
    resized back; (H, W, 3)."""
    h, w = skin.shape
    factor = max(1, int(sigma // 2))
    if factor == 1:
        return weighted_blur(image, skin, sigma)
    small = (max(1, w // factor), max(1, h // factor))
    mean = weighted_blur(cv2.resize(image, small, interpolation=cv2.INTER_AREA),
                         cv2.resize(skin, small, interpolation=cv2.INTER_AREA), sigma * small[0] / w)
    return cv2.resize(mean, (w, h), interpolation=cv2.INTER_LINEAR)
