"""The analysis pass: detect, fit landmarks, track and smooth every face of a clip, once, cached.

Example::

    from deage.face.analysis import AnalysisSettings, analyse_clip

    analysis = analyse_clip("shot.mp4", progress="tqdm")      # cached beside the clip
    for row in analysis.summary():
        print(row)
    faces = analysis.faces_at(120)                           # {track id: Face}

The cache (one ``.npz`` file, no pickle) is keyed by the clip's content hash and every setting
that changes tracking; it holds the raw, unsmoothed tracks. Smoothing is applied on load, so
changing only the smoothing parameters re-uses the cache (smoothing a clip takes milliseconds),
while any other setting change recomputes. A cache file that cannot be read, or whose recorded
clip hash or settings differ, is ignored and rewritten (atomically).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
from collections.abc import Callable, Iterable, Sized
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from deage.errors import DeageError
from deage.face.detect import make_detector, make_landmarker, make_recognizer
from deage.face.smooth import OneEuroParams, smooth_track
from deage.face.track import TrackerConfig, TrackingResult, track_faces
from deage.safe_write import atomic_output
from deage.types import Face, Image, Track

if TYPE_CHECKING:  # pragma: no cover
    from deage.video import Clip

log = logging.getLogger("deage.analysis")

ANALYSIS_VERSION = 16
"""Bump when a code change alters analysis results: it invalidates every cache."""

CACHE_SUFFIX = ".analysis.npz"
_FORMAT = "deage-analysis"
_T = TrackerConfig()
_S = OneEuroParams()

Progress = Callable[[int, "int | None"], None]


CNN_MODES = ("stills", "keyframes", "off")
"""When the analysis also runs dlib's CNN detector (``AnalysisSettings.cnn``)."""


