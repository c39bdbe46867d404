"""Follow faces through a clip: detect on keyframes, re-fit the landmarks in between.

How one frame is handled (``FaceTracker.update``):

0. **Cut?** A frame that starts a new shot (``deage.video.cuts``) ends every track and is a keyframe.
   **The same picture again?** A frame that repeats the one before (``frame_repeats``: a held
   frame, animation on twos, a frame-rate conversion's doubled frames) gets every face exactly as
   it was, with no fit and no detection: re-fitted, its landmarks moved by a few pixels, and a
   face swap shimmered on frames whose picture did not change. Where a keyframe (or a search)
   is due that the picture never had, new and lost faces are looked for on it all the same
   (``_look_at_held``): a face uncovered, after which the shot stood still, was never detected.
1. **Propagate.** Every live track re-fits its 68 landmarks inside a box placed from its
   previous landmarks, moved by its last frame-to-frame motion (~1.5 ms a face with dlib; a head
   tilted by ``ROLL_MIN`` or more is fitted turned upright), then
   judges the fit: the box must stay mostly in the frame, not jump (landmark-box IoU with the
   predicted position), keep a plausible shape
   (similarity-aligned change against the last confirmed shape) and still look like the same
   face (normalised cross-correlation of a small aligned grey patch against the last confirmed one).
2. **Detect** when a keyframe is due (every ``detect_every`` frames) or any track's fit was
   judged doubtful. Detections are matched to tracks by box IoU (Hungarian assignment,
   ``scipy.optimize.linear_sum_assignment``). A matched track keeps its tracked landmarks when
   they agree with the detection (no pop at keyframes) and is re-anchored on the detection when
   they drift apart. A track the detector misses is looked for again in a crop around it, scaled
   so the face is ``LOCAL_FACE`` px wide and turned upright if the head is tilted; one not found
   there either survives ``keyframe_patience`` keyframes if its fit still looks good; one whose
   fit is doubtful is looked for in such a crop where it last was and re-fitted in the box found
   there; else it ends. A matched detection whose fit is much larger or smaller than a tracked fit
   that looks right (``SCALE_JUMP``) is taken only if it looks more like the face.
   While nothing is tracked and the detector finds nothing, a slower ``searcher`` (smaller and
   tilted faces) runs on keyframes, ever more rarely while it finds nothing (``search_every``);
   while faces are tracked, it sweeps now and then for small faces beside them (``SWEEP_GAP``),
   and soon after a track is lost inside the frame (``LOST_INSIDE``).
3. **Born or returning faces.** An unmatched detection is compared with ended tracks by identity
   descriptor (only here, and every ``descriptor_interval`` frames per track: a dlib descriptor
   costs ~70 ms), or, without descriptors, by position for a short gap within the shot; a match
   revives the old id, else a new id starts. A new track is then followed backwards over the frames since the
   previous keyframe (``backfill``), so a face that entered between keyframes starts on the
   frame it became trackable, not on the next keyframe.
4. **Faces gone from view.** A track lost inside the frame (a face that passed behind another,
   behind a pillar) is looked for again up close, on the next ``LOOK_AGAIN_KEYFRAMES`` keyframes,
   where it was and where its motion would have taken it; found there and the same face (its
   descriptor, or its look without descriptors), it continues under its id, followed back over
   the frames since the keyframe before, and the searcher's next sweep comes sooner
   (``LOST_INSIDE``). A face the keyframe's detector cannot see (too small for it) would otherwise
   wait for the next sweep, up to ``SWEEP_GAP * search_every`` frames.
5. **Another person.** A track's descriptor, refreshed every ``descriptor_interval`` frames,
   that is another person's (a dissolve between shots with faces at the same place, a fit slid
   onto a neighbour) splits the track where the picture changed (``_split``).

Frames with no face are simply frames no track covers. The result is raw (unsmoothed)
landmarks; ``deage.face.analysis`` smooths them.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

from deage.errors import DeageError
from deage.face.align import template_points
from deage.face.backends.common import roll_degrees, upright_matrix
from deage.face.backends.dlib_backend import (
    ROLL_REFIT,
    DlibDetector,
    DlibLandmarker,
    keypoints5_from_landmarks,
    to_gray,
)
from deage.face.detect import box_iou, points_box, visible_fraction
from deage.face.masks import FaceFrame
from deage.face.protocols import Detector, FaceVerifier, Landmarker, Recognizer
from deage.types import Face, Image, Points, Track
from deage.video.cuts import CutDetector

RIGID = slice(27, 48)
"""Nose and eye landmarks: they move least with expression, so they place the tracking box."""

_STILL = 0.02
"""Frame-to-frame motion (fraction of the face width) under which a face counts as still (no prediction)."""
ROLL_MIN = ROLL_REFIT
"""Head roll (degrees) from which a tracked face is fitted and verified turned upright: dlib's frontal
detector and shape predictor were trained on upright faces and lose a head tilted past ~25 degrees."""
LOCAL_FACE = 120.0
"""Width (px) a tracked face is scaled to when the detector looks for it again in a crop around it."""
BACKFILL_FRAMES = 16
"""A new track is followed backwards over at most this many earlier frames (past keyframes where
the detector missed the face: motion blur, a face coming into view), while the fit stays plausible."""
MAX_SEARCH_GAP = 4
"""The longest gap between two searches while nothing is tracked, in ``search_every`` units (the gap
doubles up to it after each search that finds nothing)."""
SWEEP_GAP = 8
"""While faces are tracked, the searcher (upright passes only) sweeps for other faces beside them
every ``SWEEP_GAP * search_every`` frames."""
LOOK_AGAIN_KEYFRAMES = 8
"""A track lost inside the frame is looked for again up close on this many keyframes after (a
face that passed behind another is out of sight for a second or two)."""
LOST_INSIDE = 0.9
"""A track lost while at least this share of its box was inside the frame brings the searcher's
next sweep forward to half ``search_every`` frames away (a face that passed behind something may
show again elsewhere than ``LOOK_AGAIN_KEYFRAMES`` looks)."""
SCALE_JUMP = 0.1
"""Relative change of a face's eye span (the distance between the eyes' centres) between two fits
over which one of them is wrong: no head comes that much nearer between two frames, while dlib's
fit from a detection box 15-25 % too large can take a pair of glasses' rims for the eyes and
stretch the whole face (a 60-frame pan over Grace Hopper's portrait: 13-17 % larger on frames
0, 6 and 7, the mouth set on the chin). A keyframe's detection that disagrees so with a tracked
fit that looks right is not taken unless it looks more like the face; a re-anchor across such a
jump is followed back over the frames before it."""
REID_FRACTION = 2.0 / 3.0
"""A face that comes back continues an ended track only when its descriptor is this fraction of the
recognizer's same-person threshold from the track's, or closer (dlib: 0.4 of 0.6). Re-identifying
is a stricter call than "same person": a wrong merge hands one person's look, track id and
apparent age to another, a missed one only starts a new track. On the test media, dlib's distances
between different people reached down to 0.45 (two men, one with glasses) and 0.54, while the same
person across frames of a clip, mirrored, at a third of the size or half the exposure stayed under
0.38."""
_PATCH = 40
_PATCH_TEMPLATE = template_points("arcface", 112) * (_PATCH / 112.0)


@dataclass(frozen=True)
class TrackerConfig:
    """Every tracking knob.

    Attributes:
        detect_every: run the detector every this many frames (and whenever a fit looks doubtful).
        min_face_size: new tracks narrower than this (box width, px) are ignored; None = no limit
            beyond what the detector finds.
        match_iou: least box IoU between a detection and a track (or a lost track's last box) to pair them.
        min_appearance: least normalised cross-correlation (-1..1) of the aligned face patch with
            its last confirmed look; below it the frame is re-detected.
        max_shape_change: largest similarity-aligned RMS landmark change against the last
            confirmed shape, as a fraction of the face's size; above it the frame is re-detected.
        min_step_iou: least IoU between a frame's landmark box and where the previous frame's
            box was expected to move (constant velocity); lower = a jump.
        min_visible: least fraction of the face box inside the frame; below it the track ends (a
            face half out of the frame is fitted with the frame's edge mirrored, and kept).
        keyframe_patience: keyframes in a row a track may go unconfirmed by the detector while
            its fit looks good (profile views, motion blur).
        reanchor_distance: mean landmark distance (fraction of face size) between the tracked and
            the detected fit above which a keyframe re-anchors the track on the detection.
        descriptors: compute identity descriptors (needs a recognizer) to re-identify faces that come back.
        descriptor_interval: frames between descriptor refreshes of a live track (0: only at birth);
            a refresh that is another person's splits the track (``_split``).
        reid_threshold: largest descriptor distance to re-identify a face; None = ``REID_FRACTION`` of
            the recognizer's threshold.
        coast_frames: without descriptors, a detection at the last place of a track lost at most
            this many frames ago continues it; None = ``2 * detect_every``.
        backfill: follow new tracks backwards over up to ``BACKFILL_FRAMES`` earlier frames (each
            step predicted from the last: a face found only once a whip pan slows is followed back).
        min_track_score: a track whose best detection score stays below this is dropped as a
            likely false detection (dlib: 0.6 is a HOG margin of 0.2; its threshold is 0.5).
        verify_below: a track whose best detection score stays below this (but reaches
            ``min_track_score``) is kept only if the tracker's ``verifier`` (dlib's CNN detector)
            confirms a face on the frame of that detection: HOG's false faces (a badge, a print
            on a shirt) score low, and real faces that score low are confirmed (in a stress test,
            all 9 of 75 real-face tracks scoring below 0.8 were). 0 = never verify.
        search_every: while no face is tracked and a keyframe's detector finds none, the tracker's
            ``searcher`` (a slower detector that finds smaller and tilted faces) runs on the
            keyframe, at most every this many frames; the gap doubles after each search that
            finds nothing (up to ``MAX_SEARCH_GAP`` = 4x), so a faceless shot pays for a few
            searches only. While faces are tracked it also sweeps for small upright faces beside
            them (a face in the background), on the first keyframe due and then every
            ``SWEEP_GAP`` (8) times this many frames, and half this many frames after a track
            is lost inside the frame (``LOST_INSIDE``). 0 = never.
        cuts: detect hard cuts between shots (``deage.video.cuts``): every track ends at a cut
            (after it, only an identity descriptor can give a face an earlier id) and the first
            frame of a shot is a keyframe.
    """

    detect_every: int = 10
    min_face_size: float | None = None
    match_iou: float = 0.3
    min_appearance: float = 0.5
    max_shape_change: float = 0.12
    min_step_iou: float = 0.4
    min_visible: float = 0.3
    keyframe_patience: int = 1
    reanchor_distance: float = 0.05
    descriptors: bool = True
    descriptor_interval: int = 50
    reid_threshold: float | None = None
    coast_frames: int | None = None
    backfill: bool = True
    min_track_score: float = 0.6
    verify_below: float = 0.8
    search_every: int = 48
    cuts: bool = True

    def __post_init__(self) -> None:
        if int(self.detect_every) < 1:
            raise DeageError(f"detect_every must be at least 1, got {self.detect_every}")
        for name in ("match_iou", "min_step_iou", "min_visible"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise DeageError(f"{name} must be between 0 and 1, got {value}")
        if self.keyframe_patience < 0 or self.descriptor_interval < 0 or self.search_every < 0:
            raise DeageError("keyframe_patience, descriptor_interval and search_every must be >= 0")


@dataclass
class TrackingResult:
    """Raw tracks of a clip.

    Attributes:
        tracks: tracks sorted by id, each face with 68 landmarks, keypoints5, box, score.
        keyframes: frame indices where the detector ran.
        frame_count: frames seen.
        height, width: frame size in pixels.
        redetections: keyframes triggered by a doubtful fit rather than by the schedule.
        cuts: first frames of new shots (hard cuts found in the clip).
    """

    tracks: list[Track]
    keyframes: list[int]
    frame_count: int
    height: int
    width: int
    redetections: int = 0
    cuts: list[int] = field(default_factory=list)


# ---------------------------------------------------------------- pure helpers on landmarks


def rigid_frame(points: Points) -> tuple[np.ndarray, float]:
    """Centre (2,) and size (RMS radius, px) of the nose-and-eyes landmarks of a (68, 2) shape."""
    rigid = np.asarray(points, dtype=np.float64)[RIGID]
    centre = rigid.mean(0)
    return centre, float(np.sqrt(((rigid - centre) ** 2).sum(1).mean()))


def _turn(points: np.ndarray, centre: np.ndarray, degrees: float) -> np.ndarray:
    """``points`` (N, 2) turned by ``degrees`` (image coordinates, y down) about ``centre``."""
    t = np.radians(degrees)
    rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    return (np.asarray(points, np.float64) - centre) @ rot.T + centre


def box_relation(box: np.ndarray, points: Points) -> np.ndarray:
    """How a fitting box sits on a shape: float64 (4,) box edges relative to ``rigid_frame`` of ``points``."""
    centre, size = rigid_frame(points)
    b = np.asarray(box, dtype=np.float64).reshape(2, 2)
    return ((b - centre) / max(size, 1e-6)).reshape(4)


REPEAT_LEVELS = (2.5, 8.0)
"""Mean absolute difference (grey levels) over 8 x 8 blocks between two frames that show the same
picture (``frame_repeats``): at most the first in 99 % of the blocks and the second in any. A
repeated frame decodes to the same pixels, or nearly where the encoder left a residual: the
doubled frames of driving_d12 measure 0.75-2.4 and 2.7-5.5; the next frame of a real shot
differs by more (the slowest of driving_d12 and the example clip 7.5 and 17.5), and independent
grain of 2 levels in each frame puts most blocks near 2.3 and 1 % above 2.7. Repeats re-encoded
harder are missed (source_s18's, a 25-to-30 fps conversion: 2.6-3.3 and 4.3-7.6), and a still
shot with fainter grain may count as repeated, which holds a face that did not move."""


def frame_repeats(gray: np.ndarray, previous: np.ndarray) -> bool:
    """Whether grey uint8 (H, W) ``gray`` shows the same picture as ``previous`` (``REPEAT_LEVELS``).
    The tracker compares a frame with the last one whose faces it fitted, so a picture drifting
    by less than this each frame is not held for long."""
    if gray.shape != previous.shape:
        return False
    diff = cv2.absdiff(gray, previous)
    if not diff.any():
        return True
    h, w = diff.shape
    blocks = cv2.resize(diff.astype(np.float32), (max(1, w // 8), max(1, h // 8)), interpolation=cv2.INTER_AREA)
    most, worst = REPEAT_LEVELS
    return float(blocks.max()) <= worst and float(np.percentile(blocks, 99)) <= most


def box_from_points(points: Points, relation: np.ndarray) -> np.ndarray:
    """The fitting box (float32 (4,)) that sits on ``points`` as described by ``box_relation``."""
    centre, size = rigid_frame(points)
    return (np.asarray(relation).reshape(2, 2) * size + centre).reshape(4).astype(np.float32)


def shape_change(points: Points, reference: Points) -> float:
    """RMS distance between two shapes after the best similarity alignment, over the reference's size."""
    a = np.asarray(points, dtype=np.float64)
    b = np.asarray(reference, dtype=np.float64)
    za = (a[:, 0] - a[:, 0].mean()) + 1j * (a[:, 1] - a[:, 1].mean())
    zb = (b[:, 0] - b[:, 0].mean()) + 1j * (b[:, 1] - b[:, 1].mean())
    denom = float(np.vdot(za, za).real)
    if denom <= 1e-12:
        return float("inf")
    s = np.vdot(za, zb) / denom  # the complex scale-rotation that best maps a onto b
    residual = zb - s * za
    return float(np.sqrt(np.mean(np.abs(residual) ** 2)) / max(np.sqrt(np.mean(np.abs(zb) ** 2)), 1e-9))


def appearance_patch(gray: np.ndarray, keypoints5: Points) -> np.ndarray:
    """A 40x40 grey patch aligned on the 5 key points (ArcFace layout), zero mean and unit norm (float32)."""
    src = np.asarray(keypoints5, dtype=np.float64)
    dst = _PATCH_TEMPLATE
    zs = (src[:, 0] - src[:, 0].mean()) + 1j * (src[:, 1] - src[:, 1].mean())
    zd = (dst[:, 0] - dst[:, 0].mean()) + 1j * (dst[:, 1] - dst[:, 1].mean())
    s = np.vdot(zs, zd) / max(float(np.vdot(zs, zs).real), 1e-12)
    t = complex(dst[:, 0].mean(), dst[:, 1].mean()) - s * complex(src[:, 0].mean(), src[:, 1].mean())
    matrix = np.array([[s.real, -s.imag, t.real], [s.imag, s.real, t.imag]], dtype=np.float64)
    patch = cv2.warpAffine(gray, matrix, (_PATCH, _PATCH), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    p = patch.astype(np.float32)
    p -= p.mean()
    norm = float(np.linalg.norm(p))
    return p / norm if norm > 1e-6 else p


def patch_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Normalised cross-correlation (-1..1) of two ``appearance_patch`` results."""
    return float(np.sum(a * b))


# ---------------------------------------------------------------- the tracker


@dataclass
class _Live:
    track: Track
    points: np.ndarray  # float32 (68, 2), latest accepted
    relation: np.ndarray  # box_relation of the fitting box
    score: float
    ref_points: np.ndarray
    ref_patch: np.ndarray
    last_frame: int
    misses: int = 0
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2, np.float32))  # px/frame of the rigid centre
    descriptors: list[np.ndarray] = field(default_factory=list)
    descriptor_frames: list[int] = field(default_factory=list)  # the frame of each of ``descriptors``
    last_descriptor: int = -(10**9)
    patches: list[tuple[int, np.ndarray]] = field(default_factory=list)  # recent (frame, appearance_patch)
    best: float = 0.0  # best confirmed detection score so far
    proof: tuple[np.ndarray, np.ndarray] | None = None  # (gray region, box in it) of that detection
    verified: bool | None = None


class FaceTracker:
    """Stateful tracker: feed frames in order with ``update``, then read ``result()``.

    Args:
        detector: any ``Detector``; dlib's gets grayscale frames (faster).
        landmarker: 68-point ``Landmarker`` used between keyframes (and for detections without
            landmarks); None = the dlib detector's own.
        recognizer: identity descriptors for re-identification; None disables them.
        config: ``TrackerConfig``.
        searcher: a thorough detector run on keyframes while nothing is tracked (``search_every``),
            e.g. dlib's in photo mode: small and tilted faces a clip's fast detector misses.
        verifier: a ``FaceVerifier`` asked about tracks whose best score stays below
            ``verify_below``; None keeps them (``min_track_score`` alone decides).

    Not thread-safe; one tracker per clip.
    """

    def __init__(
        self,
        detector: Detector,
        landmarker: Landmarker | None = None,
        recognizer: Recognizer | None = None,
        config: TrackerConfig = TrackerConfig(),
        searcher: Detector | None = None,
        verifier: FaceVerifier | None = None,
    ) -> None:
        if landmarker is None:
            landmarker = getattr(detector, "landmarker", None)
            if landmarker is None:
                raise DeageError(f"detector {detector.name!r} has no landmarker; pass one to track faces")
        self.detector = detector
        self.landmarker = landmarker
        self.recognizer = recognizer if config.descriptors else None
        self.config = config
        self.searcher = searcher if config.search_every > 0 else None
        self.verifier = verifier if config.verify_below > 0 else None
        self._sweeper = _upright_only(self.searcher)
        self._search_gap = config.search_every
        self._next_search = 0
        self._cut_detector = CutDetector() if config.cuts else None
        self._cuts: list[int] = []
        self._gray_landmarker = isinstance(landmarker, DlibLandmarker)
        self._live: dict[int, _Live] = {}
        self._lost: dict[int, _Live] = {}
        # (frame, gray, landmarker image, whether it repeats the frame before)
        self._buffer: list[tuple[int, np.ndarray, np.ndarray, bool]] = []
        self._anchor: np.ndarray | None = None  # gray of the last frame whose faces were fitted
        # whether the anchor was a keyframe, and whether the searcher was due on it (``_unlooked``)
        self._anchor_looked = (False, False)
        self._next_search_was = 0  # the searcher's next frame as the last keyframe began
        self._keyframes: list[int] = []
        self._redetections = 0
        self._count = 0
        self._next_id = 1
        self._shape: tuple[int, int] | None = None

    # -- public

    def update(self, frame: Image) -> None:
        """Process the next frame (RGB uint8 (H, W, 3)); frames must all have the same size."""
        if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            got = f"{frame.dtype} {frame.shape}" if isinstance(frame, np.ndarray) else type(frame).__name__
            raise DeageError(f"frame {self._count}: expected an RGB uint8 (H, W, 3) image, got {got}")
        if self._shape is None:
            self._shape = frame.shape[:2]
        elif frame.shape[:2] != self._shape:
            raise DeageError(
                f"frame {self._count} is {frame.shape[1]}x{frame.shape[0]}, "
                f"the clip's first frame was {self._shape[1]}x{self._shape[0]}"
            )
        index = self._count
        self._count += 1
        gray = to_gray(frame)
        fit_image = gray if self._gray_landmarker else frame
        cut = self._cut_detector is not None and self._cut_detector.is_cut(gray)
        follows = bool(self._buffer) and self._buffer[-1][0] == index - 1
        if not cut and follows and self._anchor is not None and frame_repeats(gray, self._anchor):
            # The same picture again (a held frame, a clip on twos, a frame-rate conversion):
            # every face is where it was, exactly, so whatever is made of it is the same too.
            for live in self._live.values():
                if live.last_frame == index - 1:
                    live.track.faces[index] = live.track.faces[index - 1]
                    live.last_frame = index
            if self._unlooked(index):
                self._look_at_held(index, frame, gray, fit_image)
            self._buffer.append((index, gray, fit_image, True))
            del self._buffer[:-BACKFILL_FRAMES]
            return
        if cut:  # a new shot: no track carries over, nothing is followed back across the cut
            self._cuts.append(index)
            self._lost.update(self._live)
            self._live.clear()
            self._buffer.clear()
            self._next_search, self._search_gap = index, self.config.search_every

        proposals: dict[int, tuple[np.ndarray, bool]] = {}
        for tid, live in self._live.items():
            # constant-velocity prediction: the box starts where the face should be now
            pts = self._fit_from(fit_image, live.points, live.relation, live.velocity)
            proposals[tid] = (pts, self._plausible(gray, live, pts, live.points + live.velocity))
        self._flag_duplicates(proposals)

        doubtful = any(not ok for _, ok in proposals.values())
        due = cut or not self._keyframes or index - self._keyframes[-1] >= self.config.detect_every
        if due or doubtful:
            if doubtful and not due:
                self._redetections += 1
            self._keyframe(index, frame, gray, fit_image, proposals)
        else:
            for tid, (pts, _) in proposals.items():
                self._accept(index, self._live[tid], pts, gray, confirmed=False)
        self._buffer.append((index, gray, fit_image, False))
        del self._buffer[:-BACKFILL_FRAMES]
        self._anchor = gray
        self._anchor_looked = self._looked(index)

    def result(self) -> TrackingResult:
        """The tracks so far: those with a face whose best score reaches ``min_track_score`` (and
        that the ``verifier`` confirms where it stays below ``verify_below``), numbered 1, 2, ...
        in order of their first detection."""
        everyone = {**self._lost, **self._live}
        tracks = []
        for tid in sorted(everyone):
            track = everyone[tid].track
            if track.faces and max(f.score for f in track.faces.values()) >= self.config.min_track_score \
                    and self._verified(everyone[tid]):
                tracks.append(Track(len(tracks) + 1, dict(track.faces)))
        h, w = self._shape if self._shape is not None else (0, 0)
        return TrackingResult(tracks, list(self._keyframes), self._count, h, w, self._redetections, list(self._cuts))

    # -- steps

    def _fit_from(self, image: np.ndarray, points: np.ndarray, relation: np.ndarray,
                  velocity: np.ndarray | None = None) -> np.ndarray:
        """Re-fit a face whose last landmarks were ``points``, moved by ``velocity``; a face rolled
        by ``ROLL_MIN`` or more is fitted turned upright (dlib's landmarker only)."""
        shift = np.tile(velocity, 2) if velocity is not None else 0.0
        roll = roll_degrees(points)
        if abs(roll) < ROLL_MIN or not isinstance(self.landmarker, DlibLandmarker):
            return self._fit(image, box_from_points(points, relation) + shift)
        centre = rigid_frame(points)[0]
        upright = box_from_points(_turn(points, centre, -roll), relation).astype(np.float64)
        middle = (upright[:2] + upright[2:]) / 2
        box = upright + np.tile(_turn(middle[None], centre, roll)[0] - middle, 2) + shift
        return np.asarray(self.landmarker.fit_points(image, box, roll), dtype=np.float32)

    def _fit(self, image: np.ndarray, box: np.ndarray) -> np.ndarray:
        if hasattr(self.landmarker, "fit_points"):
            return np.asarray(self.landmarker.fit_points(image, box), dtype=np.float32)
        probe = Face(box=np.asarray(box, np.float32), score=1.0, keypoints5=np.zeros((5, 2), np.float32))
        fitted = self.landmarker.fit(image, probe).landmarks
        if fitted is None or len(fitted) != 68:
            raise DeageError(f"landmarker {self.landmarker.name!r} must return 68 landmarks to track faces")
        return np.asarray(fitted, dtype=np.float32)

    def _fit_turned(self, image: np.ndarray, box: np.ndarray, roll: float) -> np.ndarray:
        """Landmarks fitted in ``box``, a box on the face turned upright by ``roll`` degrees (as
        ``_local_detection`` returns it; dlib's landmarker only, others fit the box as it is)."""
        if isinstance(self.landmarker, DlibLandmarker):
            return np.asarray(self.landmarker.fit_points(image, box, roll), dtype=np.float32)
        return self._fit(image, box)

    def _plausible(self, gray: np.ndarray, live: _Live, pts: np.ndarray, expected: np.ndarray) -> bool:
        """Whether a fit looks right: in frame, near where it was ``expected``, face-shaped, same look."""
        cfg = self.config
        h, w = gray.shape
        if not np.all(np.isfinite(pts)):
            return False
        if visible_fraction(box_from_points(pts, live.relation), h, w) < cfg.min_visible:
            return False
        if box_iou(points_box(pts), points_box(expected))[0, 0] < cfg.min_step_iou:
            return False
        if shape_change(pts, live.ref_points) > cfg.max_shape_change:
            return False
        patch = appearance_patch(gray, keypoints5_from_landmarks(pts))
        return patch_similarity(patch, live.ref_patch) >= cfg.min_appearance

    def _flag_duplicates(self, proposals: dict[int, tuple[np.ndarray, bool]]) -> None:
        """Two tracks that converge on one face make the frame doubtful (the keyframe resolves it)."""
        tids = list(proposals)
        if len(tids) < 2:
            return
        boxes = np.stack([points_box(proposals[t][0]) for t in tids])
        iou = box_iou(boxes, boxes)
        np.fill_diagonal(iou, 0.0)
        for a, b in zip(*np.nonzero(iou > 0.5)):
            for t in (tids[a], tids[b]):
                proposals[t] = (proposals[t][0], False)

    def _detect(self, detector: Detector, frame: Image, gray: np.ndarray, fit_image: np.ndarray) -> list[Face]:
        faces = detector.detect(gray if isinstance(detector, DlibDetector) else frame)
        out = []
        for face in faces:
            if face.landmarks is None or len(face.landmarks) != 68:
                lm = self._fit(fit_image, face.box)
                face = Face(face.box, face.score, keypoints5_from_landmarks(lm), lm)
            out.append(face)
        return out

    def _looked(self, index: int) -> tuple[bool, bool]:
        """Whether frame ``index`` was a keyframe, and whether the searcher was due on it."""
        keyframe = self._keyframes[-1] == index
        return keyframe, keyframe and self.searcher is not None and index >= self._next_search_was

    def _unlooked(self, index: int) -> bool:
        """Whether a held frame ``index`` is due a keyframe and the picture it repeats (the anchor)
        never had one, or is due the searcher and its keyframe was not: a face that came into view
        (an occluder moved away, a sweep came due) while the shot then stood still was otherwise
        never detected, as every later frame repeated the anchor."""
        detected, searched = self._anchor_looked
        keyframe_due = index - self._keyframes[-1] >= self.config.detect_every
        search_due = self.searcher is not None and index >= self._next_search
        return (keyframe_due and not detected) or (search_due and detected and not searched)

    def _look_at_held(self, index: int, frame: Image, gray: np.ndarray, fit_image: np.ndarray) -> None:
        """A keyframe on a held frame that needs one (``_unlooked``): new and lost faces are looked
        for, and the tracked ones, held exactly, are left as they are (re-fitted on the same
        picture their landmarks would move by a few pixels)."""
        self._keyframes.append(index)
        detections = self._detections(index, frame, gray, fit_image)
        kept_boxes = [box_from_points(live.points, live.relation) for live in self._live.values()]
        self._births(index, frame, gray, detections, kept_boxes)
        self._look_again(index, frame, gray, fit_image, kept_boxes)
        self._anchor_looked = self._looked(index)

    def _detections(self, index: int, frame: Image, gray: np.ndarray, fit_image: np.ndarray) -> list[Face]:
        """A keyframe's detections: the detector's, and the searcher's where it is due."""
        self._next_search_was = self._next_search
        detections = self._detect(self.detector, frame, gray, fit_image)
        if self._search_due(index, detections):
            found = self._search(index, frame, gray, fit_image)
            if self._live:  # a sweep while tracking: add the faces the fast detector did not see
                boxes = [d.box for d in detections]
                detections = detections + [f for f in found if not boxes or
                                           box_iou(f.box, np.stack(boxes)).max() < self.config.match_iou]
            else:
                detections = found
        return detections

    def _keyframe(self, index, frame, gray, fit_image, proposals) -> None:
        cfg = self.config
        self._keyframes.append(index)
        detections = self._detections(index, frame, gray, fit_image)
        tids = list(proposals)
        matches: dict[int, int] = {}
        kept_boxes: list[np.ndarray] = []
        if tids and detections:
            det_boxes = np.stack([d.box for d in detections])
            now = np.stack([box_from_points(proposals[t][0], self._live[t].relation) for t in tids])
            before = np.stack([box_from_points(self._live[t].points, self._live[t].relation) for t in tids])
            iou = np.maximum(box_iou(now, det_boxes), box_iou(before, det_boxes))
            rows, cols = linear_sum_assignment(-iou)
            matches = {tids[r]: int(c) for r, c in zip(rows, cols) if iou[r, c] >= cfg.match_iou}

        for tid, d in matches.items():
            live, det = self._live[tid], detections[d]
            pts, ok = proposals[tid]
            det_pts = self._detection_points(fit_image, det, live.points)
            drift = float(np.linalg.norm(pts - det_pts, axis=1).mean()) / max(det.width, 1e-6)
            jumped = False
            if (not ok or drift > cfg.reanchor_distance) and not (
                    ok and scale_jump(pts, det_pts) and self._looks_more_alike(gray, live, pts, det_pts)):
                jumped = scale_jump(live.points, det_pts)
                pts = det_pts
                live.relation = box_relation(det.box, pts)
            live.score = float(det.score)
            live.misses = 0
            face = self._accept(index, live, pts, gray, confirmed=True)
            if jumped:
                self._refit_back(live, index)
            kept_boxes.append(box_from_points(live.points, live.relation))
            self._maybe_describe(index, frame, gray, tid, face)

        for tid in tids:
            if tid in matches:
                continue
            live = self._live[tid]
            pts, ok = proposals[tid]
            box = box_from_points(pts, live.relation)
            overlaps = bool(kept_boxes) and box_iou(box, np.stack(kept_boxes)).max() >= cfg.match_iou
            score = self._local_score(gray, pts) if ok and not overlaps else None
            if score is not None:  # a small or tilted face the detector only sees up close (or upright)
                live.score, live.misses = score, 0
                self._accept(index, live, pts, gray, confirmed=True)
                kept_boxes.append(box)
            elif ok and live.misses < cfg.keyframe_patience and not overlaps:
                live.misses += 1
                self._accept(index, live, pts, gray, confirmed=False)
                kept_boxes.append(box)
            elif not ok and not overlaps and (refound := self._refind(fit_image, gray, live)) is not None:
                # A doubtful fit of a face the detector cannot see (too small): found again up close.
                pts, live.relation, live.score, live.misses = refound
                self._accept(index, live, pts, gray, confirmed=True)
                kept_boxes.append(box_from_points(pts, live.relation))
            else:
                self._lost[tid] = self._live.pop(tid)
                h, w = gray.shape
                if visible_fraction(box_from_points(live.points, live.relation), h, w) >= LOST_INSIDE:
                    # lost inside the frame: a sweep soon finds it again wherever it shows next
                    self._next_search = min(self._next_search, index + cfg.search_every // 2)

        self._births(index, frame, gray, [d for i, d in enumerate(detections) if i not in matches.values()],
                     kept_boxes)
        self._look_again(index, frame, gray, fit_image, kept_boxes)

    def _births(self, index: int, frame: Image, gray: np.ndarray, detections: list[Face],
                kept_boxes: list[np.ndarray]) -> None:
        """Start (or revive, ``_reidentify``) a track for each unmatched detection that is big
        enough and on no kept face; their boxes join ``kept_boxes``."""
        cfg = self.config
        born = []
        for det in detections:
            if cfg.min_face_size is not None and det.width < cfg.min_face_size:
                continue
            if kept_boxes and box_iou(det.box, np.stack(kept_boxes)).max() >= cfg.match_iou:
                continue
            if self.recognizer is not None:
                det.descriptor = np.asarray(self.recognizer.describe(frame, det), dtype=np.float32)
            born.append(det)
            kept_boxes.append(det.box)
        for det, tid in zip(born, self._reidentify(index, born)):
            self._start(index, det, tid, gray)

    def _search_due(self, index: int, detections: list[Face]) -> bool:
        """Whether the searcher runs on this keyframe: due, and either faces are tracked (a sweep
        for small faces beside them) or nothing is and the detector found nothing likely."""
        if self.searcher is None or index < self._next_search:
            return False
        return bool(self._live) or not any(d.score >= self.config.min_track_score for d in detections)

    def _search(self, index: int, frame: Image, gray: np.ndarray, fit_image: np.ndarray) -> list[Face]:
        assert self.searcher is not None
        found = self._detect(self._sweeper if self._live else self.searcher, frame, gray, fit_image)
        every = self.config.search_every
        if self._live:  # a sweep beside tracked faces: at a fixed, longer gap
            self._next_search = index + SWEEP_GAP * every
        else:
            self._next_search = index + (every if found else self._search_gap)
            self._search_gap = every if found else min(2 * self._search_gap, MAX_SEARCH_GAP * every)
        return found

    def _detection_points(self, image: np.ndarray, det: Face, previous: np.ndarray) -> np.ndarray:
        """A matched detection's landmarks; for a track tilted by ``ROLL_MIN`` or more, re-fitted in
        the detection's box turned upright by the track's last roll (an upright fit of a tilted face
        is wrong and would re-anchor the track on it)."""
        roll = roll_degrees(previous)
        if abs(roll) < ROLL_MIN or not isinstance(self.landmarker, DlibLandmarker):
            return np.asarray(det.landmarks, dtype=np.float32)
        return np.asarray(self.landmarker.fit_points(image, det.box, roll), dtype=np.float32)

    def _local_score(self, gray: np.ndarray, pts: np.ndarray) -> float | None:
        """Detection score of a tracked face the keyframe's detector missed, looked for again up
        close (``_local_detection``); None when not found."""
        found = self._local_detection(gray, pts)
        return None if found is None else found[1]

    def _local_detection(self, gray: np.ndarray, pts: np.ndarray) -> tuple[np.ndarray, float, float] | None:
        """A tracked face the keyframe's detector missed, looked for again by dlib's detector in a
        crop around its landmarks ``pts`` where the face is ``LOCAL_FACE`` px wide (small faces come
        within HOG's reach) and turned upright when rolled by ``ROLL_MIN`` or more (dlib's detector
        is frontal); the detection must match the landmarks' box. Returns (its box in frame pixels
        as it sits on the face turned upright, its score, the roll in degrees), or None."""
        if not isinstance(self.detector, DlibDetector):
            return None
        roll = roll_degrees(pts)
        roll = roll if abs(roll) >= ROLL_MIN else 0.0
        centre = rigid_frame(pts)[0]
        scale = LOCAL_FACE / max(float(np.ptp(_turn(pts, centre, -roll)[:, 0])), 1.0)
        side = int(np.ceil(3 * LOCAL_FACE))
        matrix = upright_matrix(centre, roll, scale, np.full(2, side / 2))  # the face upright, mid-crop
        crop = cv2.warpAffine(gray, matrix, (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        expected = points_box(np.asarray(pts, np.float64) @ matrix[:, :2].T + matrix[:, 2])
        found = [(box, score) for box, score in self.detector.detect_boxes(crop, scale=1.0)
                 if box_iou(box, expected)[0, 0] >= self.config.match_iou]
        if not found:
            return None
        box, score = max(found, key=lambda f: f[1])
        # The crop's box back in the frame: its centre through the inverse warp, its size unscaled.
        mid = cv2.invertAffineTransform(matrix) @ np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2, 1.0])
        half = (np.asarray(box[2:], np.float64) - box[:2]) / (2.0 * scale)
        return np.concatenate([mid - half, mid + half]).astype(np.float32), float(score), roll

    def _refind(self, fit_image: np.ndarray, gray: np.ndarray,
                live: _Live) -> tuple[np.ndarray, np.ndarray, float, int] | None:
        """A track whose fit was doubtful on a keyframe whose detector missed it, looked for again
        up close where its last landmarks (moved by its velocity) put it, and fitted in the box
        found: (landmarks, box relation, score, misses 0), or None when not found or the new fit
        still does not look like the face."""
        guess = live.points + live.velocity
        found = self._local_detection(gray, guess)
        if found is None:
            return None
        box, score, roll = found
        pts = self._fit_turned(fit_image, box, roll)
        if not self._plausible(gray, live, pts, guess):
            return None
        return pts, box_relation(box, pts), score, 0

    def _look_again(self, index: int, frame: Image, gray: np.ndarray, fit_image: np.ndarray,
                    kept_boxes: list[np.ndarray]) -> None:
        """Tracks lost inside the frame on one of the last ``LOOK_AGAIN_KEYFRAMES`` keyframes before
        this one, within the shot, looked for again up close (``_local_detection``) where they
        last were and where their last motion would have taken them, wherever no kept face is;
        one found there that is the same face (``_same_face``) continues under its id
        (``_start``: followed back too)."""
        h, w = gray.shape
        # a track lost on keyframe k last stood on a frame from the keyframe before k on
        recent = self._keyframes[-LOOK_AGAIN_KEYFRAMES - 2:-1]
        for tid, live in list(self._lost.items()):
            if len(recent) < 2 or live.last_frame < recent[0] or any(live.last_frame < c <= index for c in self._cuts):
                continue
            for guess in _guesses(live.points, live.velocity, index - live.last_frame):
                box = box_from_points(guess, live.relation)
                if visible_fraction(box, h, w) < self.config.min_visible or (
                        kept_boxes and box_iou(box, np.stack(kept_boxes)).max() >= self.config.match_iou):
                    continue
                found = self._local_detection(gray, guess)
                if found is None:
                    continue
                box, score, roll = found
                pts = self._fit_turned(fit_image, box, roll)
                det = Face(box, score, keypoints5_from_landmarks(pts), pts)
                if not self._same_face(frame, gray, live, det):
                    continue
                self._start(index, det, tid, gray)
                kept_boxes.append(det.box)
                break

    def _same_face(self, frame: Image, gray: np.ndarray, live: _Live, det: Face) -> bool:
        """Whether a face found where a lost track was expected is that track's face: its identity
        descriptor within the re-identification threshold of the track's, or, without descriptors,
        its aligned grey patch like the track's last confirmed one (``min_appearance``). Sets the
        descriptor on ``det`` where one is computed."""
        if self.recognizer is not None and live.descriptors:
            det.descriptor = np.asarray(self.recognizer.describe(frame, det), dtype=np.float32)
            return min(self.recognizer.distance(det.descriptor, d) for d in live.descriptors) < self._reid_threshold()
        patch = appearance_patch(gray, keypoints5_from_landmarks(np.asarray(det.landmarks)))
        return patch_similarity(patch, live.ref_patch) >= self.config.min_appearance

    def _reid_threshold(self) -> float | None:
        """The largest descriptor distance that re-identifies a face (``reid_threshold``, else
        ``REID_FRACTION`` of the recognizer's threshold); None without a recognizer or setting."""
        if self.config.reid_threshold is not None or self.recognizer is None:
            return self.config.reid_threshold
        return REID_FRACTION * float(self.recognizer.threshold)

    def _reidentify(self, index: int, born: list[Face]) -> list[int | None]:
        """For each new detection, the id of the ended track it continues, or None."""
        cfg = self.config
        lost = list(self._lost)
        if not born or not lost:
            return [None] * len(born)
        coast = cfg.coast_frames if cfg.coast_frames is not None else 2 * cfg.detect_every
        threshold = self._reid_threshold()
        cost = np.full((len(born), len(lost)), np.inf)
        for i, det in enumerate(born):
            for j, tid in enumerate(lost):
                old = self._lost[tid]
                if det.descriptor is not None and old.descriptors and self.recognizer is not None:
                    dist = min(self.recognizer.distance(det.descriptor, d) for d in old.descriptors)
                    if dist < threshold:
                        cost[i, j] = dist
                elif index - old.last_frame <= coast and not any(old.last_frame < c <= index for c in self._cuts):
                    iou = box_iou(det.box, box_from_points(old.points, old.relation))[0, 0]
                    if iou >= cfg.match_iou:
                        cost[i, j] = 1.0 - iou
        out: list[int | None] = [None] * len(born)
        finite = np.where(np.isfinite(cost), cost, 1e6)
        for r, c in zip(*linear_sum_assignment(finite)):
            if np.isfinite(cost[r, c]):
                out[r] = lost[c]
        return out

    def _start(self, index: int, det: Face, tid: int | None, gray: np.ndarray) -> None:
        pts = np.asarray(det.landmarks, dtype=np.float32)
        patch = appearance_patch(gray, keypoints5_from_landmarks(pts))
        if tid is None:
            tid = self._next_id
            self._next_id += 1
            live = _Live(Track(tid), pts, box_relation(det.box, pts), float(det.score), pts, patch, index)
        else:
            live = self._lost.pop(tid)
            live.relation = box_relation(det.box, pts)
            live.score, live.misses = float(det.score), 0
            # a fresh start: no motion carries over the gap or cut (a face re-identified on the frame
            # after a cut would otherwise be predicted to keep jumping by the cut's displacement)
            live.velocity, live.last_frame = np.zeros(2, np.float32), index
        self._live[tid] = live
        face = self._accept(index, live, pts, gray, confirmed=True)
        if det.descriptor is not None:
            face.descriptor = det.descriptor
            _add_descriptor(live, index, det.descriptor)
        if self.config.backfill:
            self._backfill(live)

    def _backfill(self, live: _Live) -> None:
        """Follow a new track backwards over the buffered frames, predicting each step from the
        last (constant velocity, as forwards), while the fit stays plausible."""
        pts = live.points
        step = np.zeros(2, np.float32)
        held = False  # whether the frame after the one looked at repeats it (the current one never does)
        for index, gray, fit_image, repeats in reversed(self._buffer):
            if index in live.track.faces:
                break
            if held and index + 1 in live.track.faces:  # the same picture as the frame after
                live.track.faces[index] = live.track.faces[index + 1]
                held = repeats
                continue
            held = repeats
            new = self._fit_from(fit_image, pts, live.relation, step)
            if not self._plausible(gray, live, new, pts + step):
                break
            step = _motion(pts, new)
            box = box_from_points(new, live.relation)
            others = [
                t.faces[index].box for t in (*(l.track for l in self._live.values()), *(l.track for l in self._lost.values()))
                if t is not live.track and index in t.faces
            ]
            if others and box_iou(box, np.stack(others)).max() >= self.config.match_iou:
                break
            live.track.faces[index] = self._face(live, new)
            pts = new

    def _looks_more_alike(self, gray: np.ndarray, live: _Live, a: np.ndarray, b: np.ndarray) -> bool:
        """Whether fit ``a`` looks at least as much like the track's last confirmed face as ``b``
        (``patch_similarity`` of their aligned grey patches)."""
        def alike(pts: np.ndarray) -> float:
            return patch_similarity(appearance_patch(gray, keypoints5_from_landmarks(pts)), live.ref_patch)

        return alike(a) >= alike(b)

    def _refit_back(self, live: _Live, index: int) -> None:
        """Follow a track re-anchored at ``index`` across a ``SCALE_JUMP`` back over the buffered
        frames before it, while the fit already there disagrees with the new one
        (``reanchor_distance``) and the new one looks right: each earlier frame is re-fitted in a
        box of the later fit's size placed where the earlier fit was (its place was right, its
        size not)."""
        pts = live.points
        for earlier, gray, fit_image, repeats in reversed(self._buffer):
            old = live.track.faces.get(earlier)
            if earlier >= index or old is None or old.landmarks is None or repeats:
                break
            there = pts + (old.landmarks[RIGID].mean(0) - pts[RIGID].mean(0))
            new = self._fit_from(fit_image, there, live.relation)
            width = float(np.ptp(new[:, 0]))
            if float(np.linalg.norm(old.landmarks - new, axis=1).mean()) / max(width, 1e-6) \
                    <= self.config.reanchor_distance or not self._plausible(gray, live, new, there):
                break
            live.track.faces[earlier] = self._face(live, new)
            pts = new

    def _face(self, live: _Live, pts: np.ndarray) -> Face:
        return Face(
            box=box_from_points(pts, live.relation),
            score=live.score,
            keypoints5=keypoints5_from_landmarks(pts),
            landmarks=np.asarray(pts, dtype=np.float32).copy(),
        )

    def _accept(self, index: int, live: _Live, pts: np.ndarray, gray: np.ndarray, *, confirmed: bool) -> Face:
        pts = np.asarray(pts, dtype=np.float32)
        live.velocity = _motion(live.points, pts) if live.last_frame == index - 1 else np.zeros(2, np.float32)
        live.points = pts
        live.last_frame = index
        if confirmed:
            live.ref_points = live.points.copy()
            live.ref_patch = appearance_patch(gray, keypoints5_from_landmarks(live.points))
            self._keep_proof(live, pts, gray)
        face = self._face(live, live.points)
        live.track.faces[index] = face
        if self.recognizer is not None:  # what the face looked like lately, to place a change of person
            patch = live.ref_patch if confirmed else appearance_patch(gray, keypoints5_from_landmarks(live.points))
            keep = 2 * max(self.config.descriptor_interval, 1) + self.config.detect_every
            live.patches = [(i, q) for i, q in live.patches if i > index - keep] + [(index, patch)]
        return face

    def _keep_proof(self, live: _Live, pts: np.ndarray, gray: np.ndarray) -> None:
        """Keep the frame region of a track's best detection while its score is below
        ``verify_below``, for the verifier (asked once, when the tracks are read)."""
        if self.verifier is None or live.score <= live.best:
            return
        live.best, live.verified = live.score, None
        if live.score >= self.config.verify_below:
            live.proof = None
            return
        box = box_from_points(pts, live.relation).astype(np.float64)
        half = 1.5 * max(box[2] - box[0], box[3] - box[1])
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        h, w = gray.shape
        x0, y0 = int(max(cx - half, 0)), int(max(cy - half, 0))
        x1, y1 = int(min(cx + half + 1, w)), int(min(cy + half + 1, h))
        live.proof = (gray[y0:y1, x0:x1].copy(), box - [x0, y0, x0, y0])

    def _verified(self, live: _Live) -> bool:
        """Whether a track stands: scored well enough, or confirmed by the verifier."""
        if self.verifier is None or live.best >= self.config.verify_below or live.proof is None:
            return True
        if live.verified is None:
            live.verified = bool(self.verifier.confirms(*live.proof))
        return live.verified

    def _maybe_describe(self, index: int, frame: Image, gray: np.ndarray, tid: int, face: Face) -> None:
        """Refresh live track ``tid``'s identity descriptor every ``descriptor_interval`` frames
        (on a keyframe that confirmed it); one that shows another person (``_changed_person``)
        splits the track there (``_split``)."""
        live = self._live[tid]
        interval = self.config.descriptor_interval
        if self.recognizer is None or interval <= 0 or index - live.last_descriptor < interval:
            return
        face.descriptor = np.asarray(self.recognizer.describe(frame, face), dtype=np.float32)
        if self._changed_person(live, face.descriptor):
            self._split(index, gray, tid, face.descriptor)
        else:
            _add_descriptor(live, index, face.descriptor)

    def _changed_person(self, live: _Live, descriptor: np.ndarray) -> bool:
        """Whether a track's new descriptor is another person's: its median distance to the track's
        kept descriptors at least the recognizer's threshold (dlib: the same person measured under
        0.42 on the test media, blurred, dark, as JPEG 10 or half size; two different people 0.5 or
        more, most of them 0.7 or more). The median, so one descriptor taken halfway through a
        dissolve does not hold the track on the first person."""
        assert self.recognizer is not None
        if not live.descriptors:
            return False
        distances = [self.recognizer.distance(descriptor, d) for d in live.descriptors]
        return float(np.median(distances)) >= float(self.recognizer.threshold)

    def _split(self, index: int, gray: np.ndarray, tid: int, descriptor: np.ndarray) -> None:
        """Live track ``tid`` now shows another person (a dissolve between two shots with faces at
        the same place, a fit that slid onto a neighbour's face): it ends on the frame before the
        change, and a new track takes the frames from there on. The change is placed on the first
        frame, after the track's last descriptor of the first person, whose appearance patch is
        more like the one on this frame than the one on that descriptor's frame."""
        assert self.recognizer is not None
        live = self._live.pop(tid)
        first = [f for f, d in zip(live.descriptor_frames, live.descriptors)
                 if self.recognizer.distance(descriptor, d) >= self.recognizer.threshold]
        since = max(first, default=-1)
        patches = dict(live.patches)
        before = patches.get(since, live.patches[0][1])
        after = patches[index]
        change = next((i for i, q in live.patches
                       if i > since and patch_similarity(q, after) > patch_similarity(q, before)), index)
        if change == min(live.track.faces):  # nothing of the first person left to keep
            live.descriptors, live.descriptor_frames = [], []
            _add_descriptor(live, index, descriptor)
            self._live[tid] = live
            return
        new = copy.copy(live)
        new.track = Track(self._next_id, {i: f for i, f in live.track.faces.items() if i >= change})
        new.descriptors, new.descriptor_frames = [], []
        _add_descriptor(new, index, descriptor)
        new.patches = [(i, q) for i, q in live.patches if i >= change]
        new.best, new.proof, new.verified = 0.0, None, None
        self._keep_proof(new, new.points, gray)
        self._live[self._next_id] = new
        self._next_id += 1
        live.track.faces = {i: f for i, f in live.track.faces.items() if i < change}
        live.last_frame = max(live.track.faces)
        live.points = np.asarray(live.track.faces[live.last_frame].landmarks, np.float32)
        live.velocity = np.zeros(2, np.float32)
        live.patches = []
        self._lost[tid] = live


def _add_descriptor(live: _Live, index: int, descriptor: np.ndarray) -> None:
    """Keep ``descriptor`` (frame ``index``) among a track's last 8."""
    live.descriptors = (live.descriptors + [descriptor])[-8:]
    live.descriptor_frames = (live.descriptor_frames + [index])[-8:]
    live.last_descriptor = index


def _guesses(points: np.ndarray, velocity: np.ndarray, frames: int) -> list[np.ndarray]:
    """Where a face last fitted at ``points`` (float32 (68, 2)) moving ``velocity`` px a frame may be
    ``frames`` frames later: carried on by its motion, and where it was (a face that stopped behind
    whatever hid it); one guess where the two are within a fifth of the face's width."""
    moved = points + velocity * frames
    width = float(np.ptp(points[:, 0]))
    if float(np.linalg.norm(velocity)) * frames <= 0.2 * width:
        return [moved]
    return [moved, points]


def scale_jump(a: Points, b: Points) -> bool:
    """Whether two fits' eye spans (the distance between the eyes' centres) differ by more than
    ``SCALE_JUMP`` of the smaller."""
    small, large = sorted(FaceFrame.from_landmarks(p).eye_distance for p in (a, b))
    return large > (1.0 + SCALE_JUMP) * max(small, 1e-6)


def _motion(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """The step (float32 (2,), px) of a face's rigid centre from landmarks ``before`` to ``after``,
    or zero when it is below ``_STILL`` of the face width: fitting noise, which predicting would
    turn into jitter."""
    step = (rigid_frame(after)[0] - rigid_frame(before)[0]).astype(np.float32)
    return step if np.linalg.norm(step) > _STILL * float(np.ptp(after[:, 0])) else np.zeros(2, np.float32)


def _upright_only(searcher: Detector | None) -> Detector | None:
    """The searcher without its turned passes (dlib's ``rolls``): a sweep beside tracked faces
    looks for small faces at half the cost; tilted heads are left to the search while none is tracked."""
    if isinstance(searcher, DlibDetector) and searcher.rolls:
        upright = copy.copy(searcher)
        upright.rolls = ()
        return upright
    return searcher


def track_faces(
    frames: Iterable[Image],
    detector: Detector,
    landmarker: Landmarker | None = None,
    recognizer: Recognizer | None = None,
    config: TrackerConfig = TrackerConfig(),
    progress: Callable[[int], None] | None = None,
    searcher: Detector | None = None,
    verifier: FaceVerifier | None = None,
) -> TrackingResult:
    """Track faces through an iterable of RGB uint8 (H, W, 3) frames; ``progress(frames_done)`` after
    each. ``searcher``, ``verifier``: see ``FaceTracker``."""
    tracker = FaceTracker(detector, landmarker, recognizer, config, searcher, verifier)
    for frame in frames:
        tracker.update(frame)
        if progress is not None:
            progress(tracker._count)
    return tracker.result()
