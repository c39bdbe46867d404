"""Feature contrast: more defined lips, clearer whites of the eyes, whiter teeth.

Age cues found across populations: the contrast between the lips and the skin around them falls
with age (lips grow paler and closer to the skin's colour), the sclera grows darker, yellower and
redder, and teeth yellow and darken. They are put back a little: the lips move further from the
skin's own colour (redder, and further in lightness in whichever direction they already differ,
so dark and light skin alike); the sclera and the teeth lose part of their yellow (and the
sclera its red) and gain a little light. All are smooth colour shifts under the feature's own
texture: lip lines, lashes, veins, catch-lights and the gaps between teeth keep their detail.

Works on the editor's working-resolution crop: RGB float32 [0, 1] (W, W, 3), landmarks in crop
pixels scaled to W. The changes are additive RGB (float32 (W, W, 3)).
"""

from __future__ import annotations

import cv2
import numpy as np

from deage.edit.makeup.creases import smoothstep
from deage.face.masks import FaceRegions, rgb_to_lab
from deage.types import Mask, Points

LIP_LIGHTNESS_MAX = 6.0
"""Largest change of the lips' lightness (CIE L, 0..100) at full strength."""
LIP_REDNESS_MAX = 8.0
"""Largest added redness of the lips (CIE a*) at full strength."""
SCLERA_LIFT = 3.0
"""Lightness (CIE L) added to the whites of the eyes at full strength."""
SCLERA_NEUTRAL = 0.45
"""Fraction of the whites' yellow and red (positive a*, b*) taken out at full strength..."""
SCLERA_CAST_MAX = 4.0
"""... but no more than this many units of a* or b*."""
TEETH_LIFT = 3.0
"""Lightness (CIE L) added to the teeth at full strength."""
TEETH_NEUTRAL = 0.35
"""Fraction of the teeth's yellow (and the little red they have) taken out at full strength..."""
TEETH_CAST_MAX = 5.0
"""... but no more than this many units of a* or b*: teeth stay ivory, never blue-white."""


def _polygon(points: np.ndarray, shape: tuple[int, int]) -> Mask:
    canvas = np.zeros(shape, np.uint8)
    pts = np.round(np.asarray(points, np.float64) * 16).astype(np.int32).reshape(-1, 1, 2)
    cv2.fillPoly(canvas, [pts], 255, lineType=cv2.LINE_AA, shift=4)
    return canvas.astype(np.float32) / np.float32(255.0)


def lip_mask(landmarks: Points, shape: tuple[int, int]) -> Mask:
    """The lips' red part (outer lip contour minus the mouth opening), float32 ``shape`` (H, W)
    in [0, 1], for landmarks (68, 2) in pixels of that raster."""
    lm = np.asarray(landmarks, np.float64)
    return np.clip(_polygon(lm[48:60], shape) - _polygon(lm[60:68], shape), 0.0, 1.0)


def eye_openings(landmarks: Points, shape: tuple[int, int], shrink: float = 0.9) -> Mask:
    """Both eyes' lid openings, drawn ``shrink`` times their size about their centres so lashes
    and lid margins stay out, float32 ``shape`` (H, W) in [0, 1]."""
    lm = np.asarray(landmarks, np.float64)
    return np.maximum(_shrunk_polygon(lm[36:42], shrink, shape), _shrunk_polygon(lm[42:48], shrink, shape))


def mouth_opening(landmarks: Points, shape: tuple[int, int], shrink: float = 0.9) -> Mask:
    """The mouth's opening (inner lip contour), drawn ``shrink`` times its size about its centre so
    the lips' inner edge stays out, float32 ``shape`` (H, W) in [0, 1]; empty when closed."""
    return _shrunk_polygon(np.asarray(landmarks, np.float64)[60:68], shrink, shape)


def _shrunk_polygon(points: np.ndarray, shrink: float, shape: tuple[int, int]) -> Mask:
    """The polygon ``points`` drawn ``shrink`` times its size about its centre (``_polygon``)."""
    c = points.mean(0)
    return _polygon(c + (points - c) * shrink, shape)


def _whiten(lab: np.ndarray, opening: Mask, strength: float, lift: float, neutral: float, cap: float,
            gate: Mask | None = None) -> tuple[np.ndarray, Mask]:
    """Lab change (float32 (H, W, 3)) that lightens and neutralises the light part of ``opening``
    (the whites of the eyes, the teeth: the opening's top decile of lightness and what is near
    it; iris, pupil and mouth cavity are darker), and the weight it acts with. ``gate``, in
    [0, 1], further limits which pixels count as white."""
    adj = np.zeros_like(lab)
    inside = opening > 0.5
    if inside.sum() < 8:
        return adj, np.zeros(opening.shape, np.float32)
    light = lab[..., 0]
    top = float(np.percentile(light[inside], 90))
    white = smoothstep(light, 0.7 * top, 0.9 * top) * opening
    if gate is not None:
        white = white * gate
    k = np.float32(strength) * white
    adj[..., 0] += np.float32(lift) * k
    # At most a few units: behind tinted glasses or in coloured light the whole feature is
    # tinted, and the whites must stay with it.
    cast = np.minimum(np.maximum(lab[..., 1:], 0.0) * np.float32(neutral), np.float32(cap))
    adj[..., 1:] -= k[..., None] * cast
    return adj, white.astype(np.float32)


