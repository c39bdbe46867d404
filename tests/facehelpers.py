"""Faces and landmarks for tests, straight from dlib (HOG detector + 68-point predictor).

A stop-gap until tests use the project's dlib backend; it returns ``deage.types.Face`` objects
in full-frame pixel coordinates, like a real backend would.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np

from deage.types import Face


@functools.lru_cache(maxsize=1)
def _models():
    import dlib

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # face_recognition_models imports pkg_resources
        import face_recognition_models as frm

    return (
        dlib.get_frontal_face_detector(),
        dlib.shape_predictor(frm.pose_predictor_model_location()),
        dlib.face_recognition_model_v1(frm.face_recognition_model_location()),
    )


def _face_from_shape(shape, rect, score: float) -> Face:
    pts = np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float32)
    kps = np.stack([pts[36:42].mean(0), pts[42:48].mean(0), pts[30], pts[48], pts[54]]).astype(np.float32)
    box = np.array([rect.left(), rect.top(), rect.right(), rect.bottom()], dtype=np.float32)
    return Face(box=box, score=float(score), keypoints5=kps, landmarks=pts)


def detect_faces(image: np.ndarray, upsample: int = 1) -> list[Face]:
    """All faces in an RGB uint8 image, largest first, with 68 landmarks and 5 key points."""
    import dlib

    detector, predictor, _ = _models()
    rects, scores, _ = detector.run(np.ascontiguousarray(image), upsample, 0.0)
    faces = []
    for rect, score in zip(rects, scores):
        box = dlib.rectangle(rect.left(), rect.top(), rect.right(), rect.bottom())
        shape = predictor(np.ascontiguousarray(image), box)
        faces.append(_face_from_shape(shape, rect, score))
    return sorted(faces, key=lambda f: -f.area)


def largest_face(image: np.ndarray, upsample: int = 1) -> Face:
    faces = detect_faces(image, upsample)
    assert faces, "dlib found no face in the test image"
    return faces[0]


def refit(image: np.ndarray, face: Face) -> Face:
    """Re-fit the 68 landmarks inside ``face.box`` (no detection): cheap per-frame landmarks."""
    import dlib

    _, predictor, _ = _models()
    x0, y0, x1, y1 = (int(round(v)) for v in face.box)
    rect = dlib.rectangle(x0, y0, x1, y1)
    return _face_from_shape(predictor(np.ascontiguousarray(image), rect), rect, face.score)


def descriptor(image: np.ndarray, face: Face) -> np.ndarray:
    """dlib's 128-d ResNet face descriptor of ``face`` (68-point shape) in an RGB uint8 image."""
    import dlib

    _, _, recognizer = _models()
    pts = face.landmarks
    x0, y0, x1, y1 = (int(round(v)) for v in face.box)
    parts = [dlib.point(int(round(x)), int(round(y))) for x, y in pts]
    shape = dlib.full_object_detection(dlib.rectangle(x0, y0, x1, y1), parts)
    return np.array(recognizer.compute_face_descriptor(np.ascontiguousarray(image), shape), dtype=np.float32)