@dataclass(frozen=True)
class AnalysisSettings:
    """Every knob of the analysis pass (frozen: usable as a cache key).

    Engines:
        detector, landmarker, recognizer: engine names (``"dlib"`` is embedded; others need model
            files, see ``deage.face.detect``).
    Detection (dlib):
        detect_every: frames between keyframes (the detector also runs whenever tracking is doubtful).
        detect_scale: resize factor for detection (0.5 = half-size frame); None = automatic from
            ``min_face_size`` (big frames are detected downscaled, small faces upscaled).
        upsample: extra 2x upsamplings inside dlib's detector (finds faces half as big, 4x slower).
        min_face_size: smallest face (box width, px) to find and to start a track on; None = the
            larger of 80 px and 1/12 of the frame's short side (in a single photo: of 40 px and 1/40).
        detect_threshold: added to dlib's detection threshold (negative = more faces, more false ones).
        landmark_crop: side (px) of the crop landmarks are fitted in (bigger = finer, slower).
        cnn: when dlib's CNN face detector also runs and its faces are merged with HOG's (it finds
            turned, dim and partly hidden faces; ~1-3 s a frame on a CPU): ``"stills"`` (single
            photos only, the default), ``"keyframes"`` (every detection of a clip) or ``"off"``.
    Tracking: see ``deage.face.track.TrackerConfig`` for ``match_iou``, ``min_appearance``,
        ``max_shape_change``, ``min_step_iou``, ``min_visible``, ``keyframe_patience``,
        ``reanchor_distance``, ``coast_frames``, ``backfill``, ``min_track_score``, ``verify_below``,
        ``cuts``, ``search_every`` (in a clip with dlib's detector, the searcher is dlib's
        photo-mode detector: faces down to 40 px and heads tilted up to ~65 degrees; 0.5-2.5 s a
        search on a CPU; the verifier of low-scoring tracks is dlib's CNN detector, ~0.5 s a track).
    Identity:
        descriptors: compute identity descriptors (re-identify faces that come back; select by photo).
        descriptor_interval: frames between descriptor refreshes per track (0 = only when a track starts);
            a refresh that shows another person splits the track there (a dissolve, a fit that slid).
        reid_threshold: largest descriptor distance to re-identify; None = 2/3 of the recognizer's
            threshold (``deage.face.track.REID_FRACTION``).
    Smoothing (applied after tracking; changing these re-uses the cache):
        smooth: apply the One Euro filter to landmarks and boxes.
        min_cutoff, beta, d_cutoff, zero_phase: see ``deage.face.smooth.OneEuroParams``.
    """

    detector: str = "dlib"
    landmarker: str = "dlib"
    recognizer: str = "dlib"
    detect_every: int = _T.detect_every
    detect_scale: float | None = None
    upsample: int = 0
    min_face_size: float | None = None
    detect_threshold: float = 0.0
    landmark_crop: int = 256
    cnn: str = "stills"
    match_iou: float = _T.match_iou
    min_appearance: float = _T.min_appearance
    max_shape_change: float = _T.max_shape_change
    min_step_iou: float = _T.min_step_iou
    min_visible: float = _T.min_visible
    keyframe_patience: int = _T.keyframe_patience
    reanchor_distance: float = _T.reanchor_distance
    coast_frames: int | None = _T.coast_frames
    backfill: bool = _T.backfill
    min_track_score: float = _T.min_track_score
    verify_below: float = _T.verify_below
    search_every: int = _T.search_every
    cuts: bool = _T.cuts
    descriptors: bool = _T.descriptors
    descriptor_interval: int = _T.descriptor_interval
    reid_threshold: float | None = _T.reid_threshold
    smooth: bool = True
    min_cutoff: float = _S.min_cutoff
    beta: float = _S.beta
    d_cutoff: float = _S.d_cutoff
    zero_phase: bool = _S.zero_phase

    _SMOOTHING = ("smooth", "min_cutoff", "beta", "d_cutoff", "zero_phase")

    def __post_init__(self) -> None:
        self.tracker_config()  # validates the tracking knobs
        self.one_euro()
        if self.landmark_crop < 64:
            raise DeageError(f"landmark_crop must be at least 64 px, got {self.landmark_crop}")
        if self.cnn not in CNN_MODES:
            raise DeageError(f"cnn must be one of {', '.join(CNN_MODES)}, got {self.cnn!r}")

    def runs_cnn(self, photo: bool) -> bool:
        """Whether dlib's CNN detector runs in an analysis with these settings (``photo``: of a single image)."""
        return self.cnn == "keyframes" or (self.cnn == "stills" and photo)

    def tracker_config(self) -> TrackerConfig:
        """The ``TrackerConfig`` these settings describe."""
        names = [f.name for f in dataclasses.fields(TrackerConfig)]
        return TrackerConfig(**{n: getattr(self, n) for n in names})

    def one_euro(self) -> OneEuroParams:
        """The smoothing filter's parameters."""
        return OneEuroParams(self.min_cutoff, self.beta, self.d_cutoff, self.zero_phase)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict of every setting."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AnalysisSettings:
        """Settings from ``to_dict`` output; unknown keys raise ``DeageError``."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise DeageError(f"unknown analysis settings: {', '.join(unknown)}")
        return cls(**data)

    def tracking_key(self) -> str:
        """sha256 (hex) of the settings that change tracking results (all but smoothing), the code
        version (``ANALYSIS_VERSION``) and dlib's version."""
        import dlib

        relevant = {k: v for k, v in self.to_dict().items() if k not in self._SMOOTHING}
        blob = json.dumps({"version": ANALYSIS_VERSION, "dlib": dlib.__version__, "settings": relevant}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()


@dataclass
class Analysis:
    """Faces of a whole clip: tracks of per-frame ``Face`` objects (landmarks smoothed as set).

    Every face has a box (dlib-style: brow to chin), 68 landmarks and keypoints5 in frame pixels;
    its ``score`` is that of the detection that last confirmed its track (frames between
    keyframes carry it); ``descriptor`` is set only on the frames where one was computed.

    Attributes:
        clip_hash: content hash of the clip ("" for frames that came from memory).
        settings: the settings used.
        frame_count: frames analysed.
        fps: frame rate.
        width, height: frame size (px).
        tracks: sorted by id (ids start at 1).
        frames_without_face: frames no track covers.
        keyframes: frames where the detector ran.
        cuts: first frames of new shots (hard cuts). Every track ends at one; a face after it that
            is re-identified as the same person continues its id, and nothing is smoothed across it.
        pixel_aspect: width / height of one frame pixel (``ClipInfo.pixel_aspect``). An anamorphic
            clip is analysed unsqueezed (faces are found with their true proportions); the faces
            are stored in the clip's own pixels and carry this value (``Face.pixel_aspect``).
        from_cache: True when this analysis was loaded from the disk cache (not part of equality).
        source: the clip's path, for messages ("" when unknown).
        apparent_ages: track id -> how old that face looks, in years, for the tracks measured
            (``deage.face.apparent_age.measure_tracks``: a render whose Look has a ``target_age``
            measures its tracks; ``deage analyse --ages``); not part of equality.
        glasses: track id -> the share (0..1) of its best-seen frames that show glasses, for the
            tracks measured (``deage.face.glasses.measure_tracks``: a render with the makeup or
            swap editor measures its tracks when it starts); not saved, not part of equality.
    """

    clip_hash: str
    settings: AnalysisSettings
    frame_count: int
    fps: Fraction
    width: int
    height: int
    tracks: list[Track]
    frames_without_face: list[int]
    keyframes: list[int] = field(default_factory=list)
    cuts: list[int] = field(default_factory=list)
    pixel_aspect: float = 1.0
    from_cache: bool = field(default=False, compare=False)
    source: str = field(default="", compare=False)
    apparent_ages: dict[int, float] = field(default_factory=dict, compare=False)
    glasses: dict[int, float] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        self.pixel_aspect = float(self.pixel_aspect)
        for t in self.tracks:
            for face in t.faces.values():
                face.pixel_aspect = self.pixel_aspect

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Analysis):
            return NotImplemented
        same_meta = (self.clip_hash, self.settings, self.frame_count, self.fps, self.width, self.height,
                     self.frames_without_face, self.keyframes, self.cuts, self.pixel_aspect) == (
            other.clip_hash, other.settings, other.frame_count, other.fps, other.width, other.height,
            other.frames_without_face, other.keyframes, other.cuts, other.pixel_aspect)
        return same_meta and len(self.tracks) == len(other.tracks) and all(
            _tracks_equal(a, b) for a, b in zip(self.tracks, other.tracks)
        )

    @property
    def track_ids(self) -> list[int]:
        return [t.track_id for t in self.tracks]

    def faces_at(self, frame: int) -> dict[int, Face]:
        """``{track id: Face}`` of every face in frame ``frame`` (0-based)."""
        if not 0 <= frame < self.frame_count:
            raise DeageError(f"frame {frame} is out of range (the analysis has {self.frame_count} frames)", self.source or None)
        return {t.track_id: t.faces[frame] for t in self.tracks if frame in t.faces}

    def motion(self, track_id: int, frame: int) -> np.ndarray | None:
        """How far face ``track_id`` moves a frame at ``frame``: float64 (2,) frame pixels (x, y),
        its landmarks' mean displacement between the neighbouring frames (half of next minus
        previous; one side only at a track's end or a cut); None where the track has neither
        neighbour (a photo, a single frame) or no landmarks there."""
        track = self._find(track_id)
        face = track.faces.get(frame) if track is not None else None
        if face is None or face.landmarks is None:
            return None

        def points(index: int) -> np.ndarray | None:
            other = track.faces.get(index)
            crossing = max(index, frame) in self.cuts  # a neighbour across a cut is another shot
            if other is None or other.landmarks is None or crossing:
                return None
            return np.asarray(other.landmarks, np.float64).mean(axis=0)

        before, after = points(frame - 1), points(frame + 1)
        here = np.asarray(face.landmarks, np.float64).mean(axis=0)
        if before is not None and after is not None:
            return (after - before) / 2.0
        if after is not None:
            return after - here
        if before is not None:
            return here - before
        return None

    def track(self, track_id: int) -> Track:
        """The track with this id."""
        found = self._find(track_id)
        if found is not None:
            return found
        ids = ", ".join(map(str, self.track_ids)) or "none"
        raise DeageError(f"no face track {track_id}; the tracks are: {ids}", self.source or None)

    def _find(self, track_id: int) -> Track | None:
        """The track with this id, or None."""
        return next((t for t in self.tracks if t.track_id == track_id), None)

    def summary(self) -> list[dict[str, Any]]:
        """One row per track, what ``deage analyse`` prints: ``id``, ``first_frame``, ``last_frame``,
        ``frames`` (how many have this face), ``frames_without_face`` (list of the frames between
        first and last without it), ``mean_score``, and ``apparent_age`` for a measured track."""
        return [
            {
                "id": t.track_id,
                "first_frame": t.first_frame,
                "last_frame": t.last_frame,
                "frames": len(t.faces),
                "frames_without_face": t.missing_frames,
                "mean_score": round(t.mean_score, 3),
                **({"apparent_age": round(self.apparent_ages[t.track_id], 1)} if t.track_id in self.apparent_ages else {}),
            }
            for t in self.tracks
        ]

    def format_summary(self) -> str:
        """The summary as an aligned text table, with a line for frames that have no face."""
        head = f"{self.source or 'clip'}: {self.width}x{self.height}, {self.frame_count} frames @ {float(self.fps):.3f} fps"
        ages = bool(self.apparent_ages)
        lines = [head, f"{'track':>5} {'first':>6} {'last':>6} {'frames':>6} {'gaps':>5} {'score':>6}"
                       + (f" {'looks':>5}" if ages else "")]
        for row in self.summary():
            looks = f" {row['apparent_age']:>5.1f}" if "apparent_age" in row else (f" {'-':>5}" if ages else "")
            lines.append(
                f"{row['id']:>5} {row['first_frame']:>6} {row['last_frame']:>6} {row['frames']:>6} "
                f"{len(row['frames_without_face']):>5} {row['mean_score']:>6.3f}{looks}"
            )
        lines.append(f"frames without a face: {_ranges_text(self.frames_without_face) or 'none'}")
        return "\n".join(lines)

    def to_json(self, *, faces: bool = False) -> dict[str, Any]:
        """JSON-ready dict: clip facts, settings, ``tracks`` (the summary rows) and
        ``frames_without_face`` as ``[first, last]`` inclusive ranges. ``faces=True`` adds each
        track's per-frame box, score, keypoints5 and landmarks (large)."""
        out: dict[str, Any] = {
            "source": self.source,
            "clip_hash": self.clip_hash,
            "width": self.width,
            "height": self.height,
            "pixel_aspect": self.pixel_aspect,
            "frame_count": self.frame_count,
            "fps": str(self.fps),
            "settings": self.settings.to_dict(),
            "tracks": self.summary(),
            "frames_without_face": _ranges(self.frames_without_face),
            "keyframes": len(self.keyframes),
            "cuts": self.cuts,
        }
        if faces:
            for row, t in zip(out["tracks"], self.tracks):
                row["faces"] = {
                    str(i): {
                        "box": np.round(f.box, 2).tolist(),
                        "score": round(f.score, 4),
                        "keypoints5": np.round(f.keypoints5, 2).tolist(),
                        "landmarks": None if f.landmarks is None else np.round(f.landmarks, 2).tolist(),
                    }
                    for i, f in sorted(t.faces.items())
                }
        return out

    # -- persistence (raw tracks; no pickle)

    def save(self, path: str | Path) -> Path:
        """Write to an ``.npz`` file atomically (JSON metadata + arrays, loadable without pickle)."""
        path = Path(path)
        meta = {
            "format": _FORMAT,
            "version": ANALYSIS_VERSION,
            "clip_hash": self.clip_hash,
            "settings": self.settings.to_dict(),
            "frame_count": self.frame_count,
            "fps": str(self.fps),
            "width": self.width,
            "height": self.height,
            "pixel_aspect": self.pixel_aspect,
            "frames_without_face": self.frames_without_face,
            "keyframes": self.keyframes,
            "cuts": self.cuts,
            "tracks": self.track_ids,
            "source": self.source,
            "apparent_ages": {str(k): v for k, v in self.apparent_ages.items()},
        }
        arrays: dict[str, np.ndarray] = {"meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)}
        for t in self.tracks:
            arrays.update(_track_arrays(t))
        with atomic_output(path) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, **arrays)
        return path

    @classmethod
    def load(cls, path: str | Path) -> Analysis:
        """Read a file written by ``save``. Raises ``DeageError`` naming the file when it is not one."""
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(bytes(data["meta"]).decode())
                if meta.get("format") != _FORMAT:
                    raise ValueError("not a deage analysis file")
                if meta.get("version") != ANALYSIS_VERSION:
                    raise ValueError(f"analysis format version {meta.get('version')}, expected {ANALYSIS_VERSION}")
                tracks = [_track_from_arrays(int(tid), data) for tid in meta["tracks"]]
            return cls(
                clip_hash=str(meta["clip_hash"]),
                settings=AnalysisSettings.from_dict(meta["settings"]),
                frame_count=int(meta["frame_count"]),
                fps=Fraction(meta["fps"]),
                width=int(meta["width"]),
                height=int(meta["height"]),
                tracks=tracks,
                frames_without_face=[int(i) for i in meta["frames_without_face"]],
                keyframes=[int(i) for i in meta["keyframes"]],
                cuts=[int(i) for i in meta.get("cuts", [])],
                pixel_aspect=float(meta.get("pixel_aspect", 1.0)),
                source=str(meta.get("source", "")),
                apparent_ages={int(k): float(v) for k, v in meta.get("apparent_ages", {}).items()},
            )
        except DeageError:
            raise
        except Exception as exc:  # corrupt zip, bad JSON, missing arrays, wrong shapes...
            raise DeageError(f"unreadable analysis file ({type(exc).__name__}: {exc})", path) from exc


