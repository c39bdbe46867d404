"""Region masks of a face from its 68 landmarks, gated by a per-face skin-colour model.

Everything here works in the coordinates of an aligned crop (see ``deage.face.align``): landmarks
are float32 (68, 2) crop pixels (iBUG layout), images RGB uint8 (S, S, 3), masks float32 (R, R)
in [0, 1] at a raster size ``R`` of the caller's choice (masks are smooth, so editors raster them
at their own working resolution, far below S, which is what keeps them fast).

Regions (soft, feathered, each already multiplied by the skin probability and with the protected
features cut out):

- ``forehead``, ``glabella`` (frown lines between the brows), ``crows_feet`` (beside the outer eye
  corners), ``under_eye`` (lower lid to the top of the cheek), ``nasolabial`` (nose wing to beyond
  the mouth corner), ``marionette`` (mouth corner down towards the jaw), ``skin`` (all other facial
  skin: cheeks, nose, upper lip, chin), ``neck`` (below the jaw line).
- ``protect``: eyes with lash lines, brows, lips and mouth, nostrils: never edited.
- ``face``: the whole face area (jaw contour plus an estimated forehead), features included.

The skin model is a robust Gaussian in CIE Lab fitted to pixels sampled on the cheeks and the nose
(median and MAD, so a beard or a shadow in part of the sample does not capture it); it excludes
hair, beards, glasses frames and background of a different colour. Skin-coloured islands that
something not skin-coloured cuts off from the cheeks, nose, glabella and throat (a badge on a
cap, a tan strap) are excluded too. When the cheek sample is not skin-red and far less red or
far darker than the skin between the brows (``lower_face_cover``: a face mask, a scarf), the model
is fitted to the skin between the brows and on the nose's bridge instead, and what is nearer the
cover's colour is not skin. Hands are skin-coloured: a hand over the face is only
excluded by an occlusion model (a Look's ``masks.occluder``, ``deage.face.learned_masks``) or a
parser with a "hand" class.

A learned face parser (``deage.face.protocols.Parser``) replaces the skin-colour model when its
masks are given: pass them as ``parsing`` (class name -> float32 (S, S) in [0, 1]; names from the
CelebAMask-HQ set: "skin", "nose", "neck", "hair", "hat", "eyeglass"/"eye_g", "l_eye", "r_eye",
"l_brow", "r_brow", "u_lip", "l_lip", "mouth", "cloth", ...). Unknown names are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from deage.errors import DeageError
from deage.types import Image, Mask, Points

WRINKLE_REGIONS: tuple[str, ...] = (
    "forehead",
    "glabella",
    "crows_feet",
    "under_eye",
    "nasolabial",
    "marionette",
    "skin",
    "neck",
)
"""Names of the regions a de-ager treats separately, in drawing order."""

_SKIN_CLASSES = ("skin", "nose")
_NECK_CLASSES = ("neck",)
_OCCLUDER_CLASSES = ("hair", "hat", "eyeglass", "eye_g", "cloth", "clothes", "ear_r", "hand", "neck_l")
_FEATURE_CLASSES = ("l_eye", "r_eye", "l_brow", "r_brow", "u_lip", "l_lip", "mouth")


@dataclass(frozen=True)
class FaceFrame:
    """A face-attached coordinate frame from 68 landmarks (crop pixels).

    Attributes:
        left_eye, right_eye: float64 (2,) eye centres (image left / right).
        x_axis: unit vector from the left to the right eye.
        up: unit vector towards the forehead (perpendicular to ``x_axis``).
        eye_distance: distance between the eye centres, the unit every size here is given in.
    """

    left_eye: np.ndarray
    right_eye: np.ndarray
    x_axis: np.ndarray
    up: np.ndarray
    eye_distance: float

    @classmethod
    def from_landmarks(cls, landmarks: Points) -> FaceFrame:
        pts = np.asarray(landmarks, dtype=np.float64)
        left, right = pts[36:42].mean(0), pts[42:48].mean(0)
        vec = right - left
        dist = float(np.hypot(*vec))
        if not np.isfinite(dist) or dist < 1e-3:
            raise DeageError("degenerate landmarks: the eye centres coincide")
        x_axis = vec / dist
        up = np.array([x_axis[1], -x_axis[0]])
        # Landmarks of a mirrored or upside-down fit: make "up" point from the chin to the brows.
        if np.dot(pts[27] - pts[8], up) < 0:
            up = -up
        return cls(left, right, x_axis, up, dist)


@dataclass
class FaceRegions:
    """Soft region masks of one face at one raster size.

    Attributes:
        size: masks are float32 (size, size) in [0, 1].
        regions: region name (``WRINKLE_REGIONS``) -> mask; skin-gated, features cut out.
        skin: skin probability inside the face and neck area, features cut out.
        protect: eyes, brows, lips/mouth and nostrils (1 = never edit).
        face: the whole face area, features included (jaw contour plus estimated forehead).
        frame: the face's coordinate frame, in the coordinates of the crop the landmarks came from.
        crop_size: size S of that crop.
        skin_reference: float32 (3,) median colour of the cheek/nose sample (between the brows
            and on the nose's bridge when the lower face is covered), CIE Lab (L 0..100, a, b), or
            None when the sample was empty.
        side: float32 (size, size) in [0, 1]: 0 on the face's image-left half, 1 on its right
            half, easing across its middle (perpendicular to the line between the eyes).
        side_references: the same median for the left and the right half of the sample (None
            for a half with too few skin pixels: a cheek hidden by a turned head), or None.
        cover: how surely a face mask or a scarf covers the lower face (``lower_face_cover``),
            0..1; 0 for a bare face.
        lower_visible: when ``cover`` > 0, the share of the face below the nose's tip that is
            still skin, 0..1; None for a bare face.
        inside: float32 (size, size) in [0, 1], 1 where the crop holds the frame's own pixels (no
            mask is skin elsewhere: ``face_regions``' ``inside``); None: the whole crop does.
    """

    size: int
    regions: dict[str, Mask]
    skin: Mask
    protect: Mask
    face: Mask
    frame: FaceFrame
    crop_size: int
    skin_reference: np.ndarray | None = field(default=None)
    side: Mask | None = field(default=None)
    side_references: tuple[np.ndarray | None, np.ndarray | None] | None = field(default=None)
    cover: float = 0.0
    lower_visible: float | None = field(default=None)
    inside: Mask | None = field(default=None)

    @property
    def eye_distance(self) -> float:
        """The eye distance in raster pixels (the unit region sizes are given in)."""
        return self.frame.eye_distance * self.size / float(self.crop_size)

    def window(self, rows: slice, cols: slice) -> FaceRegions:
        """The same regions on a window ``[rows, cols]`` of the raster (views, not copies): masks
        (h, w); ``size``, ``frame`` and ``eye_distance`` still those of the whole raster."""
        return replace(self, regions={name: m[rows, cols] for name, m in self.regions.items()},
                       skin=self.skin[rows, cols], protect=self.protect[rows, cols], face=self.face[rows, cols],
                       side=None if self.side is None else self.side[rows, cols],
                       inside=None if self.inside is None else self.inside[rows, cols])

    def union(self, weights: dict[str, float]) -> Mask:
        """Per-pixel maximum of ``weights[name] * regions[name]`` (float32, the masks' shape)."""
        out = np.zeros(self.skin.shape, np.float32)
        for name, w in weights.items():
            if w > 0 and name in self.regions:
                np.maximum(out, self.regions[name] * np.float32(w), out=out)
        return out


def _poly(points: np.ndarray, scale: float, size: int, fill: bool = True, thickness: float = 1.0) -> Mask:
    """Raster a polygon (or polyline when ``fill`` is False) given in crop pixels at ``scale``."""
    canvas = np.zeros((size, size), np.uint8)
    pts = np.round(np.asarray(points, np.float64) * scale * 16).astype(np.int32).reshape(-1, 1, 2)
    if fill:
        cv2.fillPoly(canvas, [pts], 255, lineType=cv2.LINE_AA, shift=4)
    else:
        cv2.polylines(canvas, [pts], False, 255, thickness=max(1, int(round(thickness * scale))),
                      lineType=cv2.LINE_AA, shift=4)
    return canvas.astype(np.float32) / 255.0


def _soften(mask: Mask, sigma: float) -> Mask:
    if sigma < 0.3:
        return mask
    return cv2.GaussianBlur(mask, (0, 0), sigma, borderType=cv2.BORDER_CONSTANT)


def _ellipse(center: np.ndarray, axes: tuple[float, float], frame: FaceFrame, scale: float, size: int) -> Mask:
    angle = np.degrees(np.arctan2(frame.x_axis[1], frame.x_axis[0]))
    poly = cv2.ellipse2Poly(
        (int(round(center[0] * 16)), int(round(center[1] * 16))),
        (max(1, int(round(axes[0] * 16))), max(1, int(round(axes[1] * 16)))),
        int(round(angle)), 0, 360, 10,
    )
    return _poly(poly.astype(np.float64) / 16.0, scale, size)


def _forehead_top(pts: np.ndarray, fr: FaceFrame) -> np.ndarray:
    """The forehead's estimated top edge above the brows (points 17-26), float64 (10, 2)."""
    d = fr.eye_distance
    top = pts[17:27] + fr.up * 0.95 * d
    top[:5] -= fr.x_axis * 0.08 * d
    top[5:] += fr.x_axis * 0.08 * d
    return top


def face_outline(landmarks: Points, frame: FaceFrame | None = None) -> np.ndarray:
    """The face's outline, float64 (27, 2) in the landmarks' pixels: the jaw line (points 0-16)
    and the forehead's estimated top (0.95 eye distances above the brows), a closed polygon."""
    pts = np.asarray(landmarks, np.float64)
    fr = frame if frame is not None else FaceFrame.from_landmarks(pts)
    return np.vstack([pts[0:17], _forehead_top(pts, fr)[::-1]])


def landmark_regions(
    landmarks: Points, size: int, crop_size: int
) -> tuple[dict[str, Mask], Mask, Mask, Mask, FaceFrame]:
    """Geometric masks from landmarks only (no image): regions, protect, face, neck-area, frame.

    Args:
        landmarks: float32 (68, 2) in the pixels of a ``crop_size`` crop.
        size: raster size of the returned float32 (size, size) masks.
    """
    pts = np.asarray(landmarks, np.float64)
    fr = FaceFrame.from_landmarks(pts)
    d, up, ex = fr.eye_distance, fr.up, fr.x_axis
    k = size / float(crop_size)
    soft = 0.06 * d * k  # feather of region edges, in raster pixels

    brows = pts[17:27]
    forehead_top = _forehead_top(pts, fr)
    jaw = pts[0:17]
    face = _poly(face_outline(pts, fr), k, size)

    regions: dict[str, Mask] = {}
    regions["forehead"] = _poly(np.vstack([brows + up * 0.16 * d, forehead_top[::-1]]), k, size)
    inner = 0.5 * (pts[21] + pts[22])
    regions["glabella"] = _ellipse(inner + up * 0.05 * d, (0.24 * d, 0.26 * d), fr, k, size)
    crows = np.maximum(
        _ellipse(pts[36] - ex * 0.2 * d - up * 0.02 * d, (0.2 * d, 0.24 * d), fr, k, size),
        _ellipse(pts[45] + ex * 0.2 * d - up * 0.02 * d, (0.2 * d, 0.24 * d), fr, k, size),
    )
    regions["crows_feet"] = crows
    under = []
    for lid, outer_sign in ((pts[[36, 41, 40, 39]], -1.0), (pts[[42, 47, 46, 45]][::-1], 1.0)):
        # lid runs outer corner -> inner corner for the left eye; mirrored for the right one.
        top = lid - up * 0.07 * d
        bottom = lid - up * 0.42 * d
        bottom[0] += ex * outer_sign * 0.06 * d
        under.append(_poly(np.vstack([top, bottom[::-1]]), k, size))
    regions["under_eye"] = np.maximum(*under)
    naso = []
    marion = []
    for wing, corner, sign in ((pts[31], pts[48], -1.0), (pts[35], pts[54], 1.0)):
        a = wing + ex * sign * 0.12 * d + up * 0.06 * d
        b = corner + ex * sign * 0.14 * d + up * 0.02 * d
        c = corner + ex * sign * 0.13 * d - up * 0.16 * d
        naso.append(_poly(np.vstack([a, b, c]), k, size, fill=False, thickness=0.2 * d))
        m0 = corner + ex * sign * 0.06 * d - up * 0.06 * d
        m1 = corner + ex * sign * 0.12 * d - up * 0.42 * d
        marion.append(_poly(np.vstack([m0, m1]), k, size, fill=False, thickness=0.16 * d))
    regions["nasolabial"] = np.maximum(*naso)
    regions["marionette"] = np.maximum(*marion)
    regions["skin"] = face.copy()
    regions["neck"] = neck = _neck(jaw, fr, k, size, face)

    # Protected features, dilated a little beyond the landmark contours (lashes, lip liner).
    protect = np.zeros((size, size), np.float32)
    for idx in (range(36, 42), range(42, 48)):
        eye = pts[list(idx)]
        c = eye.mean(0)
        grown = c + (eye - c) * 1.3 + np.outer(np.sign(np.dot(eye - c, up)), up) * 0.05 * d
        np.maximum(protect, _poly(grown, k, size), out=protect)
    for idx in (range(17, 22), range(22, 27)):
        np.maximum(protect, _poly(pts[list(idx)], k, size, fill=False, thickness=0.16 * d), out=protect)
    lips = pts[48:60]
    c = lips.mean(0)
    np.maximum(protect, _poly(c + (lips - c) * 1.06, k, size), out=protect)
    nostrils = np.vstack([pts[31] - ex * 0.03 * d, pts[32:35], pts[35] + ex * 0.03 * d,
                          pts[35] + up * 0.13 * d, pts[30] + up * 0.02 * d, pts[31] + up * 0.13 * d])
    np.maximum(protect, _poly(nostrils, k, size), out=protect)
    protect = np.clip(_soften(cv2.dilate(protect, disk(max(1, int(round(0.045 * d * k))))), 0.025 * d * k), 0, 1)

    face = _soften(face, soft)
    for name in regions:
        regions[name] = _soften(regions[name], soft)
    return regions, protect, face, _soften(neck, soft), fr


EYE_SURROUNDINGS = (0.45, 0.35)
"""Half-width and half-height (eye distances) of the ellipse around each eye's centre that
``around_eyes`` gives: about the lens of a pair of sunglasses."""


def around_eyes(regions: FaceRegions, landmarks: Points) -> tuple[Mask, Mask]:
    """float32 (size, size) soft ellipses around the image-left and the image-right eye
    (``EYE_SURROUNDINGS``, along the face's axes) on ``regions``' raster."""
    pts = np.asarray(landmarks, np.float64)
    fr, k = regions.frame, regions.size / float(regions.crop_size)
    axes = (EYE_SURROUNDINGS[0] * fr.eye_distance, EYE_SURROUNDINGS[1] * fr.eye_distance)
    soft = 0.06 * fr.eye_distance * k
    left, right = (_soften(_ellipse(pts[idx].mean(0), axes, fr, k, regions.size), soft)
                   for idx in (slice(36, 42), slice(42, 48)))
    return left, right


def eyes_seen(regions: FaceRegions, landmarks: Points) -> tuple[float, float]:
    """How surely each eye's surroundings are seen (image-left eye, image-right), 0..1: the mean
    skin probability (``regions.skin``) over ``around_eyes`` within the face, eyes and brows left
    out. ``landmarks``: float (68, 2) in the pixels of the crop ``regions`` were made from. On
    bare faces it measured 0.65-1.0 (0.65: a colourised portrait's shadowed eye; the far eye of a
    head turned three-quarters 0.71); around an eye behind a dark lens 0.07-0.57 (the lens is not
    skin to the skin model). Only the frame's own pixels count (``regions.inside``); 1.0 where
    there are no such pixels."""
    seen = []
    for around in around_eyes(regions, landmarks):
        if regions.inside is not None:
            around = around * regions.inside
        weight = float((around * (1.0 - regions.protect) * regions.face).sum())
        seen.append(float((regions.skin * around).sum()) / weight if weight > 1.0 else 1.0)
    return seen[0], seen[1]


EYES_HIDDEN = (0.5, 0.3)
"""``eyes_seen`` (the skin share around an eye) over which an eye counts as hidden, from not at
all to fully: bare faces measured 0.65-1.0, eyes behind dark lenses 0.07-0.57."""


def hidden_eyes(seen: tuple[float, float]) -> tuple[float, float]:
    """How surely each eye (image-left, image-right) is hidden behind a dark lens, 0..1, from
    ``eyes_seen`` (``EYES_HIDDEN``)."""
    left, right = (float(smoothstep(np.float64(v), *EYES_HIDDEN)) for v in seen)
    return left, right


# The neck below the jaw: full strength to NECK_FULL eye distances below the chin, easing to 0 at
# NECK_END (the "head" crop holds 1.2-1.6 below it; the FFHQ crop 0.2-0.5, where this is cut):
# where most of a portrait's visible neck is, and inside twice the face's detection box.
NECK_FULL, NECK_END = 0.6, 1.1
NECK_BRIGHTEST = (1.1, 1.3)
"""Luminance, relative to the face's sampled skin, over which a pixel below the face stops
passing for neck skin (``SkinColourModel.too_bright_for_neck``)."""
NECK_WIDTH = 0.8  # the band's width at its foot, as a fraction of the jaw's at points 4 / 12


def _neck(jaw: np.ndarray, fr: FaceFrame, k: float, size: int, face: Mask) -> Mask:
    """The neck area below the jaw line (float32 (size, size)): a band from jaw points 2-14 down,
    narrowing to ``NECK_WIDTH`` of the jaw's width at points 4 / 12 at its foot (beside the neck
    are hair, collars, shoulders), fading with the distance below the chin, and to 0 over the
    crop's last 4 % at every edge (an edit must not end in a straight line where the crop ends)."""
    d, up, ex = fr.eye_distance, fr.up, fr.x_axis
    chin = jaw[8]
    depth = -up * (NECK_END + 0.1) * d
    sides = [chin + ex * NECK_WIDTH * float(np.dot(jaw[i] - chin, ex)) + depth for i in (12, 4)]
    band = np.clip(_poly(np.vstack([jaw[2:15], *sides]), k, size) - face, 0, 1)
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    below = -((xs - chin[0] * k) * up[0] + (ys - chin[1] * k) * up[1]) / (d * k)
    fade = 1.0 - smoothstep(below, NECK_FULL, NECK_END)
    inside = np.minimum(xs[0], size - 1 - xs[0])  # pixels from the nearer edge, per row / column
    edge = smoothstep(np.minimum.outer(inside, inside) + 0.5, 0.0, 0.04 * size)
    return (band * fade * edge).astype(np.float32)


def smoothstep(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """0 below ``lo``, 1 above ``hi``, a smooth cubic between (float32 like ``x``)."""
    t = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def disk(radius: int) -> np.ndarray:
    """A filled disk of ``radius`` pixels, uint8 (2r+1, 2r+1): the structuring element of every
    grey-level erosion, dilation and closing on masks and faces here."""
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def padded_box(mask: np.ndarray, above: float, pad: int) -> tuple[slice, slice] | None:
    """Rows and columns (slices) of the box where ``mask`` (2-D) exceeds ``above``, grown by
    ``pad`` pixels on every side and cut to the array; None where it nowhere does (work done only
    where a soft mask reaches, with room for a filter of that reach)."""
    rows, cols = np.nonzero(mask > above)
    if rows.size == 0:
        return None
    height, width = mask.shape[:2]
    return (slice(max(rows.min() - pad, 0), min(rows.max() + pad + 1, height)),
            slice(max(cols.min() - pad, 0), min(cols.max() + pad + 1, width)))


def weighted_blur(image: np.ndarray, weight: Mask, sigma: float) -> np.ndarray:
    """Normalised Gaussian blur of float32 (R, R) or (R, R, C) ``image`` over the pixels where
    ``weight`` (float32 (R, R) >= 0) is high: each pixel gets the mean of its weighted
    neighbourhood (the skin's colour around a feature, say), whatever the pixel itself holds."""
    w = np.ascontiguousarray(weight, np.float32)
    wi = image * (w[..., None] if image.ndim == 3 else w)
    num = cv2.GaussianBlur(wi, (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)
    den = np.maximum(cv2.GaussianBlur(w, (0, 0), sigma, borderType=cv2.BORDER_REPLICATE), np.float32(1e-4))
    return num / (den[..., None] if image.ndim == 3 else den)


@dataclass(frozen=True)
class SkinColourModel:
    """Robust model of one face's skin colour.

    Features per pixel: log-chromaticity ``log(R/G)``, ``log(B/G)`` (insensitive to how brightly
    the skin is lit) and luminance ``Y``. Skin is where the chromaticity lies within a robust
    ellipse around the sampled median and the pixel is not much darker than the sampled skin
    (hair, beards, glasses frames and nostrils are darker; highlights are not penalised).

    Attributes:
        chroma_median: float32 (2,) median log-chromaticity of the sample.
        chroma_spread: float32 (2,) robust spread (1.4826 MAD, widened, with floors).
        luma_median: median luminance of the sample, 0..1.
    """

    chroma_median: np.ndarray
    chroma_spread: np.ndarray
    luma_median: float

    @staticmethod
    def features(image: np.ndarray) -> np.ndarray:
        """float32 (R, R, 3) features (log R/G, log B/G, luminance) of an RGB float [0, 1] image."""
        f = image.astype(np.float32) + np.float32(0.02)
        out = np.empty(image.shape[:2] + (3,), np.float32)
        out[..., 0] = np.log(f[..., 0] / f[..., 1])
        out[..., 1] = np.log(f[..., 2] / f[..., 1])
        out[..., 2] = image[..., 0] * 0.299 + image[..., 1] * 0.587 + image[..., 2] * 0.114
        return out

    @classmethod
    def fit(cls, features: np.ndarray, sample: Mask) -> SkinColourModel:
        """Fit to ``features`` (see ``features``) where ``sample`` > 0.5."""
        pix = features[sample > 0.5]
        if len(pix) < 16:
            pix = features.reshape(-1, 3)
        med = np.median(pix, axis=0)
        mad = np.median(np.abs(pix - med), axis=0) * 1.4826
        # Floors: compression, grain, make-up and coloured light spread skin chromaticity more than
        # a small sample shows; shadowed skin is more saturated than lit skin.
        spread = np.maximum(mad[:2] * 2.0, np.array([0.05, 0.07]))
        return cls(med[:2].astype(np.float32), spread.astype(np.float32), float(max(med[2], 0.02)))

    def probability(self, features: np.ndarray) -> Mask:
        """Soft skin probability float32 (R, R) in [0, 1] for (R, R, 3) ``features``."""
        z = (features[..., :2] - self.chroma_median) / self.chroma_spread
        d2 = np.einsum("...c,...c->...", z, z)
        chroma = np.clip(1.5 - 0.125 * d2, 0.0, 1.0)
        # Darker than ~40 % of the skin's luminance is not skin (hair, beard, frames, nostrils).
        ratio = features[..., 2] / self.luma_median
        luma = np.clip((ratio - 0.3) / 0.25, 0.0, 1.0)
        return (chroma * luma).astype(np.float32)

    def too_bright_for_neck(self, features: np.ndarray) -> Mask:
        """float32 (R, R) in [0, 1]: how surely a pixel is too bright to be neck skin, 1 from
        ``NECK_BRIGHTEST[1]`` times the face's sampled skin. Below the face a white collar or a
        light shirt or sweater is what most often passes the colour test, and a neck lies in the
        chin's shadow. (A tighter chromaticity there left an older neck's creases unsoftened: 86 %
        of their depth kept, against 81 %.)"""
        return smoothstep(features[..., 2] / np.float32(self.luma_median), *NECK_BRIGHTEST)


def rgb_to_lab(image: Image | np.ndarray) -> np.ndarray:
    """RGB uint8 or float32 [0, 1] (H, W, 3) -> float32 CIE Lab (L 0..100, a, b about -128..127)."""
    img = image.astype(np.float32) / 255.0 if image.dtype == np.uint8 else image.astype(np.float32)
    return cv2.cvtColor(img, cv2.COLOR_RGB2Lab)


def skin_sample_mask(frame: FaceFrame, landmarks: Points, size: int, crop_size: int) -> Mask:
    """Where to sample skin colour: mid cheeks and the lower nose bridge (float32 (size, size))."""
    pts = np.asarray(landmarks, np.float64)
    d = frame.eye_distance
    return _disks(np.zeros((size, size), np.float32), size / float(crop_size), (
        (0.5 * (pts[2] + pts[31]) + frame.up * 0.1 * d, 0.16 * d),
        (0.5 * (pts[14] + pts[35]) + frame.up * 0.1 * d, 0.16 * d),
        (pts[29], 0.07 * d),
    ))


def skin_seed_mask(frame: FaceFrame, landmarks: Points, size: int, crop_size: int) -> Mask:
    """Places that are the face's own skin whenever they are skin-coloured: the cheek and nose
    sample, the glabella between the brows and the throat below the chin (float32 (size, size))."""
    pts = np.asarray(landmarks, np.float64)
    d = frame.eye_distance
    return _disks(skin_sample_mask(frame, landmarks, size, crop_size), size / float(crop_size), (
        (0.5 * (pts[21] + pts[22]) + frame.up * 0.12 * d, 0.06 * d),
        (pts[8] - frame.up * 0.3 * d, 0.08 * d),
    ))


def upper_skin_sample_mask(frame: FaceFrame, landmarks: Points, size: int, crop_size: int) -> Mask:
    """Skin a face mask or a scarf leaves visible: between the brows and the top of the nose's
    bridge (float32 (size, size))."""
    pts = np.asarray(landmarks, np.float64)
    d = frame.eye_distance
    return _disks(np.zeros((size, size), np.float32), size / float(crop_size), (
        (0.5 * (pts[21] + pts[22]) + frame.up * 0.14 * d, 0.1 * d),
        (0.5 * (pts[27] + pts[28]), 0.09 * d),
    ))


def _disks(out: Mask, k: float, disks: tuple[tuple[np.ndarray, float], ...]) -> Mask:
    """``out`` with filled disks of 1 drawn on it: (centre, radius) in crop pixels, scaled by ``k``
    to the raster (at least 1 pixel across)."""
    for centre, r in disks:
        cv2.circle(out, tuple(int(round(v * k)) for v in centre), max(1, int(round(r * k))), 1.0, -1)
    return out


COVER_REDNESS_GAP = (0.04, 0.08)
"""How much less red (log R/G) than the skin between the brows the cheek sample is where a cover
starts to count, and counts in full. Uncovered cheeks are about as red or redder (by -0.19 to
+0.06 over 20 faces of all skin tones, old and young, some with beards); white, blue and green
face masks read 0.09 to 0.7 less red."""
COVER_DARKER = (0.5, 0.4)
"""...or how dark (luminance ratio to the skin between the brows) it is where a cover starts to
count and counts in full: a black mask (0.26-0.31; uncovered cheeks 0.78-1.16)."""
COVER_MOST_RED = (0.11, 0.08)
"""And only where the cheek sample is not skin-red: its log R/G where a cover starts to count and
counts in full (white, black, blue and green masks read -0.33 to 0.07, uncovered cheeks 0.115
and more), so a ruddy glabella or a beard never makes a bare face count as covered (which would
take its cheeks for the cover)."""


def lower_face_cover(features: np.ndarray, cheeks: np.ndarray, upper: np.ndarray) -> float:
    """How surely something not skin covers the cheeks and mouth (a face mask, a scarf), 0..1:
    the cheek sample (``skin_sample_mask``) is not skin-red (``COVER_MOST_RED``) and is far less
    red (``COVER_REDNESS_GAP``) or far darker (``COVER_DARKER``) than the skin between the brows
    and on the nose's bridge (``upper_skin_sample_mask``). Soft, so that a near call does not
    switch between frames of a clip. A bare face gives 0.

    ``features``: ``SkinColourModel.features`` (R, R, 3); ``cheeks``, ``upper``: bool (R, R).
    A black-and-white picture of a white mask is not told apart (no colour, similar lightness).
    """
    if cheeks.sum() < 16 or upper.sum() < 8:
        return 0.0
    low, high = np.median(features[cheeks], axis=0), np.median(features[upper], axis=0)
    not_skin = float(smoothstep(low[0], *COVER_MOST_RED))
    return not_skin * max(float(smoothstep(high[0] - low[0], *COVER_REDNESS_GAP)),
                          float(smoothstep(low[2] / max(high[2], 1e-3), *COVER_DARKER)))


def _unlike_cover(features: np.ndarray, skin_chroma: np.ndarray, cover_chroma: np.ndarray) -> Mask:
    """float32 (R, R) in [0, 1]: 1 where a pixel's chromaticity is nearer the skin's than the
    cover's, 0 where nearer the cover's (all 1 when the two are too alike to tell apart: a black
    mask, which the skin model's lightness test leaves out)."""
    if float(np.hypot(*(skin_chroma - cover_chroma))) < 0.06:
        return np.ones(features.shape[:2], np.float32)
    to_skin = np.einsum("...c,...c->...", features[..., :2] - skin_chroma, features[..., :2] - skin_chroma)
    to_cover = np.einsum("...c,...c->...", features[..., :2] - cover_chroma, features[..., :2] - cover_chroma)
    return smoothstep((to_cover / (to_cover + to_skin + np.float32(1e-6))).astype(np.float32), 0.35, 0.65)


def _lower_visible(skin: Mask, face: Mask, keep: Mask, frame: FaceFrame, landmarks: np.ndarray,
                   size: int, crop_size: int) -> float:
    """Share of the face below the nose's tip (features cut out) that ``skin`` finds, 0..1."""
    k = size / float(crop_size)
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    tip = landmarks[30] * k
    below = -((xs - tip[0]) * frame.up[0] + (ys - tip[1]) * frame.up[1]) > 0.1 * frame.eye_distance * k
    weight = face * keep * below
    total = float(weight.sum())
    return float((skin * weight).sum() / total) if total > 0 else 0.0


def connected_to_face(skin: Mask, seeds: Mask, eye_distance_px: float) -> Mask:
    """1 where skin-coloured pixels join the face's own skin, 0 on separate skin-coloured islands.

    A skin-coloured badge on a cap, a tan leather strap or a skin-toned background patch inside
    the face's outline is cut off from the cheeks by something that is not skin; the face's skin,
    even with glasses frames or strands of hair across it, is not (gaps up to 0.1 eye distances
    are bridged). Returns float32 (R, R) in [0, 1] (softened edges) for ``skin`` (R, R) in [0, 1],
    ``seeds`` (R, R) where the face's own skin is (see ``skin_seed_mask``).
    """
    binary = (skin > 0.35).astype(np.uint8)
    if not binary.any():
        return np.ones_like(skin, np.float32)
    radius = max(1, int(round(0.05 * eye_distance_px)))
    grown = cv2.dilate(binary, disk(radius))
    count, labels = cv2.connectedComponents(grown, connectivity=8)
    seeded = np.unique(labels[(seeds > 0.5) & (grown > 0)])
    seeded = seeded[seeded > 0]
    if count <= 2 or len(seeded) == 0:
        # One island, or the seeds are not skin-coloured at all (a mask, face paint, harsh
        # coloured light): nothing to decide between.
        return np.ones_like(skin, np.float32)
    keep = np.isin(labels, seeded).astype(np.float32)
    return np.clip(_soften(keep, 0.5 * radius), 0, 1).astype(np.float32)


def face_regions(
    image: Image,
    landmarks: Points,
    size: int | None = None,
    *,
    parsing: dict[str, Mask] | None = None,
    small: np.ndarray | None = None,
    inside: Mask | None = None,
) -> FaceRegions:
    """Region masks of the face in an aligned crop.

    Args:
        image: RGB uint8 (S, S, 3), the aligned crop the landmarks belong to.
        landmarks: float32 (68, 2) iBUG landmarks in crop pixels.
        size: raster size of the masks (default S); masks are smooth, so S/2 or S/4 is typical.
        parsing: optional learned-parser masks (name -> float32 (S, S) or any square size),
            replacing the skin-colour model (see the module docstring).
        small: optional smaller copy of ``image`` (RGB, float32 [0, 1] or uint8) to sample colours
            from; resized as needed.
        inside: float32 (R, R) at any square raster, 1 where the crop holds the frame's own
            pixels, 0 where it reaches past the frame's edges and holds the frame mirrored
            (``deage.face.align.frame_coverage``); None: all of it does. Mirrored pixels are
            neither sampled for the skin's colour nor skin in any mask (a tuft of hair at the
            frame's edge and its mirror image made a dark spot in a close-up's skin).

    Returns:
        FaceRegions at ``size``.

    Raises:
        DeageError: the image is not a square RGB uint8 crop or the landmarks are not (68, 2).
    """
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3 \
            or image.shape[0] != image.shape[1]:
        raise DeageError(f"face_regions needs a square RGB uint8 crop, got {getattr(image, 'shape', None)} "
                         f"{getattr(image, 'dtype', None)}")
    lm = np.asarray(landmarks, np.float32)
    if lm.shape != (68, 2) or not np.isfinite(lm).all():
        raise DeageError(f"face_regions needs 68 finite (x, y) landmarks, got shape {lm.shape}")
    crop_size = image.shape[0]
    size = int(size or crop_size)
    # Masks are smooth: raster them at half size (4x fewer pixels to blur) and upsample.
    raster = size // 2 if size >= 160 else size
    regions, protect, face, neck, fr = landmark_regions(lm, raster, crop_size)
    if small is None or small.shape[0] != raster:
        src = small if small is not None else image
        small = cv2.resize(src, (raster, raster), interpolation=cv2.INTER_AREA)
    if small.dtype == np.uint8:
        small = small.astype(np.float32) / 255.0
    px = fr.eye_distance * raster / crop_size  # eye distance in raster pixels
    seen = None if inside is None else cv2.resize(np.asarray(inside, np.float32), (raster, raster),
                                                  interpolation=cv2.INTER_AREA)
    sample = skin_sample_mask(fr, lm, raster, crop_size) * (1.0 - protect)
    if seen is not None and float((sample * seen > 0.5).sum()) >= 16:  # else keep the mirrored sample
        sample = sample * seen
    sampled = sample > 0.5
    # Features of a blurred copy: thin wrinkles, pores and small spots must not read as "not
    # skin"; hair, beards and frames are larger than the blur.
    feats = SkinColourModel.features(cv2.GaussianBlur(small, (0, 0), max(0.5, 0.025 * px)))
    upper = (upper_skin_sample_mask(fr, lm, raster, crop_size) * (1.0 - protect)) > 0.5
    # How surely a mask or a scarf covers the lower face (0 on a bare face): then the skin is also
    # learnt where the cover leaves it, between the brows and on the nose's bridge, and the two
    # results are mixed by that weight (no jump between frames where a pale mask is a near call).
    cover = lower_face_cover(feats, sampled, upper)
    side = face_side(fr, raster, crop_size)
    reference, halves = _references(small, sampled, side)
    if cover > 0:
        reference, halves = _mixed_references((reference, halves), _references(small, upper, side), cover)
    area = np.maximum(face, neck)
    if seen is not None:
        area = area * seen
    if parsing:
        skin = _parser_skin(parsing, raster, area, neck)
        feature = _resized_max(parsing, _FEATURE_CLASSES, raster)
        if feature is not None:
            protect = np.maximum(protect, _soften(feature, 0.02 * px))
    else:
        below = np.clip(neck - face, 0.0, 1.0)  # the neck, where clothing passes for skin most often
        seeds = skin_seed_mask(fr, lm, raster, crop_size)
        skin = _colour_skin(feats, sample, below, area, seeds, px) if cover < 1 else None
        if cover > 0:
            # A pale mask passes the colour test on pale skin: what is nearer its colour is not skin.
            covered = _colour_skin(feats, upper.astype(np.float32), below, area, seeds, px,
                                   cover_chroma=np.median(feats[sampled], axis=0)[:2])
            skin = covered if skin is None else skin + np.float32(cover) * (covered - skin)
    keep = (1.0 - protect).astype(np.float32)
    skin = (np.clip(skin, 0, 1) * keep * area).astype(np.float32)
    lower_visible = _lower_visible(skin, face, keep, fr, lm, raster, crop_size) if cover > 0 else None
    gated = {name: m * skin for name, m in regions.items()}
    if raster != size:
        def up(m: Mask) -> Mask:
            return cv2.resize(m, (size, size), interpolation=cv2.INTER_LINEAR)

        gated = {name: up(m) for name, m in gated.items()}
        skin, protect, face, side = up(skin), up(protect), up(face), up(side)
        seen = None if seen is None else up(seen)
    return FaceRegions(size=size, regions=gated, skin=skin, protect=protect, face=face, frame=fr, crop_size=crop_size,
                       skin_reference=reference,
                       side=side, side_references=halves if reference is not None else None,
                       cover=cover, lower_visible=lower_visible, inside=seen)


def _colour_skin(feats: np.ndarray, sample: Mask, below: Mask, area: Mask, seeds: Mask, px: float,
                 cover_chroma: np.ndarray | None = None) -> Mask:
    """Skin probability (R, R) from a ``SkinColourModel`` fitted where ``sample`` > 0.5, kept
    where it joins ``seeds``; with ``cover_chroma``, what is nearer that colour than the skin's
    is not skin."""
    model = SkinColourModel.fit(feats, sample)
    likely = model.probability(feats) * (1.0 - below * model.too_bright_for_neck(feats))
    if cover_chroma is not None:
        likely = likely * _unlike_cover(feats, model.chroma_median, cover_chroma)
    skin = _soften(likely, 0.015 * px)
    return skin * connected_to_face(skin * area, seeds, px)


def _references(small: np.ndarray, sampled: np.ndarray, side: Mask) -> tuple[np.ndarray | None, tuple]:
    """Median Lab of the ``sampled`` pixels of ``small``, and of its image-left and right halves."""
    return _median_lab(small[sampled]), tuple(_median_lab(small[sampled & half]) for half in (side < 0.5, side >= 0.5))


def _mixed_references(bare: tuple, covered: tuple, weight: float) -> tuple[np.ndarray | None, tuple]:
    """``bare`` and ``covered`` (reference, halves) mixed by ``weight`` (one alone where the other is None)."""
    def mix(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
        if a is None or b is None:
            return b if a is None else a
        return (a + np.float32(weight) * (b - a)).astype(np.float32)

    return mix(bare[0], covered[0]), tuple(mix(a, b) for a, b in zip(bare[1], covered[1]))


def _median_lab(pixels: np.ndarray) -> np.ndarray | None:
    """float32 (3,) median CIE Lab of float RGB [0, 1] pixels (N, 3); None for fewer than 16."""
    return np.median(rgb_to_lab(pixels[None]), axis=(0, 1)).astype(np.float32) if len(pixels) >= 16 else None


def face_side(frame: FaceFrame, size: int, crop_size: int) -> Mask:
    """float32 (size, size) in [0, 1]: 0 on the face's image-left half, 1 on its right half,
    easing over 0.1 eye distances either side of its middle (the line through the point between
    the eyes, perpendicular to the line joining them)."""
    k = size / float(crop_size)
    middle = 0.5 * (frame.left_eye + frame.right_eye) * k
    steps = np.arange(size, dtype=np.float32)
    across = np.add.outer((steps - middle[1]) * frame.x_axis[1], (steps - middle[0]) * frame.x_axis[0])
    return smoothstep((across / np.float32(frame.eye_distance * k)).astype(np.float32), -0.1, 0.1)


def _resized_max(parsing: dict[str, Mask], names: tuple[str, ...], size: int) -> Mask | None:
    out = None
    for name in names:
        m = parsing.get(name)
        if m is None:
            continue
        m = np.asarray(m, np.float32)
        if m.ndim != 2 or m.shape[0] != m.shape[1]:
            raise DeageError(f"parser mask {name!r} must be square (S, S), got {m.shape}")
        if m.shape[0] != size:
            m = cv2.resize(m, (size, size), interpolation=cv2.INTER_AREA if m.shape[0] > size else cv2.INTER_LINEAR)
        out = m if out is None else np.maximum(out, m)
    return out


def _parser_skin(parsing: dict[str, Mask], size: int, area: Mask, neck: Mask) -> Mask:
    skin = _resized_max(parsing, _SKIN_CLASSES, size)
    if skin is None:
        raise DeageError(f"parser masks have no 'skin' class (got {sorted(parsing)})")
    neck_p = _resized_max(parsing, _NECK_CLASSES, size)
    if neck_p is not None:
        skin = np.maximum(skin, neck_p * (neck > 0.01))
    occluder = _resized_max(parsing, _OCCLUDER_CLASSES, size)
    if occluder is not None:
        # Independent sigmoids often overlap at edges: anything likelier than not hair, glasses
        # or clothing is out.
        skin = skin * (1.0 - np.clip((occluder - 0.25) / 0.25, 0.0, 1.0))
    return np.clip(skin, 0, 1).astype(np.float32)
