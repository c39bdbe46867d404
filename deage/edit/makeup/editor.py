"""The embedded digital-makeup de-ager: texture, tone and shape operations on an aligned crop."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import cv2
import numpy as np

from deage.edit.base import EditResult, Retouch
from deage.edit.makeup.params import MakeupParams, MakeupSettings
from deage.edit.makeup.shape import shape_flow
from deage.edit.makeup.creases import cheeks, find_creases, lower_face, silhouette
from deage.edit.makeup.features import feature_delta
from deage.edit.makeup.texture import luminance, wrinkle_delta
from deage.edit.makeup.tone import hair_darkness, tone_delta
from deage.errors import DeageError, LookError, NoFaceError
from deage.face.align import affine_scale, frame_coverage
from deage.face.crossing_edges import crossing_edges, edge_mask
from deage.face.glasses import find_glasses
from deage.face.learned_masks import SHIELD, still_flow
from deage.face.masks import (FaceFrame, FaceRegions, around_eyes, eyes_seen, face_outline, face_regions,
                               hidden_eyes, smoothstep)
from deage.types import AlignedFace, Mask

# Regions whose deep folds (broad shading, not just fine lines) are softened too.
FOLD_REGIONS = ("nasolabial", "marionette", "under_eye", "glabella")
# Regions whose hollows (the broad shadows of sagging tissue) are lifted.
HOLLOW_REGIONS = ("nasolabial", "marionette", "under_eye")


class MakeupEditor:
    """Digital makeup from well-understood operations, no weights.

    Per face: region masks from the landmarks and a skin-colour model (``deage.face.masks``),
    wrinkle and fold softening by frequency separation (``texture``), tone corrections (``tone``),
    lip and eye-white contrast (``features``) and a bounded landmark-driven warp (``shape``). The
    skin work runs at a working resolution of at most ``work_size`` pixels across the crop, and
    never finer than the face's own resolution in the frame (an upsampled small face is worked at
    its native size), so the finest detail, pores and film grain, passes through untouched.

    It edits faces in the ``"head"`` crop (``template``; ``deage.face.align``): the FFHQ crop zoomed
    out to 0.8, so the neck below the chin is retouched with the face and the edit fades out on the
    neck, well inside the crop (the FFHQ crop ends 0.2-0.5 eye distances below the chin, where an
    edit of an older neck stopped at a straight line). ``work_size`` 320 across it keeps the face
    at the resolution 256 gave it in the FFHQ crop. Any square crop with landmarks can be edited.

    The editor keeps no state between calls: ``edit`` is a pure function of its arguments.
    """

    name = "makeup"
    template = "head"

    def __init__(self, work_size: int = 320, flow_grid: int = 40, min_work_size: int = 120) -> None:
        if not 64 <= min_work_size <= work_size <= 1024:
            raise ValueError(f"need 64 <= min_work_size <= work_size <= 1024, got {min_work_size}, {work_size}")
        self.work_size = int(work_size)
        self.min_work_size = int(min_work_size)
        self.flow_grid = int(flow_grid)

    def working_size(self, aligned: AlignedFace) -> int:
        """Working resolution W for this crop: ``work_size``, or the face's native size if smaller;
        a multiple of 4 where the crop allows (the skin window's grids, ``_skin_window``)."""
        size = aligned.size
        scale = affine_scale(aligned.matrix)
        factor = max(size / self.work_size, scale, 1.0)
        work = int(np.clip(round(size / factor), min(self.min_work_size, size), min(self.work_size, size)))
        return work if work < 8 else work // 4 * 4

    def edit(
        self,
        aligned: AlignedFace,
        params: MakeupParams | dict[str, Any] | None = None,
        parsing: dict[str, Mask] | None = None,
    ) -> EditResult:
        """De-age one aligned face.

        Args:
            aligned: the face at a canonical crop, with 68 landmarks in crop pixels.
            params: ``MakeupParams`` (or its dict form); default ``MakeupParams()``.
            parsing: optional learned-parser masks replacing the skin-colour model
                (see ``deage.face.masks``).

        Returns:
            EditResult with the edited crop, the mask of where it changed things, the edit as a
            ``Retouch`` (for compositing at frame resolution) and review layers ("wrinkles",
            "folds", "tone", "contrast" (lips, eye whites, teeth), "skin", "protect"; "creases": valley
            depth on skin, 1 = 25 % deep; "features": what the skin operations leave alone,
            frames, lash lines, moles; "hair": what is not skin above the brows and the darkness
            that runs on from it into the skin, thin hair at the hairline and temples, which is
            neither filled nor lifted, ``tone.hair_darkness``) at working resolution.

        Raises:
            NoFaceError: the aligned face has no 68 landmarks.
            DeageError: the crop is not a square RGB uint8 image.
            LookError: ``params`` is a dict with bad keys or values, or has a ``target_age``
                (unresolved: see ``MakeupParams.for_apparent_age``).
        """
        image = aligned.image
        if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3 \
                or image.shape[0] != image.shape[1]:
            raise DeageError(f"the makeup editor needs a square RGB uint8 crop, got {getattr(image, 'shape', None)}")
        if aligned.landmarks is None or np.asarray(aligned.landmarks).shape != (68, 2):
            raise NoFaceError("the makeup editor needs 68 landmarks on the face; run a landmarker first")
        if params is None:
            params = MakeupParams()
        elif isinstance(params, dict):
            params = MakeupParams.from_dict(params)
        elif not isinstance(params, MakeupParams):
            raise LookError(f"makeup: expected MakeupParams, got {type(params).__name__}")
        if params.target_age is not None:
            raise LookError("makeup: target_age depends on how old each face looks; resolve it per face with "
                            "params.for_apparent_age(age) (deage.render.FrameRenderer does)")
        settings = params.resolve()
        size = aligned.size
        if settings.is_identity:
            return EditResult(image=image.copy(), mask=np.zeros((size, size), np.float32))

        retouch, support, layers = self.retouch(aligned, settings, parsing)
        mask = cv2.resize(support, (size, size), interpolation=cv2.INTER_LINEAR)
        return EditResult.from_retouch(image, retouch, np.clip(mask, 0, 1), layers)

    def retouch(
        self, aligned: AlignedFace, settings: MakeupSettings, parsing: dict[str, Mask] | None = None
    ) -> tuple[Retouch, Mask, dict[str, Mask]]:
        """The edit as a ``Retouch``, its support mask and review layers, all at working resolution."""
        image, size = aligned.image, aligned.size
        work = self.working_size(aligned)
        small = cv2.resize(image, (work, work), interpolation=cv2.INTER_AREA).astype(np.float32) / np.float32(255.0)
        regions = face_regions(image, aligned.landmarks, work, parsing=parsing, small=small,
                               inside=frame_coverage(aligned, work))
        seen = eyes_seen(regions, aligned.landmarks)
        settings = for_covered_face(settings, regions.cover, regions.lower_visible)
        hidden = hidden_eyes(seen)
        settings = for_hidden_eyes(settings, hidden)
        # The skin operations run on the window around the skin (the crop's sides are background
        # and hair): every one of them acts on skin only and reaches less than WINDOW_MARGIN.
        win = _skin_window(regions)
        part = regions.window(*win)
        sub = np.ascontiguousarray(small[win])
        wrinkles, folds = np.zeros((work, work), np.float32), np.zeros((work, work), np.float32)
        wrinkles[win] = part.union(settings.wrinkles)
        folds[win] = part.union({r: settings.wrinkles[r] for r in FOLD_REGIONS})
        gray = luminance(small)  # the whole raster: the search for held things reaches past the window
        lum = np.ascontiguousarray(gray[win])
        # Thin hair at the temples and the hairline passes for skin: neither filled nor lifted.
        above = _above_brows(aligned.landmarks, regions.frame, work, size, win)
        hair = hair_darkness(part.skin, part.protect, lum, above, regions.eye_distance)
        wrinkles[win] *= 1.0 - hair
        folds[win] *= 1.0 - hair
        creases = find_creases(lum, regions.eye_distance, part.skin,
                               lower=lower_face(aligned.landmarks, work, size, win),
                               outline=silhouette(aligned.landmarks, work, size, win))
        delta = np.zeros((work, work, 3), np.float32)
        hollows = None  # off unless set: no cheek raster for the default looks
        if settings.hollows > 0:
            hollows = np.zeros((work, work), np.float32)
            cheek = cheeks(aligned.landmarks, work, size, win)
            if regions.cover > 0:  # a mask over the cheeks: their skin only
                cheek = cheek * (1.0 + np.float32(regions.cover) * (part.skin - 1.0))
            hollows[win] = np.maximum(part.union(dict.fromkeys(HOLLOW_REGIONS, settings.hollows)),
                                      cheek * np.float32(settings.hollows))
            hollows[win] *= 1.0 - part.protect
        delta[win] = wrinkle_delta(sub, wrinkles[win], folds[win], regions.eye_distance, part.skin,
                                   settings.texture_keep, creases=creases,
                                   hollow_strength=None if hollows is None else hollows[win])
        tone, tone_acting = tone_delta(
            sub, part, under_eye=settings.under_eye, redness=settings.redness,
            evenness=settings.evenness, spots=settings.spots, creases=creases, hair=hair,
        )
        delta[win] += tone
        acting = np.zeros((work, work), np.float32)
        acting[win] = tone_acting
        contrast, contrasted = feature_delta(small, aligned.landmarks, regions, lips=settings.lip_contrast,
                                             eyes=settings.eye_whites, teeth=settings.teeth)
        delta += contrast
        flow = shape_flow(
            aligned.landmarks, size, jaw_lift=settings.jaw_lift, cheek_fullness=settings.cheek_fullness,
            eye_aperture=settings.eye_aperture, lip_fullness=settings.lip_fullness, grid=self.flow_grid,
        )
        if flow is not None:
            flow, delta = _spare_crossing_edges(flow, delta, gray, regions, aligned.landmarks)
        glasses = (find_glasses(image, aligned.landmarks, size=work, small=small, worn=bool(settings.wears_glasses))
                   if settings.wears_glasses is not False else None)
        if glasses is not None and glasses.present > 0:
            flow, delta = _spare(flow, delta, glasses.frames, regions.eye_distance, FRAME_SHIELD)
        if max(hidden) > 0:
            flow, delta = _spare_lenses(flow, delta, regions, aligned.landmarks, hidden)
        gain = None
        if settings.texture_keep != 1.0:
            gain = (np.float32(settings.texture_keep - 1.0) * wrinkles).astype(np.float32)
        support = np.maximum(np.maximum(wrinkles, folds), np.maximum(acting, contrasted))
        if hollows is not None:
            support = np.maximum(support, hollows)
        if gain is not None:
            support = np.maximum(support, np.abs(gain))
        if flow is not None:
            moved = np.hypot(flow[..., 0], flow[..., 1])
            moved = cv2.resize(moved, (work, work), interpolation=cv2.INTER_LINEAR)
            support = np.maximum(support, np.clip(moved / 0.35, 0, 1))
        support = _support_mask(support, regions)
        retouch = Retouch(delta=delta, flow=flow, detail_gain=gain, detail_sigma=0.6 * size / work)
        crease_layer, feature_layer = np.zeros((work, work), np.float32), np.zeros((work, work), np.float32)
        crease_layer[win] = np.clip(creases.depth / 0.25, 0, 1) * part.skin
        feature_layer[win] = np.maximum(creases.feature, creases.marks)
        hair_layer = np.zeros((work, work), np.float32)
        hair_layer[win] = hair
        layers = {"wrinkles": wrinkles, "folds": folds, "tone": acting, "contrast": contrasted,
                  "skin": regions.skin, "protect": regions.protect, "creases": crease_layer,
                  "features": feature_layer, "hair": hair_layer}
        return retouch, support, layers


LOWER_VISIBLE = (0.25, 0.6)
"""Share of a covered lower face that must be skin for its shape and feature work to start, and
to be done in full (``for_covered_face``)."""
LOWER_FACE_WORK = ("jaw_lift", "cheek_fullness", "lip_fullness", "lip_contrast", "teeth")


def for_covered_face(settings: MakeupSettings, cover: float, lower_visible: float | None) -> MakeupSettings:
    """``settings`` for a face whose lower face is covered (``FaceRegions.cover``, 0..1, and
    ``lower_visible``): the jaw lift, cheek fullness, lip fullness, lip contrast and teeth would
    warp and recolour the mask or scarf over them, so they fade out with how little of the lower
    face is skin (none below ``LOWER_VISIBLE[0]``), in proportion to ``cover``. A bare face
    (``cover`` 0) keeps every setting."""
    if cover <= 0 or lower_visible is None:
        return settings
    scale = 1.0 - float(cover) * (1.0 - float(smoothstep(np.float64(lower_visible), *LOWER_VISIBLE)))
    return replace(settings, **{name: getattr(settings, name) * scale for name in LOWER_FACE_WORK})


EYE_WORK = ("under_eye", "eye_whites")


def for_hidden_eyes(settings: MakeupSettings, hidden: tuple[float, float]) -> MakeupSettings:
    """``settings`` for eyes hidden behind sunglasses (``hidden_eyes``): the under-eye lift
    brightened the lens's lower edge and the eye whites have nothing to act on, so both fade out
    with the mean of the two eyes' weights (the warp and the colour change are also kept off
    each hidden eye's surroundings, ``_spare_lenses``). Eyes in plain view keep every setting."""
    scale = 1.0 - 0.5 * (hidden[0] + hidden[1])
    if scale >= 1.0:
        return settings
    return replace(settings, **{name: getattr(settings, name) * scale for name in EYE_WORK})


def _spare_lenses(flow: np.ndarray | None, delta: np.ndarray, regions: FaceRegions, landmarks: Any,
                  hidden: tuple[float, float]) -> tuple[np.ndarray | None, np.ndarray]:
    """``flow`` (float32 (G, G, 2) or None) and ``delta`` (float32 (W, W, 3)) kept off the lenses
    of a pair of sunglasses (``hidden``: ``hidden_eyes``): the warp stilled around each hidden
    eye's surroundings (``masks.around_eyes``) as around an occluder model's mask, so the cheeks'
    fullness and the eyes' opening do not bend the lenses and their frame, and no colour change
    there (the tone's averages spill over the lens's edge)."""
    lenses = np.maximum(*(np.float32(h) * m for h, m in zip(hidden, around_eyes(regions, landmarks))))
    return _spare(flow, delta, lenses, regions.eye_distance)


FRAME_SHIELD = 0.15
"""Eye distances around a pair of glasses' frames where the shape warp is stilled
(``deage.face.glasses.find_glasses`` on the working raster): the eyes' opening and the cheeks'
fullness bent the rims, and the under-eye lift brightened a lower one."""


def _spare(flow: np.ndarray | None, delta: np.ndarray, cover: Mask, eye_distance: float,
           shield: float = SHIELD) -> tuple[np.ndarray | None, np.ndarray]:
    """``flow`` (float32 (G, G, 2) or None) stilled on ``cover`` (float32 (W, W) in [0, 1]) and
    ``shield`` eye distances around it (``eye_distance`` in its pixels; ``still_flow``), and
    ``delta`` (float32 (W, W, 3)) taken off it: what covers the face is neither bent nor
    recoloured."""
    if flow is not None:
        flow = still_flow(flow, 1.0 - cover, eye_distance, shield=shield)
    return flow, delta * (1.0 - cover)[..., None]


def _spare_crossing_edges(flow: np.ndarray, delta: np.ndarray, gray: np.ndarray, regions: FaceRegions,
                          landmarks: Any) -> tuple[np.ndarray, np.ndarray]:
    """``flow`` (float32 (G, G, 2), crop pixels) and ``delta`` (float32 (W, W, 3)) around the
    straight edges of a thing held in front of the chin (``deage.face.crossing_edges``: a
    microphone, a phone, a cup): the warp stilled as an occluder model's mask would still it, so
    it does not bend them, and the colour change taken off ``EDGE_CLEAR`` working pixels either
    side of them, where the skin's retouch would spill onto the thing when it is brought to the
    frame's resolution (a light rim along a dark microphone). Both as they were, the same objects,
    when nothing crosses (a bare face). ``gray``: float32 (W, W) luminance of the crop at the
    working raster, in [0, 1]."""
    work, grid = gray.shape[0], flow.shape[0]
    k = work / float(regions.crop_size)
    moved = cv2.resize(np.hypot(flow[..., 0], flow[..., 1]), (work, work), interpolation=cv2.INTER_LINEAR)
    outline = (face_outline(landmarks, regions.frame) + 0.5) * k - 0.5
    edges = crossing_edges(gray, outline, regions.skin, regions.protect, regions.eye_distance, moving=moved)
    if not edges:
        return flow, delta
    # drawn a flow cell wide, so that each edge holds its cells still when the mask is resized to the grid
    seen = 1.0 - edge_mask(edges, work, thickness=int(np.ceil(work / grid)) + 1)
    keep = 1.0 - edge_mask(edges, work, thickness=2 * EDGE_CLEAR + 1)
    return still_flow(flow, seen, regions.eye_distance), delta * keep[..., None]


EDGE_CLEAR = 2
"""Working-raster pixels either side of a held thing's edge where the colour change is taken off."""


def _above_brows(landmarks: Any, frame: FaceFrame, work: int, size: int, win: tuple[slice, slice]) -> Mask:
    """float32 on the window ``win`` of the working raster (``work`` across a crop of ``size``):
    0 below the brows' top, rising to 1 a tenth of an eye distance above it (along the face's up,
    ``frame``: ``FaceRegions.frame``, in crop pixels)."""
    k = work / float(size)
    brows = (np.asarray(landmarks, np.float64)[17:27] + 0.5) * k - 0.5
    rows = np.arange(win[0].start, win[0].stop or work, dtype=np.float64)
    cols = np.arange(win[1].start, win[1].stop or work, dtype=np.float64)
    top = float((brows @ frame.up).max())
    height = (cols[None, :] * frame.up[0] + rows[:, None] * frame.up[1] - top) / (frame.eye_distance * k)
    return smoothstep(height.astype(np.float32), 0.0, 0.1)


WINDOW_MARGIN = 0.5
"""Eye distances kept around the skin when the skin operations run on a window of the crop: more
than the reach of any of them (the broadest, the tone's skin average, blurs 0.25 eye distances),
so mirrored borders add nothing (under 1e-3 of a weight)."""


def _skin_window(regions: FaceRegions) -> tuple[slice, slice]:
    """Rows and columns of the working raster around every pixel with skin on it, plus
    ``WINDOW_MARGIN``; the whole raster when there is no skin. Ends are on multiples of 4 (the
    operations' half- and quarter-resolution grids then fall where they fall on the whole raster,
    so the window changes no pixel's result by more than a level or two)."""
    size = regions.skin.shape[0]
    on = regions.skin > 0
    rows, cols = np.flatnonzero(on.any(axis=1)), np.flatnonzero(on.any(axis=0))
    if rows.size == 0:
        return slice(0, size), slice(0, size)
    pad = int(np.ceil(WINDOW_MARGIN * regions.eye_distance))

    def span(first: int, last: int) -> slice:
        start = max(first - pad, 0) // 4 * 4
        stop = -(-(last + pad + 1) // 4) * 4
        return slice(start, size) if stop >= size else slice(start, stop)

    return span(int(rows[0]), int(rows[-1])), span(int(cols[0]), int(cols[-1]))


def _support_mask(strength: Mask, regions: FaceRegions) -> Mask:
    """Where the edit acts at all (1 inside, soft edge), from the per-pixel strength of all operations."""
    on = np.clip(strength * 8.0, 0.0, 1.0)
    return cv2.GaussianBlur(on, (0, 0), max(0.7, 0.03 * regions.eye_distance)).astype(np.float32)
