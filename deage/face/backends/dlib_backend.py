"""Embedded face engine, no downloads: dlib's HOG detector, 68-point shape predictor and ResNet descriptor.

The model files come from the ``face-recognition-models`` package (installed with deage);
``dlib.get_frontal_face_detector()`` is built into dlib. Measured on a 2-core CPU: HOG detection
~60 ms on a 720p frame, a 68-point fit ~1 ms, a 128-d descriptor ~70-80 ms. So a clip is
analysed by detecting on keyframes and re-fitting the shape predictor in between
(``deage.face.track``).

Every class loads its models once, in its constructor. Thread safety: dlib's detector and
shape predictor objects must not run concurrently on one instance, so each backend object
serializes its calls with its own lock; sharing one object between threads is safe but not
parallel. For parallel work make one object per thread or per process (loading takes ~0.5 s).

Images are RGB uint8 (H, W, 3); the detector and the landmarker also accept grayscale uint8
(H, W), which saves a colour conversion when the caller already has one (see ``to_gray``).
"""

from __future__ import annotations

import importlib.util
import math
import threading
from pathlib import Path
from typing import Any

import cv2
import dlib
import numpy as np

from deage.errors import DeageError, WeightsError
from deage.face.backends.common import keypoints5_from_68 as keypoints5_from_landmarks
from deage.face.backends.common import roll_degrees, upright_matrix
from deage.face.detect import box_iou, visible_fraction
from deage.types import Face, Image, Points

HOG_WINDOW = 80
"""Side (px) of the frontal HOG detector's window: faces narrower than this need upscaling."""
MIN_IMAGE_SIDE = 16
"""Images narrower or shorter than this (px) hold no face worth finding: none is searched for."""
CNN_MIN_SIDE = 32
"""The CNN detector is not run on a frame (as resized for it) narrower or shorter than this: MMOD's
window would not fit, and dlib fails on such inputs (an exception, or worse, below ~10 px)."""
MIN_CONTRAST = 110.0
"""Spread (levels, 1st to 99th percentile) below which a face crop or a frame is lifted to it
before dlib sees it (``lift_contrast``). dlib's shape predictor compares raw pixel differences
with thresholds learnt on well-exposed faces: on seven real faces squeezed into levels 8-38, 4-24,
40-120 or 150-250 its 68 points landed up to 0.18 inter-ocular distances (IOD) from their
well-exposed fit (mean 0.08; three faces at 4-24 were not found at all), lifted at most 0.047
(mean 0.016). Well-exposed faces spread 126-226 levels (the test photos) and are left as they are;
lifting them to 180 would move their fits by up to 0.016 IOD, with no evidence that is better."""
ROLL_REFIT = 15.0
"""Measured head roll (degrees) from which a detection's landmarks are re-fitted turned upright."""
ROLLED_MIN_MARGIN = 0.3
"""HOG margin a face found in a turned frame needs when no CNN confirms it (0.65 as a score)."""
PHOTO_ROLLS = (-40.0, 40.0)
"""Head tilts (degrees) a photo is searched at besides upright: with HOG's own ~25 degree tolerance
they cover tilts to about 65 degrees either way."""
PHOTO_LAST_ROLLS = (90.0, -90.0, 180.0, 135.0, -135.0)
"""Turns a photo in which no face was found is searched at, in this order, until one finds faces:
a picture stored sideways or upside down (no EXIF orientation tag), a person lying down."""
EDGE_PAD = 0.35
"""Mirrored border (fraction of the short side) around a photo in which no face was found at all,
searched once more: a face cut by the frame's edge (half of it out of the picture) and its
reflection make a whole face the detectors know. Finds faces up to 0.7 of the short side across
(from twice the smallest size, ``EDGE_SCALE``);
on four real faces cut at their middle all four were found (a third visible: two), none without."""
EDGE_MIN_VISIBLE = 0.3
"""Fraction of a face's box inside the frame for an edge search find to count."""
EDGE_SCALE = 0.5
"""The edge search's detection scale, relative to the photo's: it looks for faces from twice the
smallest size (a face cut by the frame's edge is a close one), at a quarter of the cost."""