# ---------------------------------------------------------------- arrays <-> tracks


def _track_arrays(t: Track) -> dict[str, np.ndarray]:
    frames = sorted(t.faces)
    faces = [t.faces[i] for i in frames]
    lms = np.full((len(frames), 68, 2), np.nan, dtype=np.float32)
    for k, f in enumerate(faces):
        if f.landmarks is not None:
            lms[k] = f.landmarks
    described = [(i, f.descriptor) for i, f in zip(frames, faces) if f.descriptor is not None]
    width = len(described[0][1]) if described else 0
    p = f"t{t.track_id}_"
    return {
        p + "frames": np.asarray(frames, dtype=np.int64),
        p + "boxes": np.stack([f.box for f in faces]).astype(np.float32),
        p + "scores": np.asarray([f.score for f in faces], dtype=np.float64),
        p + "kp5": np.stack([f.keypoints5 for f in faces]).astype(np.float32),
        p + "landmarks": lms,
        p + "desc_frames": np.asarray([i for i, _ in described], dtype=np.int64),
        p + "desc": np.asarray([d for _, d in described], dtype=np.float32).reshape(len(described), width),
    }


def _track_from_arrays(tid: int, data: Any) -> Track:
    p = f"t{tid}_"
    frames = data[p + "frames"]
    boxes, scores, kp5, lms = data[p + "boxes"], data[p + "scores"], data[p + "kp5"], data[p + "landmarks"]
    n = len(frames)
    if boxes.shape != (n, 4) or scores.shape != (n,) or kp5.shape != (n, 5, 2) or lms.shape != (n, 68, 2):
        raise ValueError(f"track {tid} arrays have inconsistent shapes")
    descriptors = dict(zip(data[p + "desc_frames"].tolist(), data[p + "desc"]))
    track = Track(tid)
    for k, i in enumerate(frames.tolist()):
        lm = None if np.isnan(lms[k]).any() else lms[k].copy()
        track.faces[int(i)] = Face(boxes[k].copy(), float(scores[k]), kp5[k].copy(), lm, descriptors.get(i))
    return track


