"""Load a source identity: the face in a photo or in one frame of another clip.

``load_source(spec)`` finds the face (dlib's HOG detector and 68-point landmarks, searching down
to small faces in small photos), warps it to the FFHQ-aligned crop the editors work in (512, or
1024 for a face big enough to fill it), and computes its dlib identity descriptor.

Paths: a plain path (a relative one is taken from ``base_dir``, the look file's folder) or
``pkg:<package>/<path>``, a file shipped inside an installed package, found without importing it
(``pkg:skimage/astronaut`` -> ``.../site-packages/skimage/data/astronaut.png``; a missing
extension is completed from the image files there).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from deage.edit.base import crop_size_for
from deage.edit.swap.folds import unsmiling
from deage.edit.swap.mesh import turn
from deage.edit.swap.params import ConsentRecord, SourceSpec
from deage.edit.swap.regions import skin_or_features
from deage.errors import AmbiguousFaceError, DeageError, MediaError, NoFaceError
from deage.face.align import align_face
from deage.face.gaze import Gaze, estimate_gaze, eye_width, lid_opening
from deage.face.glasses import find_glasses
from deage.face.masks import FaceFrame, disk
from deage.face.protocols import Detector, Recognizer
from deage.types import AlignedFace, Face, Image, Points

PKG_PREFIX = "pkg:"
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".exr", ".bmp", ".webp")
SMALL_PHOTO = 400
"""Photos whose short side is below this are upscaled (and padded) to it before detection."""
SOURCE_EYE_DISTANCE = 40.0
"""Pixels between the eyes' centres in the source photo below which its replacements of larger
faces come out soft (they are upscaled from it)."""
SOURCE_OPENING = 0.2
"""Lid opening (height / width of the eye) below which a source's eye counts as narrowed: open
eyes measured 0.25-0.35 here, laughing ones 0.15-0.18 (their replacements' eyes smeared)."""
SOURCE_GLASSES = 0.5
"""``find_glasses``'s ``present`` over which a source face counts as wearing glasses: the swap
carries them onto its replacements, cut off at the face's edge (no arms)."""
SOURCE_TURN = 0.35
"""``mesh.turn`` (half jaw widths; 0 frontal, about 0.5 three-quarters) beyond which a source is
too turned: the far side of its replacements is stretched from few pixels."""


class SourceWarning(UserWarning):
    """A swap source will show in its replacements: small, narrowed eyes, turned
    (``source_concerns``)."""


@dataclass
class SourceFace:
    """One source identity, ready to be put on target faces.

    Attributes:
        name: the key of the source in the Look.
        path: the resolved file it came from.
        frame: the frame of that file (0 for a photo).
        aligned: the face in an FFHQ-aligned crop (RGB uint8 (S, S, 3), S = 512 or 1024), with its
            68 landmarks and 5 key points in crop pixels.
        descriptor: float32 (128,) dlib identity descriptor (from the original image).
        skin: float32 (S, S) in [0, 1]: where the crop shows skin or facial features (not hair,
            glasses frames or background); the swap takes no forehead from elsewhere.
        valid: float32 (S, S) in [0, 1]: where the crop holds the photo's own pixels (a face at
            the photo's edge has none beyond it); the swap takes nothing from elsewhere.
        consent: the consent record (filled in by the editor after its check).
        file_sha256: sha256 of the file the face came from (for provenance).
        face_index: which face of the image it was (left to right), and how many there were.
        concerns: what about the face will show in its replacements (``source_concerns``).
    """

    name: str
    path: Path
    frame: int
    aligned: AlignedFace
    descriptor: np.ndarray | None
    skin: np.ndarray
    valid: np.ndarray
    consent: ConsentRecord | None
    file_sha256: str
    face_index: int = 0
    faces_in_image: int = 1
    concerns: tuple[str, ...] = ()

    @property
    def image(self) -> Image:
        return self.aligned.image

    @functools.cached_property
    def gaze(self) -> Gaze:
        """Where the source's irises sit in its eyes (``deage.face.gaze``), measured once on the
        photo (measuring them again on each frame's warped copy would add the measure's own
        jitter to the eyes)."""
        return estimate_gaze(self.image, self.landmarks)

    @functools.cached_property
    def unsmiling(self) -> Image:
        """RGB uint8 (S, S, 3): the photo with its smile's folds smoothed away
        (``deage.edit.swap.folds.unsmiling``), made once, for plates that smile less."""
        return unsmiling(self.image, self.landmarks, self.skin)

    @property
    def landmarks(self) -> np.ndarray:
        assert self.aligned.landmarks is not None
        return self.aligned.landmarks

    @functools.cached_property
    def teeth(self) -> np.ndarray:
        """float32 (S, S) in [0, 1]: where the photo shows teeth (``teeth_mask``), measured once."""
        return teeth_mask(self.image, self.landmarks)

    @property
    def face(self) -> Face:
        """The face in its aligned crop (``image``), as a recognizer describes it: the box around
        its five key points, score 1, key points and 68 landmarks in crop pixels."""
        kps = self.aligned.keypoints5
        return Face(box=np.concatenate([kps.min(0), kps.max(0)]).astype(np.float32), score=1.0, keypoints5=kps,
                    landmarks=self.aligned.landmarks)

    def record(self) -> dict:
        """What the provenance of a render should say about this source (no biometric data)."""
        return {
            "source": self.name,
            "file": str(self.path),
            "frame": self.frame,
            "file_sha256": self.file_sha256,
            "face_index": self.face_index,
            "faces_in_image": self.faces_in_image,
            "concerns": list(self.concerns),
            "consent": self.consent.to_dict() if self.consent is not None else None,
        }


TEETH_LIGHTER = (4.0, 16.0)
"""CIE L* above the lips' median (start, full) from which a pixel within them counts as teeth."""
TEETH_GREYER = (0.6, 0.3)
"""Chroma as a fraction of the lips' (upper quartile; start, full) below which a pixel counts as teeth."""
TEETH_DARKER = (12.0, 24.0)
"""CIE L* below the lips' median (start, full) from which a pixel counts as the mouth's dark inside."""
TEETH_SHOWN = 0.01
"""Area of teeth (eye distances squared) from which a source's mouth counts as open."""
LIPS_COLOURLESS = 8.0
"""Chroma of the lips below which a photo has no colour to tell teeth from a lip's highlight by."""


FRINGE_SHADOW = 0.9
"""Above the brows, the source's skin darker than this fraction of the forehead's own just above
the brows (column by column) is the shadow a fringe casts: the astronaut's forehead falls from
216 to 150 levels over the 0.18 eye distances under her fringe, and that band, pasted on a
plate's forehead, read as a dark wavy line along the swap's top edge."""
FRINGE_REACH = 0.2
"""How far (eye distances) below the hair a fringe's shadow is looked for."""


def out_of_the_fringes_shadow(image: Image, landmarks: Points, skin: np.ndarray) -> np.ndarray:
    """``skin`` (float32 (S, S) in [0, 1], of the aligned crop ``image``, RGB uint8, 68
    ``landmarks`` in its pixels) with the forehead ending where it turns darker than
    ``FRINGE_SHADOW`` of its brightness just above the brows within ``FRINGE_REACH`` of the hair,
    and with all above that."""
    lm = np.asarray(landmarks, np.float64)
    d = FaceFrame.from_landmarks(lm).eye_distance
    top = int(np.floor(lm[17:27, 1].min()))
    if top < 4:
        return skin
    grey = cv2.GaussianBlur(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32), (0, 0),
                            max(0.7, 0.04 * d))
    near = slice(max(0, top - max(2, int(round(0.05 * d)))), top + 1)
    lit = np.where(skin[near] > 0.5, grey[near], np.nan)
    with warnings.catch_warnings():  # columns without skin there (beyond the face) are all-NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        reference = np.nanmedian(lit, axis=0)
    shadow = grey[:top] < FRINGE_SHADOW * np.nan_to_num(reference, nan=0.0)[None, :]
    shadow[near.start:] = False  # the band the reference came from (and a brow's top edge)
    # Only next to the hair: further down a forehead's light falls off on its own (a bald head).
    reach = max(2, int(round(FRINGE_REACH * d)))
    upward = np.ones((reach, 1), np.uint8)
    under_hair = cv2.erode((skin[:top] > 0.5).astype(np.uint8), upward, anchor=(0, reach - 1),
                           borderType=cv2.BORDER_CONSTANT, borderValue=0) == 0
    shadow &= under_hair
    runs = np.cumprod(~shadow[::-1], axis=0)[::-1]  # 1 from the brows up to the first shadowed row
    out = skin.astype(np.float32, copy=True)
    out[:top] *= runs
    return out