def feature_delta(
    small: np.ndarray, landmarks: Points, regions: FaceRegions, *, lips: float, eyes: float, teeth: float = 0.0
) -> tuple[np.ndarray, Mask]:
    """Additive RGB change (float32 (W, W, 3)) and where it acts (float32 (W, W) in [0, 1]).

    Args:
        small: float32 RGB [0, 1] (W, W, 3), the crop at working resolution.
        landmarks: float32 (68, 2) in pixels of the crop ``regions`` came from (size
            ``regions.crop_size``).
        regions: the face's regions at size W; its ``skin_reference`` is the skin colour the
            lips are contrasted with (no change to the lips without one).
        lips, eyes, teeth: strengths in [0, 1].
    """
    w = small.shape[0]
    delta = np.zeros_like(small, dtype=np.float32)
    acting = np.zeros((w, w), np.float32)
    if max(lips, eyes, teeth) <= 0:
        return delta, acting
    lm = np.asarray(landmarks, np.float64) * (w / float(regions.crop_size))
    d = regions.eye_distance
    soft = max(0.5, 0.015 * d)
    # Everything happens in the box around the eyes and lips (a fifth of the crop).
    pad = 0.1 * d + 3.0 * soft
    x0, y0 = np.maximum(np.floor(lm[36:68].min(0) - pad), 0).astype(int)
    x1, y1 = np.minimum(np.ceil(lm[36:68].max(0) + pad) + 1, w).astype(int)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return delta, acting
    lm = lm - (x0, y0)
    box = (y1 - y0, x1 - x0)
    sub = np.ascontiguousarray(small[y0:y1, x0:x1])
    lab = rgb_to_lab(sub)
    adj = np.zeros_like(lab)
    act = np.zeros(box, np.float32)

    ref = regions.skin_reference
    if lips > 0 and ref is not None:
        shape = lip_mask(lm, box)
        inside = shape > 0.5
        if inside.sum() >= 16:
            median = np.median(lab[inside], axis=0)
            # Lip is what has about the lips' own colour: teeth, a beard or a moustache over the
            # lip line keep theirs.
            spread = np.maximum(1.4826 * np.median(np.abs(lab[inside][:, 1:] - median[1:]), axis=0), 3.0)
            z = (lab[..., 1:] - median[1:]) / spread.astype(np.float32)
            own = np.clip(1.5 - 0.125 * np.einsum("...c,...c->...", z, z), 0.0, 1.0)
            weight = cv2.GaussianBlur(cv2.erode(shape, np.ones((3, 3), np.uint8)), (0, 0), soft) * own
            # Away from the skin's colour, by half the lips' own difference, less where it is
            # large already (lipstick): in lightness whichever way they differ, in redness only
            # towards red.
            diff_l, diff_a = float(median[0] - ref[0]), float(median[1] - ref[1])
            room_l = 1.0 - float(smoothstep(np.float32(abs(diff_l)), 20.0, 40.0))
            room_a = 1.0 - float(smoothstep(np.float32(abs(diff_a)), 12.0, 30.0))
            dl = np.clip(0.5 * lips * diff_l * room_l, -LIP_LIGHTNESS_MAX * lips, LIP_LIGHTNESS_MAX * lips)
            da = np.clip(0.5 * lips * diff_a * room_a, 0.0, LIP_REDNESS_MAX * lips)
            adj[..., 0] += np.float32(dl) * weight
            adj[..., 1] += np.float32(da) * weight
            np.maximum(act, weight * np.float32(lips), out=act)

    if eyes > 0:
        # A blue iris is light but blue, and blue is not taken out.
        change, white = _whiten(lab, eye_openings(lm, box), eyes, SCLERA_LIFT, SCLERA_NEUTRAL, SCLERA_CAST_MAX)
        adj += change
        np.maximum(act, white * np.float32(eyes), out=act)

    if teeth > 0:
        # Teeth are yellowish (b* above a*); a tongue or gums in the top decile of a mouth
        # without teeth showing are red, and keep their colour.
        gate = smoothstep(lab[..., 2] - lab[..., 1], -2.0, 4.0)
        change, white = _whiten(lab, mouth_opening(lm, box), teeth, TEETH_LIFT, TEETH_NEUTRAL, TEETH_CAST_MAX,
                                gate=gate)
        adj += change
        np.maximum(act, white * np.float32(teeth), out=act)

    if act.max() > 0:
        change = cv2.cvtColor(lab + adj, cv2.COLOR_Lab2RGB) - sub
        delta[y0:y1, x0:x1] = change * (act > 0)[..., None]
        acting[y0:y1, x0:x1] = act
    return delta, acting