def _arrays_equal(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return np.array_equal(np.asarray(a), np.asarray(b))


def _tracks_equal(a: Track, b: Track) -> bool:
    if a.track_id != b.track_id or sorted(a.faces) != sorted(b.faces):
        return False
    for i, fa in a.faces.items():
        fb = b.faces[i]
        if not (fa.score == fb.score and _arrays_equal(fa.box, fb.box) and _arrays_equal(fa.keypoints5, fb.keypoints5)
                and _arrays_equal(fa.landmarks, fb.landmarks) and _arrays_equal(fa.descriptor, fb.descriptor)):
            return False
    return True


def _ranges(frames: list[int]) -> list[list[int]]:
    out: list[list[int]] = []
    for i in frames:
        if out and i == out[-1][1] + 1:
            out[-1][1] = i
        else:
            out.append([i, i])
    return out


def _ranges_text(frames: list[int]) -> str:
    return ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in _ranges(frames))


# ---------------------------------------------------------------- running the pass


def _as_fps(fps: Fraction | float | int) -> Fraction:
    try:
        value = Fraction(fps).limit_denominator(1001 * 1000) if not isinstance(fps, Fraction) else fps
    except (TypeError, ValueError):
        raise DeageError(f"frame rate must be a number, got {fps!r}") from None
    if not (value > 0 and math.isfinite(float(value))):
        raise DeageError(f"frame rate must be positive, got {fps}")
    return value