def teeth_mask(image: Image, landmarks: Points) -> np.ndarray:
    """float32 (S, S) in [0, 1]: the inside of the mouth that an aligned face crop (RGB uint8
    (S, S, 3), 68 landmarks in its pixels) shows past its inner-lip outline: teeth (much lighter
    and greyer than its lips) and the dark gaps at a smile's corners (much darker), within the
    inner outline grown by a fifth and the lips' corners. dlib's inner-lip points sit on the
    teeth of a broad smile, so these reach past the mouth's inner outline; put onto a mouth
    shaped differently, they land on the lips as pale and dark streaks. The lips' colour is read
    between the outer and inner outlines. The dark is marked only where teeth show (a closed
    mouth's dark is its lips' line or a moustache). In a photo without colour (the lips' chroma
    under ``LIPS_COLOURLESS``) nothing is: a lip's highlight is as light and as grey as teeth
    there."""
    size = image.shape[0]
    lm = np.asarray(landmarks, np.float64)

    def fill(points: np.ndarray) -> np.ndarray:
        canvas = np.zeros((size, size), np.uint8)
        cv2.fillPoly(canvas, [np.round(points).astype(np.int32)], 1)
        return canvas > 0

    inner = lm[60:68]
    ring = fill(lm[48:60]) & ~fill(inner)
    where = fill(inner.mean(0) + (inner - inner.mean(0)) * 1.2) | fill(lm[[48, 49, 61, 60, 67, 59]]) \
        | fill(lm[[54, 55, 65, 64, 63, 53]])
    if ring.sum() < 16:
        return np.zeros((size, size), np.float32)
    lab = cv2.cvtColor(image.astype(np.float32) / np.float32(255.0), cv2.COLOR_RGB2Lab)
    chroma = np.hypot(lab[..., 1], lab[..., 2])
    light = float(np.median(lab[..., 0][ring]))
    lips_chroma = float(np.percentile(chroma[ring], 75))
    if lips_chroma < LIPS_COLOURLESS:
        return np.zeros((size, size), np.float32)
    lighter = np.clip((lab[..., 0] - light - TEETH_LIGHTER[0]) / (TEETH_LIGHTER[1] - TEETH_LIGHTER[0]), 0.0, 1.0)
    lo, hi = TEETH_GREYER[0] * lips_chroma, TEETH_GREYER[1] * lips_chroma
    teeth = (lighter * np.clip((lo - chroma) / (lo - hi), 0.0, 1.0) * where).astype(np.float32)
    eye = float(np.linalg.norm(lm[42:48].mean(0) - lm[36:42].mean(0)))
    if teeth.sum() >= TEETH_SHOWN * eye * eye:
        # Teeth show, so the mouth is open: what is much darker there is its inside (a closed
        # mouth's dark is its lips' line or a moustache, which stay the source's).
        darker = np.clip((light - lab[..., 0] - TEETH_DARKER[0]) / (TEETH_DARKER[1] - TEETH_DARKER[0]), 0.0, 1.0)
        teeth = np.maximum(teeth, (darker * where).astype(np.float32))
    r = max(1, int(round(0.02 * eye)))  # the teeth's own dark edges and gaps go with them
    teeth = cv2.dilate(teeth, disk(r))
    return cv2.GaussianBlur(teeth, (0, 0), max(0.5, 0.01 * eye)).astype(np.float32)


