"""Per-frame review metrics of a render against its source clip.

Example::

    from deage.review.metrics import compute_metrics

    m = compute_metrics("shot_young.mov", "shot.mp4")      # frame range and Look from the sidecar
    m.summary()["identity_distance_max"], m.wrinkle_change["forehead"]   # per-frame arrays

Render frame ``k`` is compared with source frame ``frame_range[0] + k``; every face of the
source's analysis (cached, the same one the render used) that the Look selects is measured in an
aligned crop built from the *source* landmarks (see ``deage.review.measures``):

=====================  ==========================================================  ==========
metric                 meaning                                                     no change
=====================  ==========================================================  ==========
identity_distance      descriptor distance source vs render face (dlib 128-d:      0
                       Euclidean, same person < 0.6; ArcFace when its weights are
                       present: 1 - cos); worst face of the frame
wrinkle_change[r]      relative change of wrinkle-band RMS in region r (forehead,  0
                       glabella, crows_feet, under_eye, nasolabial, marionette,
                       skin, neck, and "face" = all skin): -0.3 = 30 % less
crease_change          relative change of the mean crease depth over all facial    0
                       skin (narrow dark valleys: what an older face's age is
                       read from): -0.3 = creases 30 % shallower
flicker_ratio          frame-to-frame change inside the face skin, render over     1
                       source (motion-compensated: both in this frame's crop)
edit_flicker           frame-to-frame change of the edit itself (render - source), 0
                       8-bit code values
landmark_jitter        landmark acceleration fitted on the render, eye dist.       = source
landmark_jitter_source the same on the source                                      -
landmark_shift         render vs source landmarks, eye distances                   0
swap_margin            face replacement only: identity distance to the plate's     -
                       face less distance to the source photo put there (same
                       descriptor; > 0: nearer the source); worst face
source_distance        face replacement only: identity distance of the render's    -
                       face to that source photo (dlib: same person < 0.6); worst
                       face
seam_ratio             gradient at the edge of the edit, render over source;       1
                       worst face
feature_detail         edge strength inside the face's features (eyes and lashes,   1
                       brows, lips, nostrils), render over source: 0.8 = a fifth
                       of their detail lost (blurred, painted over); worst face
grain_match            noise over the face's skin (sensor noise, film grain),      1
                       render over source, where the source shows grain (2
                       levels or more): 0.3 = a face far cleaner than its plate
                       (a retouch that smoothed the grain away, a swapped face
                       from a clean photo); worst face
apparent_age_change    how much older the face looks in the render, years          0
                       (``deage.face.apparent_age``: -4 = looks 4 years younger),
                       on the frames identity is sampled; mean over the faces
faces_missed           selected faces the Look should have edited but the render   0
                       left untouched (read from the matte when there is one, else
                       from the change against codec noise, a light change settled
                       by re-rendering the Look), or that the analysis lost in a
                       gap of their track
=====================  ==========================================================  ==========

Per-frame values are NaN where a frame has no measurable face (or, for ``identity_distance``,
was not sampled, see ``identity_every``). ``summary()`` gives the shot's figures; ratios there
are ratios of totals (robust to near-still frames).
"""

from __future__ import annotations

import json
import math
import warnings
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from deage.errors import DeageError, MediaError
from deage.face.align import estimate_alignment, transform_points
from deage.face.masks import WRINKLE_REGIONS, face_regions
from deage.review import measures
from deage.review.measures import MEASURE_SIZE
from deage.types import Face, Image, Points

REGIONS: tuple[str, ...] = (*WRINKLE_REGIONS, "face")
"""Regions of ``wrinkle_change``: the makeup editor's wrinkle regions plus all facial skin."""

ProgressFn = Callable[[int, int], None]

FLICKER_EPS = 0.25
"""Added to both sides of a flicker ratio (8-bit code values per frame): below this, change is noise."""
JITTER_EPS = 1e-4
"""Added to both sides of a landmark-jitter ratio (eye distances per frame)."""
JITTER_FLOOR = 0.007
"""The least landmark jitter a source is credited with (eye distances per frame): dlib's fit moves
by about this much between two lossy encodes of one frame (0.0064 and 0.0063 on two faces held
still, rendered to H.264), so a still source (an image sequence, identical frames: jitter 0) did
not make its render's codec noise a 64x 'jitter'. Moving footage measures above it (~0.012)."""
EDIT_FLOOR, EDIT_NOISE_FACTOR, EDIT_MARGIN = 0.25, 2.0, 0.2
"""A face counts as edited (without a matte) when its mean luma change, in 8-bit code values,
exceeds ``max(EDIT_FLOOR, EDIT_NOISE_FACTOR * change around the face + EDIT_MARGIN)``: an H.264
re-encode at CRF 16 changes a face by ~0.5-0.8 and its surroundings by ~0.3-0.55, the embedded
de-ager at 20 years changes it by ~3."""


VISIBLE_GRAIN = 2.0
"""Noise (levels, ``measures.face_grain``) over a source face from which its grain shows and
``grain_match`` measures it: cleaner faces read their skin's own texture as a level or so of
noise (photos 0.5-1.7 here), in steps of a quarter level on 8-bit pictures."""


# ------------------------------------------------------------------------------------ results


@dataclass
class FaceMeasurement:
    """One face in one frame (what ``ShotMeter.measure`` returns per face).

    Attributes:
        track_id: the analysis track.
        box: float32 (4,) face box in frame pixels.
        identity_distance: descriptor distance source vs render (NaN when not sampled).
        wrinkle_source, wrinkle_render: region -> wrinkle-band RMS (8-bit code values).
        flicker_source, flicker_render, edit_flicker: mean absolute change from the previous
            frame of this track inside the face skin (code values); NaN on a track's first frame.
        jitter_source, jitter_render: landmark acceleration (eye distances); NaN for the first two frames.
        landmark_shift: render vs source landmarks (eye distances).
        seam_ratio: gradient at the edge of the edit, render over source (1 = no edge added).
        change, background_change: mean absolute change render vs source inside the face and
            around it (code values): how ``edited`` is decided when there is no matte.
        edited: the render changed this face.
        crease_source, crease_render: mean crease depth over the face's skin (code values).
        age_source, age_render: apparent age (years) of the face in the source and in the render,
            on the same crops (NaN when not sampled or no age model).
        detail_source, detail_render: edge strength inside the face's features.
        grain_source, grain_render: noise over the face's skin in frame pixels (levels,
            ``measures.face_grain``; NaN for a face too small to measure).
        source_distance: descriptor distance of the render's face to the swap source mapped
            onto its track (NaN when not a replacement or not sampled).
    """

    track_id: int
    box: np.ndarray
    identity_distance: float
    wrinkle_source: dict[str, float]
    wrinkle_render: dict[str, float]
    flicker_source: float
    flicker_render: float
    edit_flicker: float
    jitter_source: float
    jitter_render: float
    landmark_shift: float
    seam_ratio: float
    change: float
    background_change: float
    edited: bool
    crease_source: float = float("nan")
    crease_render: float = float("nan")
    age_source: float = float("nan")
    age_render: float = float("nan")
    detail_source: float = float("nan")
    detail_render: float = float("nan")
    grain_source: float = float("nan")
    grain_render: float = float("nan")
    source_distance: float = float("nan")


