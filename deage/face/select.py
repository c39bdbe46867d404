"""Choose which tracked faces to edit: all, the largest, by id, or the person in a reference photo.

Example::

    select_tracks(analysis, "all")                 # every track id
    select_tracks(analysis, "largest")             # [id of the biggest face]
    select_tracks(analysis, [1, 3])                # these ids (checked)
    select_tracks(analysis, "actor.jpg")           # tracks of the person in this photo
    select_tracks(analysis, reference_descriptor("actor.jpg"))
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from deage.errors import AmbiguousFaceError, DeageError, MediaError, NoFaceError
from deage.face.analysis import Analysis
from deage.face.detect import make_detector, make_recognizer
from deage.face.protocols import Detector, Recognizer
from deage.types import Image, Track

KEYWORDS = ("all", "largest")


def _read_photo(path: Path) -> Image:
    import cv2

    if not path.is_file():
        raise MediaError("reference photo not found", path)
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise MediaError("cannot read the reference photo (not an image, or corrupt)", path)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def reference_descriptor(
    photo: str | Path | Image,
    *,
    detector: Detector | None = None,
    recognizer: Recognizer | None = None,
    name: str | None = None,
) -> np.ndarray:
    """Identity descriptor of the one face in a reference photo.

    Args:
        photo: an image path, or an RGB uint8 (H, W, 3) array.
        detector, recognizer: engines to use; None = the embedded dlib ones. The recognizer must
            be the one that made the analysis' descriptors.
        name: how to name an array photo in error messages.

    Raises:
        NoFaceError: no face in the photo. AmbiguousFaceError: several faces. MediaError: unreadable file.
    """
    label: str | Path = name or "reference photo"
    if isinstance(photo, (str, Path)):
        label = Path(photo)
        image = _read_photo(label)
    else:
        image = photo
    detector = detector if detector is not None else make_detector("dlib")
    recognizer = recognizer if recognizer is not None else make_recognizer("dlib")
    faces = detector.detect(image)
    if not faces:
        raise NoFaceError("no face found in the reference photo", label)
    if len(faces) > 1:
        raise AmbiguousFaceError(
            f"{len(faces)} faces in the reference photo; crop it to the one person to select", label
        )
    return np.asarray(recognizer.describe(image, faces[0]), dtype=np.float32)


def track_descriptor(track: Track) -> np.ndarray | None:
    """Mean of the descriptors stored on a track's faces (float32 (D,)), or None when it has none."""
    found = [f.descriptor for f in track.faces.values() if f.descriptor is not None]
    return np.mean(np.stack(found), axis=0).astype(np.float32) if found else None


def _median_area(track: Track) -> float:
    return float(np.median([f.area for f in track.faces.values()]))


def select_tracks(
    analysis: Analysis,
    how: str | Path | int | list[int] | np.ndarray = "all",
    *,
    detector: Detector | None = None,
    recognizer: Recognizer | None = None,
    threshold: float | None = None,
) -> list[int]:
    """Track ids to edit.

    Args:
        analysis: the clip's ``Analysis``.
        how: ``"all"``; ``"largest"`` (the track with the largest median face area); a track id
            or a list of ids; a reference descriptor (float (D,) ndarray); or the path of a
            reference photo (any other string).
        detector: finds the face in a reference photo; None = dlib's.
        recognizer: compares descriptors (and describes a photo); None = the analysis'
            ``settings.recognizer``. It must be the one the analysis was made with.
        threshold: largest descriptor distance that counts as the same person; None = the recognizer's.

    Returns:
        Track ids, ascending; for a reference, every track of that person (a person who left and
        came back unrecognised can own several tracks), closest first.

    Raises:
        NoFaceError: the clip has no faces, or no track matches the reference.
        DeageError: an unknown id, or the analysis was made without descriptors.
    """
    ids = analysis.track_ids
    where = analysis.source or None
    if isinstance(how, np.ndarray) and how.ndim == 1 and how.dtype.kind == "f":
        return _by_descriptor(analysis, how, recognizer, threshold)
    if isinstance(how, (str, Path)) and str(how) not in KEYWORDS:
        recognizer = recognizer if recognizer is not None else make_recognizer(analysis.settings.recognizer)
        reference = reference_descriptor(how, detector=detector, recognizer=recognizer)
        return _by_descriptor(analysis, reference, recognizer, threshold)
    if not ids:
        raise NoFaceError(_no_face(analysis), where)
    if how == "all":
        return list(ids)
    if how == "largest":
        return [max(analysis.tracks, key=_median_area).track_id]
    if isinstance(how, (int, np.integer)) and not isinstance(how, bool):
        wanted = [int(how)]
    elif isinstance(how, (list, tuple)) and all(isinstance(i, (int, np.integer)) and not isinstance(i, bool) for i in how):
        wanted = [int(i) for i in how]
    else:
        raise DeageError(
            f"cannot select faces by {how!r}; use 'all', 'largest', track ids, a descriptor or a photo path"
        )
    missing = [i for i in wanted if i not in ids]
    if missing:
        raise DeageError(
            f"no face track {', '.join(map(str, missing))}; the tracks are: {', '.join(map(str, ids))}", where
        )
    return sorted(set(wanted))


def _no_face(analysis: Analysis) -> str:
    """The message for an analysis without faces; for a big photo searched with dlib's default
    smallest face (1/40 of its short side: 100 px in a 24 MP photo), how to look for smaller ones."""
    photo = analysis.frame_count == 1
    message = "no face was found in the " + ("photo" if photo else "clip")
    settings = analysis.settings
    if photo and settings.detector == "dlib" and settings.min_face_size is None:
        from deage.face.backends.dlib_backend import HOG_WINDOW, auto_min_face_size

        smallest = auto_min_face_size(analysis.height, analysis.width, photo=True)
        if smallest > HOG_WINDOW / 2:
            half = max(round(smallest / 2), HOG_WINDOW // 2)
            message += (f" (in a {analysis.width}x{analysis.height} photo faces under {smallest:.0f} px from brow"
                        f" to chin are not looked for: `--min-face {half}`, or AnalysisSettings(min_face_size="
                        f"{half}), looks for faces down to {half} px, about four times as slowly)")
    return message


def _by_descriptor(
    analysis: Analysis, reference: np.ndarray, recognizer: Recognizer | None, threshold: float | None
) -> list[int]:
    where = analysis.source or None
    if not analysis.tracks:
        raise NoFaceError(_no_face(analysis), where)
    recognizer = recognizer if recognizer is not None else make_recognizer(analysis.settings.recognizer)
    limit = float(recognizer.threshold if threshold is None else threshold)
    scored = []
    for t in analysis.tracks:
        desc = track_descriptor(t)
        if desc is not None:
            if desc.shape != reference.shape:
                raise DeageError(
                    f"reference descriptor has {reference.shape[0]} values, the analysis' have {desc.shape[0]}:"
                    " use the recognizer the clip was analysed with", where
                )
            scored.append((recognizer.distance(reference, desc), t.track_id))
    if not scored:
        raise DeageError("the analysis has no face descriptors; analyse with descriptors=True to select by photo", where)
    scored.sort()
    matches = [tid for dist, tid in scored if dist < limit]
    if not matches:
        raise NoFaceError(
            f"no face in the clip matches the reference (closest: track {scored[0][1]} at distance "
            f"{scored[0][0]:.2f}, threshold {limit:.2f})", where
        )
    return matches