def resolve_source_path(text: str, base_dir: str | Path | None = None) -> Path:
    """The file a source path names (see the module docstring). It is not checked to exist,
    except that a ``pkg:`` path must name an installed package.

    Raises:
        MediaError: a ``pkg:`` path whose package is not installed.
    """
    if text.startswith(PKG_PREFIX):
        package, _, inner = text[len(PKG_PREFIX):].strip("/").partition("/")
        spec = importlib.util.find_spec(package) if package else None
        if spec is None or not (spec.submodule_search_locations or spec.origin):
            raise MediaError(f"package {package!r} is not installed", text)
        root = Path(next(iter(spec.submodule_search_locations))) if spec.submodule_search_locations \
            else Path(str(spec.origin)).parent
        path = root / inner
        if not path.exists():
            path = _package_file(root, inner) or path
        return path
    path = Path(text).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = Path(base_dir) / path
    return path


def _package_file(root: Path, inner: str) -> Path | None:
    """``inner`` under ``root`` with an image extension, or under ``root/data`` (skimage's layout)."""
    for folder in (root, root / "data"):
        for suffix in _IMAGE_SUFFIXES:
            candidate = folder / (inner + suffix)
            if candidate.is_file():
                return candidate
    return None


def read_source_image(path: Path, frame: int = 0) -> Image:
    """RGB uint8 (H, W, 3) of a photo, or of frame ``frame`` of a clip or image sequence.

    Raises:
        MediaError: missing, unreadable or corrupt file, or a frame outside the clip.
    """
    from deage.video import open_clip

    with open_clip(path) as clip:
        if not 0 <= frame < len(clip):
            raise MediaError(f"frame {frame} asked for, but it has {len(clip)} frames (0..{len(clip) - 1})", path)
        return clip.read(frame)


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return ""
    return digest.hexdigest()