def _make_progress(progress: Progress | Literal["tqdm"] | None, total: int | None) -> tuple[Progress | None, Callable[[], None]]:
    if progress == "tqdm":
        from tqdm.auto import tqdm

        bar = tqdm(total=total, unit="frame", desc="analysing faces")

        def update(done: int, _total: int | None) -> None:
            bar.update(done - bar.n)

        return update, bar.close
    if progress is not None and not callable(progress):
        raise DeageError(f"progress must be a callable(done, total), 'tqdm' or None, got {progress!r}")
    return progress, lambda: None


def _engines(settings: AnalysisSettings, total: int | None = None):
    """Detector, landmarker, recognizer, searcher and verifier (or None) for ``settings``; ``total``
    frames (1 = a photo) or None. With dlib's detector, the searcher (clips) is dlib's photo mode
    and the verifier of low-scoring tracks dlib's CNN detector (HOG's scores are what it checks)."""
    landmarker = make_landmarker(settings.landmarker, **({"crop_size": settings.landmark_crop} if settings.landmarker == "dlib" else {}))
    options: dict[str, Any] = {}
    searcher = verifier = None
    if settings.detector == "dlib":
        photo = total == 1
        options = dict(min_face_size=settings.min_face_size, scale=settings.detect_scale, upsample=settings.upsample,
                       threshold=settings.detect_threshold, landmarker=landmarker, cnn=settings.runs_cnn(photo))
        if not photo and settings.search_every > 0:
            searcher = make_detector(settings.detector, **options, photo=True)
        options["photo"] = photo
    detector = make_detector(settings.detector, **options)
    if settings.detector == "dlib":
        verifier = detector.verifier()  # shares the detector's CNN where it runs one (photos)
    recognizer = make_recognizer(settings.recognizer) if settings.descriptors else None
    return detector, landmarker, recognizer, searcher, verifier