_MODEL_FILES = {
    "landmarks68": "shape_predictor_68_face_landmarks.dat",
    "landmarks5": "shape_predictor_5_face_landmarks.dat",
    "descriptor": "dlib_face_recognition_resnet_model_v1.dat",
    "cnn_detector": "mmod_human_face_detector.dat",
}


def model_paths() -> dict[str, Path]:
    """Paths of the dlib model files shipped by ``face-recognition-models``.

    Found without importing the package (its ``__init__`` imports the deprecated
    ``pkg_resources``). Keys: ``landmarks68``, ``landmarks5``, ``descriptor``, ``cnn_detector``.

    Raises:
        WeightsError: the package or one of its files is missing.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise WeightsError(
            "the embedded dlib models are missing; install them with `pip install face-recognition-models`",
            "face_recognition_models",
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    paths = {key: folder / name for key, name in _MODEL_FILES.items()}
    for path in paths.values():
        if not path.is_file():
            raise WeightsError("dlib model file missing; reinstall `face-recognition-models`", path)
    return paths


def check_image(image: np.ndarray, *, allow_gray: bool = True) -> np.ndarray:
    """Validate an RGB uint8 (H, W, 3) image (or grayscale (H, W) when ``allow_gray``); return it contiguous.

    Raises:
        DeageError: wrong dtype, shape or an empty image.
    """
    if not isinstance(image, np.ndarray):
        raise DeageError(f"expected a numpy image, got {type(image).__name__}")
    ok_shape = (image.ndim == 3 and image.shape[2] == 3) or (allow_gray and image.ndim == 2)
    wanted = "RGB uint8 (H, W, 3)" + (" or grayscale uint8 (H, W)" if allow_gray else "")
    if image.dtype != np.uint8 or not ok_shape or image.shape[0] == 0 or image.shape[1] == 0:
        raise DeageError(f"expected an {wanted} image, got {image.dtype} {image.shape}")
    return np.ascontiguousarray(image)


def to_gray(image: np.ndarray) -> np.ndarray:
    """RGB uint8 (H, W, 3) -> grayscale uint8 (H, W); a grayscale image is returned as is."""
    image = check_image(image)
    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)


def lift_contrast(gray: np.ndarray, region: np.ndarray | tuple[slice, slice] | None = None) -> np.ndarray:
    """``gray`` (uint8 (H, W)) with its contrast raised so that ``region`` of it (an index into
    it; None = all of it) spreads ``MIN_CONTRAST`` levels from its 1st to its 99th percentile;
    returned as is when it already does. The gain is continuous in the spread and the region's
    median moves towards mid-grey as the gain grows, so a face fading in or out of shadow is fitted
    without jumps. A dark, hazy or low-key face is where this matters.
    """
    sample = gray[region] if region is not None else gray[::4, ::4]
    counts = np.cumsum(np.bincount(sample.ravel(), minlength=256))
    if counts[-1] == 0:
        return gray
    lo, median, hi = np.searchsorted(counts, counts[-1] * np.array([0.01, 0.5, 0.99]))
    gain = MIN_CONTRAST / max(float(hi - lo), 1.0)
    if gain <= 1.0:
        return gray
    centre = median + (128.0 - median) * (1.0 - 1.0 / gain)
    lut = np.clip((np.arange(256, dtype=np.float32) - median) * gain + centre, 0, 255)
    return cv2.LUT(gray, np.round(lut).astype(np.uint8))


def _searchable_gray(image: np.ndarray) -> np.ndarray | None:
    """The grayscale uint8 (H, W) frame the detectors search (a dim or flat one lifted:
    ``lift_contrast``), or None for an image under ``MIN_IMAGE_SIDE`` px a side."""
    gray = to_gray(image)
    return None if min(gray.shape) < MIN_IMAGE_SIDE else lift_contrast(gray)


def hog_score_to_unit(margin: float) -> float:
    """Map the HOG detector's SVM margin (unbounded; 0 is dlib's default threshold) to (0, 1).

    A logistic of twice the margin: margin 0 -> 0.5, 1 -> 0.88, 2 -> 0.98.
    """
    return float(1.0 / (1.0 + math.exp(-2.0 * float(margin))))


def auto_min_face_size(height: int, width: int, photo: bool = False) -> float:
    """Default smallest face (box width, frame px) worth finding.

    In a clip: the larger of the HOG window (80 px) and 1/12 of the frame's short side (90 px at
    1080p, 180 px at 4K), which keeps keyframe detection fast. In a single photo (``photo``), where
    a second is affordable: the larger of 40 px and 1/40 of the short side (75 px in a 12 MP photo).
    """
    if photo:
        return float(max(HOG_WINDOW / 2, min(height, width) / 40.0))
    return float(max(HOG_WINDOW, min(height, width) / 12.0))


class DlibLandmarker:
    """68-point iBUG landmarks with dlib's shape predictor (``shape_predictor_68_face_landmarks.dat``).

    The face is first warped (scale + shift, bilinear) into a crop where its box is ``crop_size``
    pixels wide (or the box's own width for bigger faces, up to twice ``crop_size``; beyond the
    frame's edge the crop holds the frame mirrored, so a face half out of it still looks like a
    face to the predictor). dlib returns
    integer pixel positions, so fitting in an upscaled crop gives sub-pixel landmarks in the frame
    and lets the box sit at fractional positions: this is what keeps tracking jitter low.
    """

    name = "dlib"

    def __init__(self, crop_size: int = 256) -> None:
        if crop_size < 64:
            raise DeageError(f"landmark crop_size must be at least 64 px, got {crop_size}")
        self.crop_size = int(crop_size)
        self._predictor = dlib.shape_predictor(str(model_paths()["landmarks68"]))
        self._lock = threading.Lock()

    def fit_points(self, image: np.ndarray, box: np.ndarray, angle: float = 0.0) -> Points:
        """Fit 68 landmarks to the face in ``box`` (a low-contrast face is lifted first: ``lift_contrast``).

        Args:
            image: RGB uint8 (H, W, 3) or grayscale uint8 (H, W).
            box: float (4,) ``x0, y0, x1, y1`` in frame pixels, a box like the HOG detector's, as it
                sits on the face once the face is turned upright about the box's centre.
            angle: the face's roll in degrees (the eye line's angle, ``atan2(dy, dx)`` in image
                coordinates, y down): the crop is turned by ``-angle`` so the predictor, trained on
                upright faces, sees one; 0 for an upright face.

        Returns:
            float32 (68, 2) frame pixel x, y (points may lie outside the frame near its edges).
        """
        gray = to_gray(image)
        x0, y0, x1, y1 = (float(v) for v in np.asarray(box, dtype=np.float64).reshape(4))
        width = max(x1 - x0, y1 - y0)
        if not np.isfinite(width) or width < 2.0:
            raise DeageError(f"face box too small or invalid for landmarks: {[x0, y0, x1, y1]}")
        side = int(round(min(max(self.crop_size, width), 2 * self.crop_size)))
        k = side / width
        margin = int(0.4 * side)
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        # frame -> crop: the square box of side `width` centred on the face maps to [margin, margin + side),
        # turned by -angle about its centre
        matrix = upright_matrix(np.array([cx, cy]), angle, k, np.full(2, margin + side / 2))
        crop = cv2.warpAffine(
            gray, matrix, (side + 2 * margin, side + 2 * margin), flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REFLECT,
        )
        crop = lift_contrast(crop, np.s_[margin:margin + side, margin:margin + side])
        rect = dlib.rectangle(margin, margin, margin + side - 1, margin + side - 1)
        with self._lock:
            shape = self._predictor(crop, rect)
        pts = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)
        return ((pts - matrix[:, 2]) @ np.linalg.inv(matrix[:, :2]).T).astype(np.float32)

    def fit(self, image: Image, face: Face) -> Face:
        """A new ``Face`` with ``landmarks`` (68, 2) fitted inside ``face.box`` and ``keypoints5`` from them.

        ``box``, ``score`` and ``descriptor`` are copied from ``face``.
        """
        landmarks = self.fit_points(image, face.box)
        return Face(
            box=np.asarray(face.box, dtype=np.float32).copy(),
            score=float(face.score),
            keypoints5=keypoints5_from_landmarks(landmarks),
            landmarks=landmarks,
            descriptor=face.descriptor,
        )


def _rescaled(gray: np.ndarray, scale: float) -> tuple[np.ndarray, float, float]:
    """``gray`` resized by ``scale`` (area filter down, bilinear up), with the exact x and y factors."""
    h, w = gray.shape
    if abs(scale - 1.0) <= 1e-6:
        return gray, 1.0, 1.0
    size = (max(1, int(round(w * scale))), max(1, int(round(h * scale))))
    small = cv2.resize(gray, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    return small, size[0] / w, size[1] / h


def _frame_box(rect: dlib.rectangle, sx: float, sy: float) -> np.ndarray:
    """A dlib rectangle (inclusive pixel corners) in a frame rescaled by (sx, sy) -> float32 (4,) frame box."""
    return np.array([(rect.left() + 0.5) / sx - 0.5, (rect.top() + 0.5) / sy - 0.5,
                     (rect.right() + 1.5) / sx - 0.5, (rect.bottom() + 1.5) / sy - 0.5], dtype=np.float32)


def merge_detections(
    primary: list[tuple[np.ndarray, float]], extra: list[tuple[np.ndarray, float]], iou: float = 0.3
) -> list[tuple[np.ndarray, float]]:
    """Union of two detectors' boxes, best score first.

    An ``extra`` box overlapping a ``primary`` one (IoU >= ``iou``) confirms it: the primary box is
    kept with the higher of the two scores. Any other ``extra`` box is added as a new face.
    """
    merged = [(box, float(score)) for box, score in primary]
    for box, score in extra:
        if merged:
            overlaps = box_iou(np.asarray([box]), np.asarray([b for b, _ in merged]))[0]
            best = int(np.argmax(overlaps))
            if overlaps[best] >= iou:
                merged[best] = (merged[best][0], max(merged[best][1], float(score)))
                continue
        merged.append((np.asarray(box, dtype=np.float32), float(score)))
    merged.sort(key=lambda item: -item[1])
    return merged


def cnn_confirms(cnn: "dlib.cnn_face_detection_model_v1", lock: threading.Lock, gray: np.ndarray,
                 box: np.ndarray) -> bool:
    """Whether dlib's CNN (MMOD) detector finds a face on ``box`` (float (4,)) of ``gray`` (uint8
    (H, W)), looking in a crop around it scaled so the face is ~120 px across (well inside
    MMOD's range, and quick: ~0.5 s on one CPU core)."""
    side = float(max(box[2] - box[0], box[3] - box[1], 1.0))
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    k = 120.0 / side
    crop_side = int(round(2.5 * side * k))
    matrix = upright_matrix(np.array([cx, cy]), 0.0, k, np.full(2, crop_side / 2))
    crop = cv2.warpAffine(gray, matrix, (crop_side, crop_side), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)
    centre = crop_side // 2
    crop = lift_contrast(crop, np.s_[centre - 60:centre + 60, centre - 60:centre + 60])  # a dim face, as the fit sees it
    expected = np.array([crop_side / 2 - 60, crop_side / 2 - 60, crop_side / 2 + 60, crop_side / 2 + 60])
    with lock:
        found = cnn(crop, 0)
    return any(box_iou(_frame_box(d.rect, 1.0, 1.0)[None], expected[None])[0, 0] >= 0.3 for d in found)


class DlibFaceVerifier:
    """dlib's CNN face detector as a second opinion on one detection (``FaceVerifier``).

    The tracker asks it about tracks whose detections all scored low (``TrackerConfig.verify_below``):
    HOG's false faces (a badge, a pattern on a shirt) are where a face-shaped gradient fooled it,
    which the CNN is not fooled by. The model is loaded on the first question, unless a detector
    that already runs it lends it (``DlibDetector.verifier``).
    """

    name = "dlib-cnn"

    def __init__(self, cnn: Any = None, lock: threading.Lock | None = None) -> None:
        self._cnn = cnn
        self._lock = lock or threading.Lock()

    def confirms(self, gray: np.ndarray, box: np.ndarray) -> bool:
        if self._cnn is None:
            self._cnn = dlib.cnn_face_detection_model_v1(str(model_paths()["cnn_detector"]))
        return cnn_confirms(self._cnn, self._lock, to_gray(gray), np.asarray(box, np.float64))


def _overlapping(box: np.ndarray, boxes: list[np.ndarray]) -> list[int]:
    """Indices of ``boxes`` that ``box`` overlaps (IoU >= 0.3): the same face found twice."""
    return [] if not boxes else list(np.nonzero(box_iou(box[None], np.stack(boxes))[0] >= 0.3)[0])


class DlibDetector:
    """dlib's frontal HOG face detector, with 68 landmarks fitted to every detection.

    With ``cnn=True`` dlib's CNN face detector (MMOD, shipped in ``face-recognition-models``) also
    runs on the frame, at most ``cnn_max_side`` pixels across, and its faces are merged with the
    HOG ones (``merge_detections``): it finds turned, dim, low-contrast and partly hidden faces that
    HOG misses, and confirms HOG's borderline ones. It costs ~1-3 s per frame on a 2-core CPU
    (milliseconds on a CUDA build of dlib), so the analysis uses it on single photos by default.

    Args:
        min_face_size: smallest face (box width, frame px) to find; None = ``auto_min_face_size``
            of each image (with ``photo``). It sets the detection scale when ``scale`` is None.
        photo: the images are single photos, not clip frames: smaller faces by default (see
            ``auto_min_face_size``), tilted heads (``rolls`` = ``PHOTO_ROLLS``), and, when no face
            is found, the image turned sideways and upside down (``PHOTO_LAST_ROLLS``), then
            with a mirrored border for a face cut by the frame's edge (``EDGE_PAD``).
        rolls: extra in-plane angles (degrees) at which the frame is turned and searched again, for
            heads tilted beyond what the upright detector sees (~25 degrees); None = ``PHOTO_ROLLS``
            for a photo, none for clip frames (a tracked tilted head is followed by the tracker).
        scale: resize factor applied before detection (0.5 = detect on a half-size frame, 2 =
            on a doubled one); None = ``HOG_WINDOW / min_face_size``, so big frames are detected
            downscaled and small faces upscaled. Boxes are mapped back to the full frame.
        upsample: extra 2x upsamplings inside dlib (each finds faces half as big, ~4x slower).
        threshold: added to dlib's SVM threshold (negative finds more faces and more false ones).
        landmarker: the 68-point landmarker to share; None loads one.
        cnn: also run the CNN detector and merge its faces (see above).
        cnn_max_side: longest side (px) of the frame the CNN sees (it finds faces down to ~1/8 of it).

    ``Face.score`` is ``hog_score_to_unit`` of dlib's margin. Boxes are dlib's (tight, about
    brow to chin); the landmarks may reach a little outside them.
    """

    name = "dlib"

    def __init__(
        self,
        *,
        min_face_size: float | None = None,
        scale: float | None = None,
        upsample: int = 0,
        threshold: float = 0.0,
        landmarker: DlibLandmarker | None = None,
        cnn: bool = False,
        cnn_max_side: int = 640,
        photo: bool = False,
        rolls: tuple[float, ...] | None = None,
    ) -> None:
        if not 128 <= int(cnn_max_side) <= 4096:
            raise DeageError(f"cnn_max_side must be 128..4096 px, got {cnn_max_side}")
        if scale is not None and not (0.05 <= scale <= 8.0):
            raise DeageError(f"detection scale must be between 0.05 and 8, got {scale}")
        if min_face_size is not None and min_face_size <= 0:
            raise DeageError(f"min_face_size must be positive, got {min_face_size}")
        if not 0 <= int(upsample) <= 3:
            raise DeageError(f"upsample must be 0..3, got {upsample}")
        self.min_face_size = min_face_size
        self.scale = scale
        self.upsample = int(upsample)
        self.threshold = float(threshold)
        self.landmarker = landmarker if landmarker is not None else DlibLandmarker()
        self._hog = dlib.get_frontal_face_detector()
        self.cnn_max_side = int(cnn_max_side)
        self.photo = bool(photo)
        self.rolls = tuple(float(a) for a in (rolls if rolls is not None else (PHOTO_ROLLS if photo else ())))
        self._cnn = dlib.cnn_face_detection_model_v1(str(model_paths()["cnn_detector"])) if cnn else None
        self._lock = threading.Lock()

    @property
    def cnn(self) -> bool:
        """Whether the CNN detector runs too."""
        return self._cnn is not None

    def verifier(self) -> DlibFaceVerifier:
        """A ``DlibFaceVerifier`` sharing this detector's CNN model (one load, ~0.5 s, and its
        memory) when it runs one, else one that loads its own on its first question."""
        return DlibFaceVerifier(self._cnn, self._lock) if self._cnn is not None else DlibFaceVerifier()

    def detection_scale(self, height: int, width: int) -> float:
        """The resize factor used for a frame of this size (before dlib's own ``upsample``)."""
        if self.scale is not None:
            return float(self.scale)
        min_face = (self.min_face_size if self.min_face_size is not None
                    else auto_min_face_size(height, width, self.photo))
        return float(min(8.0, HOG_WINDOW / min_face))

    def detect_boxes(self, image: np.ndarray, scale: float | None = None) -> list[tuple[np.ndarray, float]]:
        """Boxes only (no landmarks), HOG's merged with the CNN's when ``cnn``: list of
        (float32 (4,) frame box, score in (0, 1)), best first. ``scale``: resize factor for this
        call (None = ``detection_scale``; 1.0 suits a crop made with the face ~120 px wide)."""
        gray = _searchable_gray(image)
        if gray is None:
            return []
        s = self.detection_scale(*gray.shape) if scale is None else float(scale)
        out = self._hog_boxes(gray, s)
        if self._cnn is not None:
            out = merge_detections(out, self._cnn_boxes(gray, s))
        return out

    def _hog_boxes(self, gray: np.ndarray, scale: float) -> list[tuple[np.ndarray, float]]:
        """Upright HOG boxes of a grayscale frame detected at ``scale``, best first."""
        small, sx, sy = _rescaled(gray, scale)
        with self._lock:
            rects, margins, _ = self._hog.run(small, self.upsample, self.threshold)
        out = [(_frame_box(rect, sx, sy), hog_score_to_unit(margin)) for rect, margin in zip(rects, margins)]
        out.sort(key=lambda item: -item[1])
        return out

    def _cnn_boxes(self, gray: np.ndarray, hog_scale: float) -> list[tuple[np.ndarray, float]]:
        """CNN (MMOD) boxes of a grayscale frame: (float32 (4,) frame box, score in (0, 1))."""
        small, sx, sy = _rescaled(gray, min(hog_scale, self.cnn_max_side / max(gray.shape)))
        if min(small.shape) < CNN_MIN_SIDE:
            return []
        with self._lock:
            found = self._cnn(small, 0)
        # MMOD's confidence is ~1 for a clear face, 0 at its threshold: same mapping as HOG's margin.
        return [(_frame_box(det.rect, sx, sy), hog_score_to_unit(det.confidence)) for det in found]

    def _cnn_confirms(self, gray: np.ndarray, box: np.ndarray) -> bool:
        """Whether the CNN detector finds a face on ``box`` (float (4,)) in a crop around it."""
        assert self._cnn is not None
        return cnn_confirms(self._cnn, self._lock, gray, box)

    def detect(self, image: np.ndarray) -> list[Face]:
        """Faces in an RGB uint8 (H, W, 3) (or grayscale (H, W)) image, best score first.

        Each ``Face`` has its box, score, 68 ``landmarks`` and ``keypoints5`` derived from them.
        An image under ``MIN_IMAGE_SIDE`` px a side has none.
        """
        gray = _searchable_gray(image)
        if gray is None:
            return []
        s = self.detection_scale(*gray.shape)
        hog = self._hog_boxes(gray, s)
        known = [box for box, _ in hog]
        rolled = [(box, score, angle) for angle in self.rolls
                  for box, score in self._rolled_boxes(gray, angle, known)]
        found: list[tuple[np.ndarray, float, Points]] = []
        # 1. Upright HOG faces; a tilted one is re-fitted from the turned pass that found it.
        for box, score in hog:
            pts = self.landmarker.fit_points(gray, box)
            if abs(roll_degrees(pts)) >= ROLL_REFIT:
                over = _overlapping(box, [r[0] for r in rolled])
                pts = (self._fit_tilted(gray, rolled[over[0]][0], rolled[over[0]][2]) if over
                       else self._fit_tilted(gray, box, 0.0, pts))
            found.append((box, score, pts))
        # 2. Faces only the turned passes see (tilted beyond HOG's reach), fitted at their angle.
        for box, score, angle in rolled:
            if not _overlapping(box, [f[0] for f in found]):
                found.append((box, score, self._fit_tilted(gray, box, angle)))
        # 3. The CNN confirms faces found above or adds its own (fitted upright, refined by their tilt).
        for box, score in self._cnn_boxes(gray, s) if self._cnn is not None else []:
            over = _overlapping(box, [f[0] for f in found])
            if over:
                b, old, pts = found[over[0]]
                found[over[0]] = (b, max(old, score), pts)
                continue
            found.append((box, score, self._fit_any_roll(gray, box)))
        # 4. A photo with no face at all: search it sideways and upside down,
        for angle in PHOTO_LAST_ROLLS if self.photo and not found else ():
            found = [(box, score, self._fit_tilted(gray, box, angle)) for box, score in self._rolled_boxes(gray, angle)]
            if found:
                break
        # 5. and then for a face cut by the frame's edge.
        if self.photo and not found:
            found = self._edge_faces(gray, s)
        found.sort(key=lambda item: -item[1])
        return [Face(box=box, score=score, keypoints5=keypoints5_from_landmarks(pts), landmarks=pts)
                for box, score, pts in found]

    def _fit_any_roll(self, gray: np.ndarray, box: np.ndarray) -> Points:
        """68 points fitted on ``box`` upright, re-fitted turned upright when the head rolls ``ROLL_REFIT`` or more."""
        pts = self.landmarker.fit_points(gray, box)
        return self._fit_tilted(gray, box, roll_degrees(pts)) if abs(roll_degrees(pts)) >= ROLL_REFIT else pts

    def _edge_faces(self, gray: np.ndarray, scale: float) -> list[tuple[np.ndarray, float, Points]]:
        """Faces cut by the frame's edge, found in ``gray`` with a mirrored border (``EDGE_PAD``):
        (frame box, score, 68 points) each, boxes and points reaching outside the frame."""
        height, width = gray.shape
        pad = int(round(EDGE_PAD * min(height, width)))
        padded = cv2.copyMakeBorder(gray, pad, pad, pad, pad, cv2.BORDER_REFLECT)
        found: list[tuple[np.ndarray, float, Points]] = []
        for box, score in self.detect_boxes(padded, scale * EDGE_SCALE):
            framed = (box - pad).astype(np.float32)
            if visible_fraction(framed, height, width) < EDGE_MIN_VISIBLE:
                continue  # a reflection
            if _overlapping(framed, [f[0] for f in found]):
                continue
            pts = (self._fit_any_roll(padded, box) - pad).astype(np.float32)
            found.append((framed, score, pts))
        return found

    def _fit_tilted(self, gray: np.ndarray, box: np.ndarray, angle: float, pts: Points | None = None) -> Points:
        """68 landmarks in ``box`` fitted turned upright by ``angle``, then (up to twice) by the roll
        they show when it differs by 5 degrees or more: a fit at a rough angle shows the tilt.
        ``pts``: that first fit, when already made."""
        if pts is None:
            pts = self.landmarker.fit_points(gray, box, angle)
        for _ in range(2):
            roll = roll_degrees(pts)
            if abs(roll - angle) < 5.0:
                break
            angle = roll
            pts = self.landmarker.fit_points(gray, box, angle)
        return pts

    def _rolled_boxes(self, gray: np.ndarray, angle: float,
                      known: list[np.ndarray] = ()) -> list[tuple[np.ndarray, float]]:
        """HOG boxes of faces tilted by ``angle`` degrees (their eye line's ``atan2(dy, dx)``), found
        in the whole frame turned upright by ``angle``: (box, score) with each box the face's upright
        box centred where the face is in the frame (see ``DlibLandmarker.fit_points``). A box on
        none of the ``known`` faces must be confirmed (``_cnn_confirms`` or ``ROLLED_MIN_MARGIN``)."""
        h, w = gray.shape
        turn = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)  # turns a face tilted by `angle` upright
        cos, sin = abs(turn[0, 0]), abs(turn[0, 1])
        size = (int(np.ceil(w * cos + h * sin)), int(np.ceil(w * sin + h * cos)))
        turn[:, 2] += (size[0] - w) / 2, (size[1] - h) / 2
        turned = cv2.warpAffine(gray, turn, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        # at most a clip frame's scale: small *and* tilted faces are rare, and the turned frame is bigger
        s = min(self.detection_scale(h, w), HOG_WINDOW / auto_min_face_size(h, w))
        back = cv2.invertAffineTransform(turn)
        out = []
        for box, score in self._hog_boxes(turned, s):
            centre = back @ np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2, 1.0])
            half = (box[2:] - box[:2]) / 2
            frame_box = np.concatenate([centre - half, centre + half]).astype(np.float32)
            new = not known or box_iou(frame_box[None], np.stack(known)).max() < 0.3
            # Turned frames bring out more false faces (textures at odd angles): a new face needs
            # the CNN's word where it runs, else a clear HOG margin.
            if new and not (self._cnn_confirms(turned, box) if self._cnn is not None
                            else score >= hog_score_to_unit(ROLLED_MIN_MARGIN)):
                continue
            out.append((frame_box, score))
        return out