def _photo_layout(height: int, width: int) -> tuple[float, int, int]:
    """Scale and padding (y, x) ``prepare_photo`` applies to a photo of this size."""
    if min(height, width) >= SMALL_PHOTO:
        return 1.0, 0, 0
    k = SMALL_PHOTO / float(min(height, width))
    return k, int(0.2 * round(height * k)), int(0.2 * round(width * k))


def prepare_photo(image: Image) -> Image:
    """A small photo upscaled (bicubic) so its short side is ``SMALL_PHOTO`` px and padded by 20 %
    (edge pixels repeated) so a face that fills it, or touches its edge, is still found; other
    images are returned as they are."""
    h, w = image.shape[:2]
    k, py, px = _photo_layout(h, w)
    if k == 1.0:
        return image
    big = cv2.resize(image, (int(round(w * k)), int(round(h * k))), interpolation=cv2.INTER_CUBIC)
    return cv2.copyMakeBorder(big, py, py, px, px, cv2.BORDER_REPLICATE)


def photo_pixels(height: int, width: int) -> np.ndarray:
    """float32 mask of ``prepare_photo``'s output for a ``height`` x ``width`` photo: 1 on the
    photo's own pixels, 0 on the padding."""
    k, py, px = _photo_layout(height, width)
    inner = np.ones((int(round(height * k)), int(round(width * k))), np.float32)
    return cv2.copyMakeBorder(inner, py, py, px, px, cv2.BORDER_CONSTANT, value=0.0) if k != 1.0 else inner


def find_faces(image: Image, detector: Detector | None = None) -> list[Face]:
    """Faces (with 68 landmarks) in an RGB uint8 image, left to right; down to 40 px faces when
    the default search finds none."""
    from deage.face.backends.dlib_backend import DlibDetector

    detector = detector if detector is not None else DlibDetector()
    faces = detector.detect(image)
    if not faces and isinstance(detector, DlibDetector) and detector.min_face_size is None:
        faces = DlibDetector(min_face_size=40.0, landmarker=detector.landmarker).detect(image)
    faces = [f for f in faces if f.landmarks is not None]
    return sorted(faces, key=lambda f: f.center[0])


def pick_face(faces: list[Face], choice: str | int | None, path: Path | str, source: str = "") -> tuple[Face, int]:
    """The face ``choice`` names among ``faces`` (left to right) and its index.

    Raises:
        NoFaceError: no face, or an index beyond the faces found.
        AmbiguousFaceError: several faces and no choice made.
    """
    label = f" of source {source!r}" if source else ""
    if not faces:
        raise NoFaceError(f"no face found in the source image{label}", path)
    if choice is None:
        if len(faces) > 1:
            raise AmbiguousFaceError(
                f"{len(faces)} faces in the source image{label} and no choice made: add \"face\": \"largest\" or "
                f"an index 0..{len(faces) - 1} (counted left to right) to the source", path)
        return faces[0], 0
    if choice == "largest":
        index = int(np.argmax([f.area for f in faces]))
        return faces[index], index
    if not isinstance(choice, int) or isinstance(choice, bool) or choice < 0:
        raise DeageError(f"face choice must be \"largest\" or an index >= 0, got {choice!r}", path)
    if choice >= len(faces):
        raise NoFaceError(f"face {choice} asked for{label}, but the image has {len(faces)} face(s) "
                          f"(indices 0..{len(faces) - 1}, left to right)", path)
    return faces[choice], choice