def _track_frames(frames: Iterable[Image], settings: AnalysisSettings, progress: Progress | None, total: int | None,
                  pixel_aspect: float = 1.0) -> TrackingResult:
    detector, landmarker, recognizer, searcher, verifier = _engines(settings, total)
    report = None if progress is None else (lambda done: progress(done, total))
    if pixel_aspect == 1.0:
        return track_faces(frames, detector, landmarker, recognizer, settings.tracker_config(), report, searcher,
                           verifier)
    unsqueeze = Unsqueeze(pixel_aspect)
    raw = track_faces(map(unsqueeze.frame, frames), detector, landmarker, recognizer, settings.tracker_config(),
                      report, searcher, verifier)
    return unsqueeze.result(raw)


class Unsqueeze:
    """Frames of non-square pixels resampled to square ones for the face models (which know
    faces only with their true proportions), and the faces found mapped back to the frame's pixels.

    The longer pixel side is shrunk (never enlarged): a 2x anamorphic frame is analysed at half
    its height, full width.
    """

    def __init__(self, pixel_aspect: float) -> None:
        if not math.isfinite(pixel_aspect) or pixel_aspect <= 0:
            raise DeageError(f"pixel_aspect must be a positive number, got {pixel_aspect}")
        self.pixel_aspect = float(pixel_aspect)
        self._scale: tuple[float, float] | None = None  # frame px per square px (x, y)

    def frame(self, frame: Image) -> Image:
        """``frame`` (RGB uint8 (H, W, 3)) with square pixels."""
        import cv2

        height, width = frame.shape[:2]
        if self.pixel_aspect > 1:
            size = (width, max(1, round(height / self.pixel_aspect)))
        else:
            size = (max(1, round(width * self.pixel_aspect)), height)
        self._scale = (width / size[0], height / size[1])
        return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)

    def points(self, points: np.ndarray) -> np.ndarray:
        """Square-pixel coordinates (float (..., 2), or a (4,) box) -> frame pixels."""
        assert self._scale is not None
        scale = np.tile(np.array(self._scale, np.float32), np.shape(points)[-1] // 2)
        return ((np.asarray(points, np.float32) + 0.5) * scale - 0.5).astype(np.float32)

    def result(self, raw: TrackingResult) -> TrackingResult:
        """``raw`` (tracked on square-pixel frames) in frame pixels."""
        if self._scale is None:  # no frames
            return raw
        for track in raw.tracks:
            for index, face in track.faces.items():
                track.faces[index] = dataclasses.replace(
                    face, box=self.points(face.box), keypoints5=self.points(face.keypoints5),
                    landmarks=None if face.landmarks is None else self.points(face.landmarks))
        width, height = (round(n * k) for n, k in zip((raw.width, raw.height), self._scale))
        return dataclasses.replace(raw, width=width, height=height)


def _build(raw: TrackingResult, fps: Fraction, settings: AnalysisSettings, clip_hash: str, source: str,
           size: tuple[int, int] | None = None, pixel_aspect: float = 1.0) -> Analysis:
    covered = set()
    for t in raw.tracks:
        covered.update(t.faces)
    return Analysis(
        clip_hash=clip_hash,
        settings=settings,
        frame_count=raw.frame_count,
        fps=fps,
        width=raw.width if raw.frame_count or size is None else size[0],
        height=raw.height if raw.frame_count or size is None else size[1],
        tracks=raw.tracks,
        frames_without_face=[i for i in range(raw.frame_count) if i not in covered],
        keyframes=raw.keyframes,
        cuts=raw.cuts,
        pixel_aspect=pixel_aspect,
        source=source,
    )


def smoothed(analysis: Analysis, settings: AnalysisSettings | None = None) -> Analysis:
    """A copy of a raw analysis with its tracks smoothed by ``settings`` (default: its own), which it then records."""
    settings = settings or analysis.settings
    tracks = analysis.tracks
    if settings.smooth:
        tracks = [smooth_track(t, float(analysis.fps), settings.one_euro(), analysis.cuts) for t in tracks]
    return dataclasses.replace(analysis, tracks=tracks, settings=settings)


def analyse_frames(
    frames: Iterable[Image],
    fps: Fraction | float,
    settings: AnalysisSettings = AnalysisSettings(),
    progress: Progress | Literal["tqdm"] | None = None,
    pixel_aspect: float = 1.0,
) -> Analysis:
    """Analyse any iterable of RGB uint8 (H, W, 3) frames (no cache); ``clip_hash`` is "".

    Args:
        frames: the frames in order (a list, a generator, ``clip.frames()``).
        fps: frame rate (timestamps for smoothing are ``frame / fps``).
        settings: ``AnalysisSettings``.
        progress: ``progress(frames_done, total_or_None)`` after every frame, or ``"tqdm"`` for a bar.
        pixel_aspect: width / height of one frame pixel (see ``Analysis.pixel_aspect``).
    """
    rate = _as_fps(fps)
    total = len(frames) if isinstance(frames, Sized) else None
    callback, close = _make_progress(progress, total)
    try:
        raw = _track_frames(frames, settings, callback, total, float(pixel_aspect))
    finally:
        close()
    return smoothed(_build(raw, rate, settings, "", "", pixel_aspect=float(pixel_aspect)), settings)


def default_cache_dir(clip_path: str | Path | None) -> Path:
    """``.deage-cache/`` beside the clip when that folder can be written, else ``~/.cache/deage``."""
    if clip_path is not None:
        folder = Path(clip_path).parent / ".deage-cache"
        try:
            folder.mkdir(exist_ok=True)
            if os.access(folder, os.W_OK | os.X_OK):
                return folder
        except OSError:
            pass
    return Path.home() / ".cache" / "deage"


def cache_path(cache_dir: str | Path, clip_name: str, clip_hash: str, settings: AnalysisSettings) -> Path:
    """Where the analysis of a clip with these settings is cached."""
    stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in Path(clip_name).stem)[:40] or "clip"
    return Path(cache_dir) / f"{stem}-{clip_hash[:16]}-{settings.tracking_key()[:16]}{CACHE_SUFFIX}"