@dataclass
class RenderMetrics:
    """Per-frame metrics of a render (arrays of length N = frames compared) and their summary.

    Attributes:
        render, source: the compared files.
        frame_range: (start, stop) 0-based source indices the render covers, stop exclusive.
        frames: int64 (N,) source frame index of each row.
        fps: frame rate (for time axes).
        width, height: frame size.
        identity_backend: "dlib" or "arcface" (which descriptor ``identity_distance`` uses).
        faces: int64 (N,) faces measured per frame; faces_missed: int64 (N,).
        identity_distance, flicker_ratio, flicker_render, flicker_source, edit_flicker,
        landmark_jitter, landmark_jitter_source, landmark_shift, seam_ratio: float64 (N,).
        wrinkle_change: region (``REGIONS``) -> float64 (N,) relative change.
        crease_change: float64 (N,) relative change of the crease depth over all facial skin;
            crease_source, crease_render: float64 (N,) the depths (code values), for totals.
        age_source: float64 (N,) mean apparent age (years) of the frame's faces in the source;
            age_change: float64 (N,) mean of render minus source over them (NaN where not sampled).
        age_by_track: track id -> (source, render) apparent age in years, means over the frames
            where that face was sampled (each person's own figures: a target-age look's check).
        feature_detail: float64 (N,) detail kept in the features, render over source, worst face;
            detail_source, detail_render: float64 (N,) the edge strengths, for totals.
        grain_match: float64 (N,) grain over the skin, render over source, worst face among those
            whose source shows grain (``VISIBLE_GRAIN``; NaN where none does); grain_source,
            grain_render: float64 (N,) those faces' noise (levels), for totals.
        face_boxes: float32 (N, 4) union box of the measured faces (NaN without faces), for thumbnails.
        look: the render's Look as a dict (from its sidecar), or None.
        provenance: the render's sidecar record, or None.
        warnings: things a reviewer should know (mismatched source, no faces...).
        matte: the matte clip seams and "edited" were read from, or None (then they come from
            the change between render and source).
        source_still: the source is opened as just that image (``open_clip(still=True)``), as
            the render opened it (its sidecar's ``source_still``).
    """

    render: str
    source: str
    frame_range: tuple[int, int]
    frames: np.ndarray
    fps: float
    width: int
    height: int
    identity_backend: str
    faces: np.ndarray
    faces_missed: np.ndarray
    identity_distance: np.ndarray
    wrinkle_change: dict[str, np.ndarray]
    flicker_ratio: np.ndarray
    flicker_render: np.ndarray
    flicker_source: np.ndarray
    edit_flicker: np.ndarray
    landmark_jitter: np.ndarray
    landmark_jitter_source: np.ndarray
    landmark_shift: np.ndarray
    seam_ratio: np.ndarray
    face_boxes: np.ndarray
    wrinkle_source: dict[str, np.ndarray] = field(default_factory=dict)
    wrinkle_render: dict[str, np.ndarray] = field(default_factory=dict)
    crease_change: np.ndarray = field(default_factory=lambda: np.zeros(0))
    crease_source: np.ndarray = field(default_factory=lambda: np.zeros(0))
    crease_render: np.ndarray = field(default_factory=lambda: np.zeros(0))
    age_source: np.ndarray = field(default_factory=lambda: np.zeros(0))
    age_change: np.ndarray = field(default_factory=lambda: np.zeros(0))
    age_by_track: dict[int, tuple[float, float]] = field(default_factory=dict)
    feature_detail: np.ndarray = field(default_factory=lambda: np.zeros(0))
    detail_source: np.ndarray = field(default_factory=lambda: np.zeros(0))
    detail_render: np.ndarray = field(default_factory=lambda: np.zeros(0))
    grain_match: np.ndarray = field(default_factory=lambda: np.zeros(0))
    grain_source: np.ndarray = field(default_factory=lambda: np.zeros(0))
    grain_render: np.ndarray = field(default_factory=lambda: np.zeros(0))
    swap_margin: np.ndarray = field(default_factory=lambda: np.zeros(0))
    source_distance: np.ndarray = field(default_factory=lambda: np.zeros(0))
    look: dict[str, Any] | None = None
    provenance: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)
    matte: str | None = None
    source_still: bool = False

    PER_FRAME = ("faces", "faces_missed", "identity_distance", "flicker_ratio", "flicker_render", "flicker_source",
                 "edit_flicker", "landmark_jitter", "landmark_jitter_source", "landmark_shift", "seam_ratio",
                 "crease_change", "age_source", "age_change", "feature_detail", "grain_match", "swap_margin",
                 "source_distance")

    def __len__(self) -> int:
        return len(self.frames)

    def summary(self) -> dict[str, Any]:
        """The shot's figures (floats; NaN where nothing was measured).

        Keys: ``frames``, ``frames_with_faces``, ``faces_missed`` (total), ``identity_distance_max`` /
        ``_mean``, ``wrinkle_change`` (region -> relative change of the shot's total band energy),
        ``crease_change`` (relative change of the shot's total crease depth over facial skin),
        ``flicker_ratio`` (total render change / total source change), ``flicker_ratio_max``,
        ``edit_flicker_mean``, ``landmark_jitter`` / ``landmark_jitter_source`` (means) and
        ``landmark_jitter_ratio``, ``landmark_shift_mean``, ``seam_ratio_max`` / ``_mean``,
        ``apparent_age_source`` and ``apparent_age_change`` (means over the sampled frames, years),
        ``apparent_age_by_track`` (track id as text -> [source, render] years), ``feature_detail``
        (the features' total edge strength, render over source) and ``feature_detail_min`` (worst frame),
        ``grain_match`` (the faces' total noise, render over source, on the frames whose faces have
        grain) and ``grain_match_min`` (worst frame), ``swap_margin_mean`` / ``_min`` (a face
        replacement's identity margin over the sampled frames) and ``source_distance_max`` /
        ``_mean`` (its faces' distance to their source photos); NaN for other looks.
        """

        def nanstat(fn: Callable[[np.ndarray], float], a: np.ndarray) -> float:
            a = a[np.isfinite(a)]
            return float(fn(a)) if a.size else float("nan")

        def ratio(num: np.ndarray, den: np.ndarray, eps: float) -> float:
            """Ratio of totals over the frames where both are measured; ``eps`` per frame keeps a
            near-still shot (tiny denominators) from turning noise into a big ratio."""
            ok = np.isfinite(num) & np.isfinite(den)
            if not ok.any():
                return float("nan")
            return float((num[ok].sum() + eps * ok.sum()) / (den[ok].sum() + eps * ok.sum()))

        wrinkle = {}
        for region in REGIONS:
            src, out = self.wrinkle_source.get(region), self.wrinkle_render.get(region)
            if src is None or out is None:
                wrinkle[region] = nanstat(np.mean, self.wrinkle_change.get(region, np.array([])))
                continue
            ok = np.isfinite(src) & np.isfinite(out)
            wrinkle[region] = float(np.sqrt((out[ok] ** 2).sum() / (src[ok] ** 2).sum()) - 1.0) \
                if ok.any() and (src[ok] ** 2).sum() > 0 else float("nan")
        return {
            "frames": len(self),
            "frames_with_faces": int((self.faces > 0).sum()),
            "faces_missed": int(self.faces_missed.sum()),
            "identity_backend": self.identity_backend,
            "identity_distance_max": nanstat(np.max, self.identity_distance),
            "identity_distance_mean": nanstat(np.mean, self.identity_distance),
            "wrinkle_change": wrinkle,
            "crease_change": ratio(self.crease_render, self.crease_source, 1e-9) - 1.0,
            "flicker_ratio": ratio(self.flicker_render, self.flicker_source, FLICKER_EPS),
            "flicker_ratio_max": nanstat(np.max, self.flicker_ratio),
            "edit_flicker_mean": nanstat(np.mean, self.edit_flicker),
            "landmark_jitter": nanstat(np.mean, self.landmark_jitter),
            "landmark_jitter_source": nanstat(np.mean, self.landmark_jitter_source),
            "landmark_jitter_ratio": ratio(self.landmark_jitter, np.maximum(self.landmark_jitter_source, JITTER_FLOOR),
                                           JITTER_EPS),
            "landmark_shift_mean": nanstat(np.mean, self.landmark_shift),
            "seam_ratio_max": nanstat(np.max, self.seam_ratio),
            "seam_ratio_mean": nanstat(np.mean, self.seam_ratio),
            "apparent_age_source": nanstat(np.mean, self.age_source),
            "apparent_age_change": nanstat(np.mean, self.age_change),
            "apparent_age_by_track": {str(t): [a, b] for t, (a, b) in sorted(self.age_by_track.items())},
            "feature_detail": ratio(self.detail_render, self.detail_source, 1e-9),
            "feature_detail_min": nanstat(np.min, self.feature_detail),
            "grain_match": ratio(self.grain_render, self.grain_source, 1e-9),
            "grain_match_min": nanstat(np.min, self.grain_match),
            "swap_margin_mean": nanstat(np.mean, self.swap_margin),
            "swap_margin_min": nanstat(np.min, self.swap_margin),
            "source_distance_max": nanstat(np.max, self.source_distance),
            "source_distance_mean": nanstat(np.mean, self.source_distance),
        }

    @property
    def replacement(self) -> bool:
        """Whether the render is a face replacement (its Look's editor is "swap"): its faces are
        meant to be someone else, so identity is checked against the source photo instead."""
        return isinstance(self.look, dict) and self.look.get("editor") == "swap"

    def worst_frame(self, metric: str, *, lowest: bool = False) -> int | None:
        """Source frame index where per-frame ``metric`` (an attribute name, or ``wrinkle_change.<region>``)
        is highest (``lowest``: lowest); None when it was never measured."""
        values = self.values(metric)
        ok = np.isfinite(values)
        if not ok.any():
            return None
        pick = np.where(ok, values, np.inf if lowest else -np.inf)
        return int(self.frames[int(np.argmin(pick) if lowest else np.argmax(pick))])

    def value_at(self, metric: str, frame: int) -> float:
        """Per-frame ``metric`` at source frame ``frame``."""
        row = int(np.searchsorted(self.frames, frame))
        if row >= len(self.frames) or self.frames[row] != frame:
            raise DeageError(f"frame {frame} is not in the compared range {self.frame_range[0]}:{self.frame_range[1]}")
        return float(self.values(metric)[row])

    def values(self, metric: str) -> np.ndarray:
        """float64 (N,) per-frame values of ``metric`` (an attribute name, or ``wrinkle_change.<region>``)."""
        if metric.startswith("wrinkle_change."):
            return np.asarray(self.wrinkle_change[metric.partition(".")[2]], np.float64)
        if metric not in self.PER_FRAME:
            raise DeageError(f"unknown metric {metric!r}; per-frame metrics: {', '.join(self.PER_FRAME)}, "
                             f"wrinkle_change.<region>")
        return np.asarray(getattr(self, metric), np.float64)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: facts, ``summary``, and ``per_frame`` lists (NaN as None)."""

        per_frame: dict[str, Any] = {"frame": self.frames.tolist()}
        for name in self.PER_FRAME:
            per_frame[name] = np.asarray(getattr(self, name)).tolist()
        per_frame["wrinkle_change"] = {r: np.asarray(v).tolist() for r, v in self.wrinkle_change.items()}
        return _json_safe({
            "kind": "deage-review-metrics",
            "render": self.render,
            "source": self.source,
            "frame_range": list(self.frame_range),
            "fps": self.fps,
            "width": self.width,
            "height": self.height,
            "identity_backend": self.identity_backend,
            "summary": self.summary(),
            "per_frame": per_frame,
            "look": self.look,
            "matte": self.matte,
            "warnings": list(self.warnings),
            "source_still": self.source_still,
        })


def _json_safe(value: Any) -> Any:
    """``value`` with every non-finite float replaced by None (JSON has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


# ------------------------------------------------------------------------------- the meter


class ShotMeter:
    """Measures the faces of a shot frame by frame (keeps each track's previous crops and landmarks).

    Args:
        recognizer: a ``deage.face.protocols.Recognizer`` (``describe``, ``distance``), or None
            to skip identity.
        landmarker: a landmarker with ``fit_points(image, box)`` (dlib's), or None to skip jitter.
        identity_every: measure identity (and apparent age) on every n-th call (descriptors are
            the slow part).
        size: aligned crop side for the measurements.
        ages: a ``deage.face.apparent_age.AgeEstimator``, or None to skip apparent age.
        sources: for a face replacement, track id -> descriptor (by ``recognizer``) of the source
            photo's face put on that track: ``source_distance`` measures the render against it.
    """

    def __init__(self, recognizer: Any | None, landmarker: Any | None, *, identity_every: int = 1,
                 size: int = MEASURE_SIZE, ages: Any | None = None,
                 sources: dict[int, np.ndarray] | None = None) -> None:
        if identity_every < 1:
            raise DeageError(f"identity_every must be at least 1, got {identity_every}")
        self.recognizer = recognizer
        self.ages = ages
        self.sources = dict(sources or {})
        self.landmarker = landmarker
        self.identity_every = int(identity_every)
        self.size = int(size)
        self._calls = 0
        self._prev: dict[int, tuple[int, np.ndarray, np.ndarray]] = {}  # track -> (index, luma src, luma out)
        self._hist: dict[int, tuple[deque[Points], deque[Points], list[int]]] = {}  # track -> landmarks, last index

    def measure(self, index: int, source: Image, render: Image, faces: dict[int, Face],
                matte: np.ndarray | None = None, expected: Callable[[], Image] | None = None,
                content: Callable[[], Image] | None = None) -> list[FaceMeasurement]:
        """Measure every face of ``faces`` (track id -> source Face with landmarks) in one frame.

        Args:
            index: the frame's index in the source clip (consecutive calls are consecutive frames).
            source, render: RGB uint8 (H, W, 3) of equal size.
            matte: optional float32 (H, W) blend mask of the render in [0, 1].
            expected: optional callable returning the frame the Look should have produced (RGB
                uint8); asked for only when a face's change is too small to call it edited on
                its own, and compared with the render (see ``_edit_and_seam``).
            content: optional callable returning the frame with each edit pasted whole, unblended
                (``FrameRenderer.pasted``; RGB uint8): the seam is then measured against the
                edit's own edges as well as the source's (``measures.seam_ratio``).
        """
        describe = self._calls % self.identity_every == 0
        self._calls += 1
        once, pasted = _once(expected), _once(content)
        out = [self._measure_face(index, tid, face, source, render, matte, describe, once, pasted)
               for tid, face in sorted(faces.items()) if face.landmarks is not None]
        for tid in [t for t in self._prev if t not in faces]:
            self._prev.pop(tid, None)
            self._hist.pop(tid, None)
        return out

    def _measure_face(self, index: int, tid: int, face: Face, source: Image, render: Image,
                      matte: np.ndarray | None, describe: bool, expected: Callable[[], Image | None],
                      content: Callable[[], Image | None]) -> FaceMeasurement:
        size = self.size
        matrix = estimate_alignment(face.keypoints5, "ffhq", size, face.pixel_aspect)
        warp = dict(dsize=(size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        crop_src = cv2.warpAffine(source, matrix, **warp)
        valid = cv2.warpAffine(np.ones(source.shape[:2], np.float32), matrix, **warp)
        matte_crop = cv2.warpAffine(matte.astype(np.float32), matrix, **warp) if matte is not None else None
        lm = transform_points(face.landmarks, matrix)
        d = measures.eye_distance(lm)
        lum_src, lum_out = measures.luma(crop_src), measures.luma(cv2.warpAffine(render, matrix, **warp))

        regions = face_regions(crop_src, lm, size=size // 2)
        up = lambda m: cv2.resize(m, (size, size), interpolation=cv2.INTER_LINEAR) * valid  # noqa: E731
        masks = {name: up(m) for name, m in regions.regions.items()}
        masks["face"] = skin = up(regions.skin)
        wr_src = measures.band_energy(measures.wrinkle_band(lum_src, d), masks)
        wr_out = measures.band_energy(measures.wrinkle_band(lum_out, d), masks)
        cr_src, cr_out = (measures.crease_depth(lum, d, skin) for lum in (lum_src, lum_out))
        features = up(regions.protect)
        dt_src, dt_out = (measures.feature_detail(lum, d, features) for lum in (lum_src, lum_out))
        gr_src, gr_out = (measures.face_grain(frame, face.landmarks) for frame in (source, render))

        def luma_of(frames: Callable[[], Image | None]) -> Callable[[], np.ndarray | None]:
            def crop() -> np.ndarray | None:
                frame = frames()
                return None if frame is None else measures.luma(cv2.warpAffine(frame, matrix, **warp))
            return crop

        change, background, edited, seam = self._edit_and_seam(lum_src, lum_out, up(regions.face), masks["neck"],
                                                               valid, matte_crop, d, luma_of(expected),
                                                               luma_of(content))
        fl_src, fl_out, fl_edit = self._flicker(index, tid, lum_src, lum_out, skin)
        jit_src, jit_out, shift = self._landmarks(index, tid, face, source, render)
        identity = age_source = age_render = to_source = float("nan")
        if describe and self.recognizer is not None:
            a = self.recognizer.describe(source, face)
            b = a if _same_pixels(source, render, face) else self.recognizer.describe(render, face)
            identity = float(self.recognizer.distance(a, b))
            if tid in self.sources:
                to_source = float(self.recognizer.distance(b, self.sources[tid]))
        if describe and self.ages is not None:
            ages = self.ages.compare(source, render, [face])
            age_source, age_render = float(ages[0][0]), float(ages[1][0])
        return FaceMeasurement(
            track_id=tid, box=np.asarray(face.box, np.float32).copy(), identity_distance=identity,
            wrinkle_source=wr_src, wrinkle_render=wr_out, flicker_source=fl_src, flicker_render=fl_out,
            edit_flicker=fl_edit, jitter_source=jit_src, jitter_render=jit_out, landmark_shift=shift,
            seam_ratio=seam, change=change, background_change=background, edited=edited,
            crease_source=cr_src, crease_render=cr_out, age_source=age_source, age_render=age_render,
            detail_source=dt_src, detail_render=dt_out, grain_source=gr_src, grain_render=gr_out,
            source_distance=to_source,
        )

    @staticmethod
    def _edit_and_seam(lum_src: np.ndarray, lum_out: np.ndarray, face: np.ndarray, neck: np.ndarray,
                       valid: np.ndarray, matte: np.ndarray | None, d: float,
                       expected: Callable[[], np.ndarray | None],
                       content: Callable[[], np.ndarray | None] = lambda: None) -> tuple[float, float, bool, float]:
        """Mean change inside the face and around it, whether the face was edited, and its seam ratio.

        With a matte, "edited" is read from it. Without one, a face is edited when its change
        clearly exceeds the change around it (what a lossy re-encode does to every pixel):
        ``EDIT_NOISE_FACTOR`` x that plus ``EDIT_MARGIN``, and at least ``EDIT_FLOOR`` code values.
        A smaller change (a light edit through a lossy codec) is settled with ``expected()``, the
        face as the Look renders it: edited when the render is closer to that than to the source,
        or when the Look's own change is invisible (nothing to miss).
        """
        area = np.maximum(face, neck)
        disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (int(0.5 * d) | 1, int(0.5 * d) | 1))
        near = cv2.dilate((area > 0.01).astype(np.uint8), disk)
        around = (1.0 - near.astype(np.float32)) * (valid > 0.999)
        change = measures.mean_change(lum_out, lum_src, area)
        background = measures.mean_change(lum_out, lum_src, around)
        noise = background if math.isfinite(background) else 0.0
        if matte is not None:
            edited = bool((matte * area).max() > 0.01)
        else:
            edited = bool(change > max(EDIT_FLOOR, EDIT_NOISE_FACTOR * noise + EDIT_MARGIN))
            lum_exp = None if edited else expected()
            if lum_exp is not None:
                wanted = measures.mean_change(lum_exp, lum_src, area)
                edited = bool(wanted < 0.05 or measures.mean_change(lum_out, lum_exp, area) < change)
        if not (edited or matte is not None):
            return change, background, edited, 1.0
        band = measures.edit_boundary(lum_src, lum_out, d, matte=matte, valid=valid,
                                      noise=max(1.0, EDIT_NOISE_FACTOR * noise) / 255.0)
        return change, background, edited, measures.seam_ratio(lum_src, lum_out, band, d,
                                                               content() if band.sum() >= 16 else None)

    def _flicker(self, index: int, tid: int, lum_src: np.ndarray, lum_out: np.ndarray,
                 skin: np.ndarray) -> tuple[float, float, float]:
        """Change from this track's previous frame (source, render, and of the edit itself); NaN on its first."""
        prev = self._prev.get(tid)
        self._prev[tid] = (index, lum_src, lum_out)
        if prev is None or prev[0] != index - 1:
            return float("nan"), float("nan"), float("nan")
        _, prev_src, prev_out = prev
        return (measures.mean_change(lum_src, prev_src, skin), measures.mean_change(lum_out, prev_out, skin),
                measures.mean_change(lum_out - lum_src, prev_out - prev_src, skin))

    def _landmarks(self, index: int, tid: int, face: Face, source: Image, render: Image) -> tuple[float, float, float]:
        """Landmark acceleration on source and render, and their shift, fitted in the source face's box."""
        if self.landmarker is None:
            return float("nan"), float("nan"), float("nan")
        fit_src = self.landmarker.fit_points(source, face.box)
        fit_out = self.landmarker.fit_points(render, face.box)
        d = measures.eye_distance(fit_src)
        hist = self._hist.setdefault(tid, (deque(maxlen=3), deque(maxlen=3), [index]))
        if hist[2][0] != index - 1:  # a gap in the track: start its history again
            hist[0].clear()
            hist[1].clear()
        hist[2][0] = index
        hist[0].append(fit_src)
        hist[1].append(fit_out)
        return (measures.landmark_acceleration(list(hist[0]), d), measures.landmark_acceleration(list(hist[1]), d),
                measures.landmark_shift(fit_src, fit_out, d))


def _same_pixels(source: Image, render: Image, face: Face) -> bool:
    """True when the face's neighbourhood is bit-identical in both frames (skip a second descriptor)."""
    h, w = source.shape[:2]
    x0, y0, x1, y1 = np.asarray(face.box, np.float64)
    pad = 0.6 * max(x1 - x0, y1 - y0)
    xa, ya = max(int(x0 - pad), 0), max(int(y0 - pad), 0)
    xb, yb = min(int(x1 + pad) + 1, w), min(int(y1 + pad) + 1, h)
    return bool(np.array_equal(source[ya:yb, xa:xb], render[ya:yb, xa:xb]))


# ----------------------------------------------------------------------------- whole clips


def make_identity_recognizer(name: str = "auto") -> tuple[Any, str]:
    """The recognizer identity is measured with, and its name.

    ``"auto"``: ArcFace when its weights are present and load (see ``deage weights``), else
    dlib's embedded 128-d descriptor. ``"dlib"`` / ``"arcface"`` force one (a missing ArcFace
    file is then a ``WeightsError``).
    """
    from deage.face.detect import make_recognizer

    if name == "auto":
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return make_recognizer("arcface"), "arcface"
        except DeageError:
            return make_recognizer("dlib"), "dlib"
    if name not in ("dlib", "arcface"):
        raise DeageError(f"identity recognizer must be 'auto', 'dlib' or 'arcface', got {name!r}")
    return make_recognizer(name), name


def expects_edit(look: Any | None, index: int, apparent_age: float | None = None) -> bool:
    """Whether ``look`` (a ``deage.look.Look``, or None = unknown) should change faces at frame ``index``.

    False for editors that need no faces (identity), a blend ``amount`` of 0, or parameters the
    editor reports as an identity (``is_identity``, e.g. makeup with ``years`` keyed to 0, or a
    ``target_age`` the face, ``apparent_age`` years old, already looks).
    Unknown looks (no sidecar) are assumed to edit.
    """
    if look is None:
        return True
    from deage.blend.params import BlendParams
    from deage.edit.registry import editor_spec

    try:
        spec = editor_spec(look.editor)
    except KeyError:
        return True
    if not spec.needs_faces:
        return False
    at = look.at(index)
    try:
        if BlendParams.from_dict(at.blend).amount <= 0:
            return False
        params = spec.params_from_dict(at.edit)
    except DeageError:  # parameters that need files or consent this machine lacks: assume an edit
        return True
    if apparent_age is not None and hasattr(params, "for_apparent_age"):
        params = params.for_apparent_age(apparent_age)
    for obj in (params, getattr(params, "resolve", lambda: None)()):
        flag = getattr(obj, "is_identity", None)
        if callable(flag):
            flag = flag()
        if flag is True:
            return False
    return True


def _read_sidecar(render: Path) -> dict[str, Any] | None:
    from deage.provenance import read_provenance

    try:
        return read_provenance(render)
    except MediaError:
        return None


def source_opened_still(record: dict[str, Any] | None, source: str | Path) -> bool:
    """Whether a render's ``source`` (an image file) is to be opened as just that image: its
    provenance ``record`` says the render opened it so (``render_clip(still=...)``)."""
    from deage.video.sequence import is_image_path

    return bool(record and record.get("source_still")) and is_image_path(source)


def compute_metrics(
    render: str | Path,
    source: str | Path | None = None,
    *,
    frame_range: tuple[int, int] | None = None,
    look: Any | None = None,
    analysis: Any | None = None,
    analysis_settings: Any | None = None,
    cache_dir: str | Path | None = None,
    matte: str | Path | None = None,
    recognizer: str = "auto",
    identity_every: int = 1,
    apparent_age: bool = True,
    progress: ProgressFn | None = None,
) -> RenderMetrics:
    """Measure a render against its source, frame by frame.

    Args:
        render: the rendered clip or image sequence.
        source: the clip it was rendered from (default: the ``source`` its provenance sidecar names).
        frame_range: (start, stop) source frames the render covers (default: the sidecar's, else
            the whole source, which must then have as many frames as the render).
        look: the ``deage.look.Look`` it was rendered with (default: the sidecar's); decides which
            faces count and whether a face left untouched is "missed".
        analysis: the source's ``Analysis`` (default: ``analyse_clip`` with ``analysis_settings``,
            from the cache the render itself used).
        matte: the render's blend-mask clip (white = edited), if one was written: seams are then
            measured on its transition and "edited" is read from it.
        recognizer: "auto" (ArcFace if present, else dlib), "dlib" or "arcface".
        identity_every: compute identity descriptors (and apparent ages) on every n-th frame only
            (about 0.15 s per face and frame with dlib on a CPU, plus ~0.05 s for the age).
        apparent_age: measure how old the faces look (``deage.face.apparent_age``); without its
            model the metrics say so in their warnings and carry NaN.
        progress: called with (frames done, frames total).

    Raises:
        MediaError: unreadable clips, different frame sizes, or frame counts that do not match.
        DeageError: bad arguments.
    """
    from deage.face.analysis import AnalysisSettings, analyse_clip
    from deage.face.backends.dlib_backend import DlibLandmarker
    from deage.face.select import select_tracks
    from deage.look import Look
    from deage.video import open_clip

    render = Path(render)
    record = _read_sidecar(render)
    notes: list[str] = []
    if source is None:
        if record is None or not record.get("source"):
            raise MediaError("no source clip given and no provenance sidecar naming one", render)
        from deage.provenance import recorded_source

        source = recorded_source(record, render)
    source = Path(source)
    if look is None and record is not None and isinstance(record.get("look"), dict):
        look = Look.from_dict(record["look"])
    if record is None:
        notes.append("the render has no provenance sidecar: frame range and Look were not checked")

    still = source_opened_still(record, source)
    with open_clip(source, still=still) as src, open_clip(render) as out:
        if (src.info.width, src.info.height) != (out.info.width, out.info.height):
            raise MediaError(f"render is {out.info.width}x{out.info.height} but the source "
                             f"{source.name} is {src.info.width}x{src.info.height}", render)
        if frame_range is None and record is not None and record.get("frame_range"):
            frame_range = (int(record["frame_range"][0]), int(record["frame_range"][1]))
        if frame_range is None:
            frame_range = (0, len(src))
        start, stop = int(frame_range[0]), int(frame_range[1])
        if not 0 <= start < stop <= len(src):
            raise DeageError(f"frame range {start}:{stop} is outside the source's {len(src)} frames", source)
        if stop - start != len(out):
            raise MediaError(f"render has {len(out)} frames but the frame range {start}:{stop} of the source has "
                             f"{stop - start}; give the range it was rendered from", render)
        if record is not None and record.get("source_content_hash"):
            if src.content_hash() != record["source_content_hash"]:
                notes.append(f"{source.name} is not the clip this render was made from (content hash differs "
                             "from the sidecar's)")

        if analysis is None:
            analysis = analyse_clip(src, analysis_settings or AnalysisSettings(), cache_dir=cache_dir)
        how = look.faces if look is not None else "all"
        if isinstance(how, dict):
            how = Path(how["reference"])
        try:
            selected = select_tracks(analysis, how) if analysis.tracks else []
        except DeageError as exc:
            notes.append(f"face selection of the Look failed ({exc}); measuring every face")
            selected = analysis.track_ids
        if not selected:
            notes.append("no face was found in the source range: face metrics are empty")
        gaps = {t.track_id: set(t.missing_frames) for t in analysis.tracks if t.track_id in selected}
        estimator = _age_estimator(notes) if apparent_age else None
        if look is not None and selected:
            _measure_ages(look, analysis, selected, src.read, notes, estimator)

        if matte is None and record is not None and record.get("matte"):
            from deage.video.sequence import has_frame_pattern

            candidate = render.parent / Path(record["matte"]).name
            matte = candidate if candidate.exists() or has_frame_pattern(candidate) else None
        matte_clip = open_clip(matte, exr_linear=False) if matte is not None else None  # coverage, not light
        try:
            if matte_clip is not None and len(matte_clip) != len(out):
                raise MediaError(f"matte has {len(matte_clip)} frames, the render {len(out)}", matte)
            rec, backend = make_identity_recognizer(recognizer)
            sources = _swap_sources(look, analysis, selected, rec, notes, record)
            meter = ShotMeter(rec, DlibLandmarker(), identity_every=identity_every, ages=estimator, sources=sources)
            # Re-rendered: light edits a codec hides (without a matte), and a replacement's own
            # content for its seam (with one too).
            replacing = look is not None and look.editor == "swap"
            renderer = _look_renderer(look, analysis, notes) if matte_clip is None or replacing else None
            rows = _measure_all(meter, src, out, matte_clip, start, stop, analysis, selected, gaps, look, progress,
                                renderer)
        finally:
            if matte_clip is not None:
                matte_clip.close()
        fps = float(src.info.fps)
        width, height = src.info.width, src.info.height
    metrics = _assemble(rows, render, source, (start, stop), fps, width, height, backend, look, record, notes)
    metrics.source_still = still
    metrics.matte = str(matte) if matte is not None else None
    return metrics


def _swap_sources(look: Any | None, analysis: Any, selected: list[int], recognizer: Any,
                  notes: list[str], record: dict | None = None) -> dict[int, np.ndarray]:
    """For a face-replacement Look: track id -> ``recognizer``'s descriptor of the source photo's
    face the Look puts on that track, loaded as the render loaded it (consent checked; from the
    files the render's provenance ``record`` names, where they are still there, else from the
    Look's paths). Empty for other Looks, and (with a note) when the sources cannot be loaded."""
    if look is None or look.editor != "swap" or not selected:
        return {}
    from deage.edit.swap import SwapEditor
    from deage.look import Look

    data = look.to_dict()
    recorded_sources = {e.get("source"): e for e in ((record or {}).get("editor_details") or {}).get("swap_sources")
                        or []}
    for name, entry in recorded_sources.items():
        spec = (data.get("edit") or {}).get("sources", {}).get(name)
        if isinstance(spec, dict) and entry.get("file") and Path(entry["file"]).is_file():
            spec["clip" if "clip" in spec else "photo"] = entry["file"]
    editor = SwapEditor()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the render already warned of its sources' concerns
            recorded = Look.from_dict(data)
            recorded.folder = look.folder
            editor.prepare(recorded, analysis)
        for name, source in editor.sources.items():
            recorded_hash = recorded_sources.get(name, {}).get("file_sha256")
            if recorded_hash and recorded_hash != source.file_sha256:
                notes.append(f"the replacement's source {name!r} ({source.path.name}) is not the file the render "
                             "used (its sha256 differs from the provenance's)")
        described: dict[str, np.ndarray] = {}
        out = {}
        for tid in selected:
            source = editor.source_for(tid)
            if source is None:
                continue
            if source.name not in described:
                described[source.name] = np.asarray(recognizer.describe(source.image, source.face))
            out[tid] = described[source.name]
        return out
    except DeageError as exc:
        notes.append(f"the replacement's source photos could not be loaded ({exc}): "
                     "its identity margin is not measured")
        return {}


def _age_estimator(notes: list[str]) -> Any | None:
    """The embedded ``AgeEstimator``, or None (with a note saying why) when its model is missing."""
    from deage.face.apparent_age import AgeEstimator

    try:
        return AgeEstimator()
    except DeageError as exc:
        notes.append(f"apparent age not measured: {exc}")
        return None


def _measure_ages(look: Any, analysis: Any, selected: list[int], read: Callable[[int], Image],
                  notes: list[str], estimator: Any | None) -> None:
    """With a Look whose edit depends on how old faces look (a ``target_age``, the makeup preset),
    the selected tracks' apparent ages, as the render measured them (which faces it
    should have edited, and by how much, follow from them), with ``estimator`` (None: the
    embedded one, built here)."""
    from deage.render import needs_apparent_age, uses_apparent_age

    if not uses_apparent_age(look):
        return
    from deage.face.apparent_age import measure_tracks

    try:
        measure_tracks(analysis, selected, read, estimator)
    except DeageError as exc:
        what = "target age" if needs_apparent_age(look) else "preset"
        notes.append(f"the look's {what} needs the faces' apparent ages, which cannot be measured here ({exc})")


def _look_renderer(look: Any | None, analysis: Any, notes: list[str]) -> Any | None:
    """A ``deage.render.FrameRenderer`` for the Look (to settle faces whose edit is too light to see
    through codec noise), or None when the Look edits no faces or cannot be built here."""
    if look is None:
        return None
    from deage.render import FrameRenderer, needs_apparent_age

    if needs_apparent_age(look) and not analysis.apparent_ages:
        return None  # a target age without the faces' ages (said in the notes): nothing to re-render from
    try:
        renderer = FrameRenderer(look, analysis=analysis)
    except DeageError as exc:
        notes.append(f"cannot re-render the Look here ({exc}); light edits may count as faces missed")
        return None
    return renderer if renderer.needs_faces else None


def _once(frames: Callable[[], Image] | None) -> Callable[[], Image | None]:
    """``frames`` called at most once (None when there is none): every face of a frame shares it."""
    cache: list[Image] = []

    def once() -> Image | None:
        if frames is None:
            return None
        if not cache:
            cache.append(frames())
        return cache[0]
    return once


def _measure_all(meter: ShotMeter, src: Any, out: Any, matte_clip: Any, start: int, stop: int, analysis: Any,
                 selected: list[int], gaps: dict[int, set[int]], look: Any, progress: ProgressFn | None,
                 renderer: Any | None = None) -> list[dict]:
    rows: list[dict] = []
    mattes = matte_clip.frames_float() if matte_clip is not None else None
    replacement = getattr(look, "editor", None) == "swap"
    for done, (index, a, b) in enumerate(zip(range(start, stop), src.frames(start, stop), out.frames()), start=1):
        m = next(mattes)[..., 0] if mattes is not None else None
        present = analysis.faces_at(index) if index < analysis.frame_count else {}
        faces = {t: present[t] for t in selected if t in present}
        expected = {t: expects_edit(look, index, analysis.apparent_ages.get(t)) for t in selected}
        redo = pasted = None
        if any(expected.values()) and renderer is not None:
            redo = lambda a=a, index=index, faces=faces: renderer.render(a, index, faces)[0]  # noqa: E731
            if replacement:  # a new face's features where its blend ends are not a seam
                pasted = lambda a=a, index=index, faces=faces: renderer.pasted(a, index, faces)  # noqa: E731
        measured = meter.measure(index, a, b, faces, m, redo, pasted)
        missed = sum(1 for fm in measured if not fm.edited and expected[fm.track_id])
        missed += sum(1 for t, f in faces.items() if f.landmarks is None and expected[t])
        missed += sum(1 for t, g in gaps.items() if index in g and expected[t])
        rows.append({"index": index, "faces": measured, "missed": missed})
        if progress is not None:
            progress(done, stop - start)
    return rows


def _assemble(rows: list[dict], render: Path, source: Path, frame_range: tuple[int, int], fps: float, width: int,
              height: int, backend: str, look: Any, record: dict | None, notes: list[str]) -> RenderMetrics:
    """The per-frame rows (one list of ``FaceMeasurement`` per frame) as a ``RenderMetrics``."""
    n = len(rows)
    nan = np.full(n, np.nan)

    def per_frame(fn: Callable[[list[FaceMeasurement]], float]) -> np.ndarray:
        return np.array([fn(r["faces"]) if r["faces"] else np.nan for r in rows], np.float64)

    def finite(values: list[float], reduce: Callable[[list[float]], float]) -> float:
        vals = [v for v in values if math.isfinite(v)]
        return float(reduce(vals)) if vals else float("nan")

    wr_src = {k: per_frame(lambda fs, k=k: finite([f.wrinkle_source[k] for f in fs], np.mean)) for k in REGIONS}
    wr_out = {k: per_frame(lambda fs, k=k: finite([f.wrinkle_render[k] for f in fs], np.mean)) for k in REGIONS}
    with np.errstate(invalid="ignore", divide="ignore"):
        wrinkle = {k: np.where(wr_src[k] > 0, wr_out[k] / wr_src[k] - 1.0, np.nan) for k in REGIONS}
    cr_src = per_frame(lambda fs: finite([f.crease_source for f in fs], np.mean))
    cr_out = per_frame(lambda fs: finite([f.crease_render for f in fs], np.mean))
    with np.errstate(invalid="ignore", divide="ignore"):
        crease = np.where(cr_src > 0, cr_out / cr_src - 1.0, np.nan)
    dt_src = per_frame(lambda fs: finite([f.detail_source for f in fs], np.mean))
    dt_out = per_frame(lambda fs: finite([f.detail_render for f in fs], np.mean))
    detail = per_frame(lambda fs: finite([f.detail_render / f.detail_source for f in fs if f.detail_source > 0], min))
    grainy = lambda fs: [f for f in fs if f.grain_source >= VISIBLE_GRAIN and np.isfinite(f.grain_render)]  # noqa: E731
    gr_src = per_frame(lambda fs: finite([f.grain_source for f in grainy(fs)], np.mean))
    gr_out = per_frame(lambda fs: finite([f.grain_render for f in grainy(fs)], np.mean))
    grain = per_frame(lambda fs: finite([f.grain_render / f.grain_source for f in grainy(fs)], min))
    margin = per_frame(lambda fs: finite([f.identity_distance - f.source_distance for f in fs], min))
    age_src = per_frame(lambda fs: finite([f.age_source for f in fs], np.mean))
    age_change = per_frame(lambda fs: finite([f.age_render - f.age_source for f in fs], np.mean))
    fl_src = per_frame(lambda fs: finite([f.flicker_source for f in fs], np.mean))
    fl_out = per_frame(lambda fs: finite([f.flicker_render for f in fs], np.mean))
    flicker_ratio = np.where(np.isfinite(fl_src) & np.isfinite(fl_out),
                             (fl_out + FLICKER_EPS) / (fl_src + FLICKER_EPS), nan)
    by_track: dict[int, list[tuple[float, float]]] = {}
    for r in rows:
        for f in r["faces"]:
            if math.isfinite(f.age_source) and math.isfinite(f.age_render):
                by_track.setdefault(f.track_id, []).append((f.age_source, f.age_render))
    age_by_track = {t: (float(np.mean([a for a, _ in v])), float(np.mean([b for _, b in v]))) for t, v in by_track.items()}
    boxes = np.full((n, 4), np.nan, np.float32)
    for i, r in enumerate(rows):
        if r["faces"]:
            b = np.stack([f.box for f in r["faces"]])
            boxes[i] = (*b[:, :2].min(0), *b[:, 2:].max(0))
    return RenderMetrics(
        render=str(render),
        source=str(source),
        frame_range=frame_range,
        frames=np.array([r["index"] for r in rows], np.int64),
        fps=fps,
        width=width,
        height=height,
        identity_backend=backend,
        faces=np.array([len(r["faces"]) for r in rows], np.int64),
        faces_missed=np.array([r["missed"] for r in rows], np.int64),
        identity_distance=per_frame(lambda fs: finite([f.identity_distance for f in fs], max)),
        wrinkle_change=wrinkle,
        flicker_ratio=flicker_ratio,
        flicker_render=fl_out,
        flicker_source=fl_src,
        edit_flicker=per_frame(lambda fs: finite([f.edit_flicker for f in fs], np.mean)),
        landmark_jitter=per_frame(lambda fs: finite([f.jitter_render for f in fs], np.mean)),
        landmark_jitter_source=per_frame(lambda fs: finite([f.jitter_source for f in fs], np.mean)),
        landmark_shift=per_frame(lambda fs: finite([f.landmark_shift for f in fs], np.mean)),
        seam_ratio=per_frame(lambda fs: finite([f.seam_ratio for f in fs], max)),
        face_boxes=boxes,
        wrinkle_source=wr_src,
        wrinkle_render=wr_out,
        crease_change=crease,
        crease_source=cr_src,
        crease_render=cr_out,
        age_source=age_src,
        age_change=age_change,
        age_by_track=age_by_track,
        feature_detail=detail,
        detail_source=dt_src,
        detail_render=dt_out,
        grain_match=grain,
        grain_source=gr_src,
        grain_render=gr_out,
        swap_margin=margin,
        source_distance=per_frame(lambda fs: finite([f.source_distance for f in fs], max)),
        look=look.to_dict() if look is not None else None,
        provenance=record,
        warnings=notes,
    )


def save_metrics(metrics: RenderMetrics, path: str | Path) -> Path:
    """Write ``metrics.to_dict()`` as JSON (atomically); returns the path."""
    from deage.safe_write import atomic_output, check_output_path

    p = check_output_path(path, metrics.render, metrics.source)
    with atomic_output(p) as tmp:
        tmp.write_text(json.dumps(metrics.to_dict(), indent=1) + "\n", encoding="utf-8")
    return p