def source_concerns(landmarks: Points, scale: float = 1.0, glasses: float = 0.0) -> tuple[str, ...]:
    """What about a source face will show in its replacements, as sentences for an artist: a
    face under ``SOURCE_EYE_DISTANCE`` pixels between the eyes, eyes narrowed under
    ``SOURCE_OPENING`` (a laugh, a blink), a head turned beyond ``SOURCE_TURN``, glasses
    (``glasses``: ``find_glasses``'s ``present`` on the source, over ``SOURCE_GLASSES``).
    ``landmarks``: float (68, 2) in an image ``scale`` times the size of the source photo. Empty
    for a good one."""
    pts = np.asarray(landmarks, np.float64)
    out = []
    distance = float(np.linalg.norm(pts[36:42].mean(0) - pts[42:48].mean(0))) / scale
    if distance < SOURCE_EYE_DISTANCE:
        out.append(f"its face is small ({distance:.0f} px between the eyes' centres; {SOURCE_EYE_DISTANCE:.0f} or "
                   "more keeps a replacement sharp): replacements of larger faces will be soft")
    opening = min(lid_opening(pts, eye) / max(eye_width(pts, eye), 1e-6) for eye in (0, 1))
    if opening < SOURCE_OPENING:
        out.append(f"its eyes are narrowed or closed (lid opening {opening:.2f} of the eye's width; open eyes "
                   "measure 0.25-0.35): with \"eyes\": \"source\" the replacements' eyes will be too; use a photo "
                   "with open eyes, or \"eyes\": \"target\"")
    sideways = turn(pts)
    if abs(sideways) > SOURCE_TURN:
        out.append(f"it is turned to one side (turn {sideways:+.2f} half jaw widths; 0 is frontal): the far side "
                   "of its replacements is stretched from few pixels; a frontal photo is better")
    if glasses > SOURCE_GLASSES:
        out.append("it wears glasses: its replacements wear them too, painted on with the face and cut off at "
                   "its edge (no arms); a photo without glasses is better")
    return tuple(out)


def load_source(
    spec: SourceSpec,
    base_dir: str | Path | None = None,
    *,
    detector: Detector | None = None,
    recognizer: Recognizer | None = None,
) -> SourceFace:
    """Load the source identity ``spec`` describes (its consent is checked by the caller).

    Args:
        spec: the source (photo or clip frame, face choice).
        base_dir: folder relative paths are taken from (the look file's folder); None = the
            current folder.
        detector: face detector with 68-point landmarks; None = the embedded dlib one.
        recognizer: the identity descriptor engine; None = dlib's ResNet descriptor.

    Raises:
        MediaError: missing or unreadable file. NoFaceError: no face (or the chosen index is not
        there). AmbiguousFaceError: several faces and no choice made. Each names the file.
    """
    path = resolve_source_path(spec.path, base_dir)
    if not path.exists():
        raise MediaError(f"source {spec.name!r}: file not found", path)
    frame = spec.frame if spec.clip is not None else 0
    raw = read_source_image(path, frame)
    image = prepare_photo(raw)
    faces = find_faces(image, detector)
    face, index = pick_face(faces, spec.face, path, spec.name)
    aligned = align_face(image, face, "ffhq", crop_size_for(face))
    size = aligned.size
    # Where the crop holds the photo's own pixels (not padding, not reflection beyond its edge).
    valid = cv2.warpAffine(photo_pixels(*raw.shape[:2]), aligned.matrix, (size, size), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    valid = cv2.erode(valid, np.ones((3, 3), np.uint8))
    if recognizer is None:
        from deage.face.backends.dlib_backend import DlibRecognizer

        recognizer = DlibRecognizer()
    descriptor = np.asarray(recognizer.describe(image, face), np.float32)
    skin = cv2.resize(skin_or_features(aligned.image, aligned.landmarks, size // 4), (size, size),
                      interpolation=cv2.INTER_LINEAR)
    skin = out_of_the_fringes_shadow(aligned.image, aligned.landmarks, skin)
    return SourceFace(name=spec.name, path=path, frame=frame, aligned=aligned, descriptor=descriptor,
                      skin=skin * valid, valid=valid, consent=None,
                      file_sha256=_file_sha256(path), face_index=index, faces_in_image=len(faces),
                      concerns=source_concerns(face.landmarks, _photo_layout(*raw.shape[:2])[0],
                                               find_glasses(aligned.image, aligned.landmarks).present))