class DlibRecognizer:
    """dlib's ResNet face descriptor (128-d; same person when the Euclidean distance < 0.6).

    Args:
        num_jitters: >1 averages that many jittered crops (more stable, that many times slower).
    """

    name = "dlib"
    threshold = 0.6

    def __init__(self, num_jitters: int = 0) -> None:
        paths = model_paths()
        self.num_jitters = int(num_jitters)
        self._model = dlib.face_recognition_model_v1(str(paths["descriptor"]))
        self._predictor5 = dlib.shape_predictor(str(paths["landmarks5"]))
        self._lock = threading.Lock()

    def describe(self, image: Image, face: Face) -> np.ndarray:
        """float32 (128,) descriptor of ``face`` in the RGB uint8 (H, W, 3) ``image``.

        Aligns with the face's 68 landmarks when it has them, else fits dlib's 5-point model in its box.
        """
        image = check_image(image, allow_gray=False)
        x0, y0, x1, y1 = (int(round(float(v))) for v in np.asarray(face.box).reshape(4))
        rect = dlib.rectangle(x0, y0, max(x1 - 1, x0 + 1), max(y1 - 1, y0 + 1))
        with self._lock:
            if face.landmarks is not None and len(face.landmarks) == 68:
                parts = dlib.points([dlib.point(int(round(x)), int(round(y))) for x, y in np.asarray(face.landmarks)])
                shape = dlib.full_object_detection(rect, parts)
            else:
                shape = self._predictor5(image, rect)
            vector = self._model.compute_face_descriptor(image, shape, self.num_jitters)
        return np.asarray(vector, dtype=np.float32)

    def distance(self, a: np.ndarray, b: np.ndarray) -> float:
        """Euclidean distance between two descriptors (< ``threshold`` = same person)."""
        return float(np.linalg.norm(np.asarray(a, np.float32) - np.asarray(b, np.float32)))