def _read_cache(path: Path, clip_hash: str, settings: AnalysisSettings, pixel_aspect: float = 1.0) -> Analysis | None:
    if not path.is_file():
        return None
    try:
        cached = Analysis.load(path)
    except DeageError as exc:
        log.warning("ignoring the analysis cache: %s", exc)
        return None
    if cached.clip_hash != clip_hash or cached.settings.tracking_key() != settings.tracking_key() \
            or cached.pixel_aspect != pixel_aspect:
        log.warning("ignoring the analysis cache %s: it was made for another clip or other settings", path)
        return None
    return cached


def analyse_clip(
    clip: Clip | str | Path,
    settings: AnalysisSettings = AnalysisSettings(),
    *,
    cache_dir: str | Path | None = None,
    progress: Progress | Literal["tqdm"] | None = None,
    use_cache: bool = True,
) -> Analysis:
    """Analyse a clip (a ``deage.video.Clip`` or a path), or load the analysis from the cache.

    Args:
        clip: an open clip, or a path ``deage.video.open_clip`` accepts.
        settings: ``AnalysisSettings``.
        cache_dir: cache folder; None = ``default_cache_dir`` (``.deage-cache`` beside the clip).
        progress: ``progress(frames_done, frame_count)`` after every analysed frame (never
            called on a cache hit), or ``"tqdm"`` for a progress bar.
        use_cache: False always recomputes and does not write the cache.

    Returns:
        The ``Analysis``; ``from_cache`` says whether it was loaded from disk.

    Raises:
        MediaError: the clip cannot be read. DeageError: bad settings.
    """
    if isinstance(clip, (str, Path)):
        from deage.video import open_clip

        with open_clip(clip) as opened:
            return analyse_clip(opened, settings, cache_dir=cache_dir, progress=progress, use_cache=use_cache)

    info = clip.info
    source = str(getattr(info, "path", "") or "")
    clip_hash = clip.content_hash()
    pixel_aspect = float(getattr(info, "pixel_aspect", 1))
    if use_cache:  # (without it no cache folder is made, beside the clip or anywhere)
        folder = Path(cache_dir) if cache_dir is not None else default_cache_dir(source or None)
        path = cache_path(folder, source or "clip", clip_hash, settings)
        cached = _read_cache(path, clip_hash, settings, pixel_aspect)
        if cached is not None:
            result = smoothed(dataclasses.replace(cached, source=source), settings)
            result.from_cache = True
            return result

    total = len(clip)
    callback, close = _make_progress(progress, total)
    try:
        raw = _track_frames(clip.frames(), settings, callback, total, pixel_aspect)
    finally:
        close()
    analysis = _build(raw, _as_fps(info.fps), settings, clip_hash, source, (info.width, info.height), pixel_aspect)
    if use_cache:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            analysis.save(path)
        except OSError as exc:
            log.warning("could not write the analysis cache %s: %s", path, exc)
    return smoothed(analysis, settings)
