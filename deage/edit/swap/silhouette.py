"""Where a face mask drawn from landmarks runs past the face the plate shows.

dlib's jaw line is a guess at the face's outline, and on a turned or tilted head, or where hair
hangs over a cheek, it runs past what the plate shows as face: over the hair, the background or
another person in front. A swap drawn to that line paints its new cheek there. ``beyond_the_face``
finds those pixels in the outer band of the mask by a colour segmentation of the plate (OpenCV's
GrabCut: a Gaussian mixture of the face's colours against one of its surroundings, cut along the
picture's edges), seeded from the face's middle (face, surely) and from what lies well beyond
the landmarks' outline (not face, unless it has the skin's colour: a neck, a bald head or an
ear is not taken for background).

It is kept conservative, since cutting real cheek leaves a strip of the plate's face beside the
new one: only the outer band (``BAND`` eye distances inside the outline), only the sides of the
face (not the chin, where a neck of the skin's colour continues it, nor the forehead, which the
swap gates by skin already), only what joins the outside, and not where the pixel has the skin's
own chromaticity and smoothness (a shadowed jaw of dark skin beside a dark shirt reads as
"surroundings" to the colour mixture, but its chromaticity and texture are the cheek's).
"""

from __future__ import annotations

import cv2
import numpy as np

from deage.edit.swap.regions import fine_detail
from deage.face.masks import FaceFrame, SkinColourModel, disk, skin_sample_mask
from deage.types import Image, Mask, Points

BAND = 0.35
"""Eye distances inside the landmarks' outline that may be given back to the plate."""

SEED_BEYOND = 0.3
"""Eye distances beyond the outline from which the surroundings are sampled."""

ITERATIONS = 3
"""GrabCut's rounds of refitting the colour mixtures and cutting again."""

SEED = 20261207
"""Seed of OpenCV's random generator before each cut (its k-means++ start)."""


def _skin_like(small: np.ndarray, sample: np.ndarray) -> np.ndarray:
    """bool (R, R): pixels of RGB float [0, 1] ``small`` close to the sampled skin's colour in CIE
    a*, b* (within 2.5 robust deviations, at least 6 units: tighter than the skin model, so a warm
    wall is not skin) and not much darker than it."""
    lab = cv2.cvtColor(small, cv2.COLOR_RGB2Lab)
    pix = lab[sample]
    med = np.median(pix, axis=0)
    spread = np.maximum(np.median(np.abs(pix - med), axis=0)[1:] * 1.4826 * 2.5, 6.0)
    z = (lab[..., 1:] - med[1:]) / spread
    near = np.clip(1.5 - 0.5 * np.einsum("...c,...c->...", z, z), 0.0, 1.0)
    lit = np.clip((lab[..., 0] / max(float(med[0]), 5.0) - 0.3) / 0.25, 0.0, 1.0)
    return near * lit >= 0.3


def _sides(frame: FaceFrame, landmarks: np.ndarray, size: int, k: float) -> Mask:
    """float32 (R, R): 1 where the direction from the nose to a pixel is mostly across the face
    (the cheeks and temples), 0 towards the chin and the top of the head."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64) + 0.5
    centre = landmarks[27:36].mean(axis=0) * k
    vx, vy = xx - centre[0], yy - centre[1]
    across = np.abs(vx * frame.x_axis[0] + vy * frame.x_axis[1])
    along = np.abs(vx * frame.up[0] + vy * frame.up[1])
    share = across / np.maximum(np.hypot(across, along), 1e-6)
    return np.clip((share - 0.5) / 0.2, 0.0, 1.0).astype(np.float32)


def beyond_the_face(image: Image, landmarks: Points, outline: Mask) -> Mask:
    """How surely each pixel of a face mask's outer band shows something other than the face.

    Args:
        image: the aligned crop, RGB uint8 (S, S, 3).
        landmarks: float (68, 2) iBUG landmarks in its pixels.
        outline: float32 (R, R) in [0, 1], the landmarks' outline filled (jaw line and forehead
            points, no inset), at the raster R the result is wanted at.

    Returns:
        float32 (R, R) in [0, 1]: 1 where the plate shows hair, background or another person
        inside the outline's side band, 0 elsewhere (everywhere on a face whose outline fits).
    """
    size = outline.shape[0]
    crop = image.shape[0]
    k = size / float(crop)
    pts = np.asarray(landmarks, np.float64)
    frame = FaceFrame.from_landmarks(pts)
    d = frame.eye_distance * k
    inside = outline > 0.5
    core = cv2.erode(inside.astype(np.uint8), disk(max(1, round(BAND * d)))) > 0
    near = cv2.dilate(inside.astype(np.uint8), disk(max(1, round(SEED_BEYOND * d)))) > 0
    band = inside & ~core
    if not band.any() or not core.any():
        return np.zeros((size, size), np.float32)
    small = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
    f = cv2.GaussianBlur(small.astype(np.float32) / np.float32(255.0), (0, 0), max(0.5, 0.025 * d))
    sample = skin_sample_mask(frame, pts, size, crop) > 0.5
    if sample.sum() < 16:
        return np.zeros((size, size), np.float32)
    skin_like = _skin_like(f, sample)
    seeds = np.full((size, size), cv2.GC_PR_FGD, np.uint8)
    seeds[~near & ~skin_like] = cv2.GC_BGD
    seeds[near & ~inside & ~skin_like] = cv2.GC_PR_BGD
    seeds[core] = cv2.GC_FGD
    if not (seeds == cv2.GC_BGD).any():  # nothing round the face but skin: nothing to cut
        return np.zeros((size, size), np.float32)
    # GrabCut starts its colour mixtures with k-means++ from OpenCV's random generator (one per
    # thread): seeded here, the same face gives the same mask in any thread, process or Ray task.
    cv2.setRNGSeed(SEED)
    cv2.grabCut(small, seeds, None, np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64),
                ITERATIONS, cv2.GC_INIT_WITH_MASK)
    other = (seeds == cv2.GC_BGD) | (seeds == cv2.GC_PR_BGD)
    # Not where the pixel is the cheek's own: its chromaticity and its smoothness.
    feats = SkinColourModel.features(f)
    model = SkinColourModel.fit(feats, sample.astype(np.float32))
    z = (feats[..., :2] - model.chroma_median) / model.chroma_spread
    gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32)
    detail = fine_detail(gray, d)
    smooth = detail < 2.0 * max(float(np.median(detail[sample])), 1.0)
    other &= ~((np.einsum("...c,...c->...", z, z) < 2.0) & smooth)
    # A thread of it is noise, not an outline: open by a few hundredths of an eye distance.
    other = cv2.morphologyEx(other.astype(np.uint8), cv2.MORPH_OPEN, disk(max(1, round(0.04 * d)))) > 0
    # Only what joins the surroundings outside the outline.
    _, labels = cv2.connectedComponents(other.astype(np.uint8))
    joined = np.unique(labels[other & ~inside])
    cut = np.isin(labels, joined[joined > 0]) & band
    out = cut.astype(np.float32) * _sides(frame, pts, size, k)
    # Softly, so the seam it moves onto the plate's face is no sharper than the plate: a
    # tenth of an eye distance (sharper, a swap's seam there read 1.37x the plate's gradient).
    out = cv2.GaussianBlur(out, (0, 0), max(0.5, 0.1 * d), borderType=cv2.BORDER_CONSTANT) * np.float32(1.5)
    return np.clip(out, 0.0, 1.0).astype(np.float32)
