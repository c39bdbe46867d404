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


def wear_face_mask(image: np.ndarray, face: Face, colour: str = "blue") -> tuple[np.ndarray, np.ndarray]:
    """``image`` (RGB uint8) with a surgical mask over ``face``'s nose, cheeks and chin: one of
    insightface's mask photos (``mask_white`` / ``blue`` / ``black`` / ``green.jpg``), warped from
    below the eyes (jaw points 1 and 15) to under the chin. Returns (image, float32 (H, W) alpha of
    the mask in [0, 1])."""
    from pathlib import Path

    import cv2
    import insightface

    path = Path(insightface.__file__).parent / "data" / "images" / f"mask_{colour}.jpg"
    mask = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    lm = np.asarray(face.landmarks, np.float64)
    up = (lm[29] - lm[8]) / np.linalg.norm(lm[29] - lm[8])
    drop = 0.5 * np.linalg.norm(lm[8] - lm[57])
    quad = np.float32([lm[1], lm[15], lm[11] - up * drop, lm[5] - up * drop])
    h, w = mask.shape[:2]
    matrix = cv2.getPerspectiveTransform(np.float32([[0, 0], [w, 0], [w, h], [0, h]]), quad)
    size = (image.shape[1], image.shape[0])
    warped = cv2.warpPerspective(mask, matrix, size)
    alpha = cv2.warpPerspective(np.full((h, w), 255, np.uint8), matrix, size).astype(np.float32) / 255.0
    alpha = cv2.GaussianBlur(alpha, (0, 0), 1.0)
    out = image * (1.0 - alpha[..., None]) + warped * alpha[..., None]
    return np.round(out).astype(np.uint8), alpha


def hold_bar(image: np.ndarray, face: Face) -> tuple[np.ndarray, np.ndarray]:
    """``image`` (RGB uint8) with a grey bar, like a microphone held from below, over ``face``'s
    chin: 0.3 eye distances wide, from just above the lower lip's bottom down out of the picture,
    shaded left to right (40 to 110 levels, so its edges are lighter than a dark coat and darker
    than skin). Returns (image, float32 (H, W) mask of the bar, 1 on it)."""
    lm = np.asarray(face.landmarks, np.float64)
    ed = float(np.linalg.norm(lm[36:42].mean(0) - lm[42:48].mean(0)))
    centre, top, width = lm[57, 0] + 0.15 * ed, int(lm[57, 1] - 0.05 * ed), 0.3 * ed
    x0, x1 = int(round(centre - width / 2)), int(round(centre + width / 2))
    out, bar = image.copy(), np.zeros(image.shape[:2], np.float32)
    out[top:, x0:x1 + 1] = np.linspace(40, 110, x1 - x0 + 1)[None, :, None].astype(np.uint8)
    bar[top:, x0:x1 + 1] = 1.0
    return out, bar


def wear_sunglasses(image: np.ndarray, face: Face) -> tuple[np.ndarray, np.ndarray]:
    """``image`` (RGB uint8) with a pair of dark sunglasses over ``face``'s eyes: two lenses
    0.84 x 0.66 eye distances, centred 0.08 eye distances below each eye, letting 15 % of the eye
    through, in black rims 0.04 eye distances thick, with a bar over the brows. Returns (image,
    bool (H, W) mask of the glasses: lenses and frame)."""
    import cv2

    lm = np.asarray(face.landmarks, np.float64)
    left, right = lm[36:42].mean(0), lm[42:48].mean(0)
    ed = float(np.linalg.norm(right - left))
    angle = float(np.degrees(np.arctan2(right[1] - left[1], right[0] - left[0])))
    axes = (int(0.42 * ed), int(0.33 * ed))
    lens, rim = np.zeros(image.shape[:2], np.uint8), np.zeros(image.shape[:2], np.uint8)
    for eye in (left, right):
        centre = (int(eye[0]), int(eye[1] + 0.08 * ed))
        cv2.ellipse(lens, centre, axes, angle, 0, 360, 255, -1, cv2.LINE_AA)
        cv2.ellipse(rim, centre, axes, angle, 0, 360, 255, max(2, int(0.04 * ed)), cv2.LINE_AA)
    ends = [left + (right - left) * t + np.array([0.0, -0.22 * ed]) for t in (-0.4, 1.4)]
    cv2.line(rim, tuple(int(v) for v in ends[0]), tuple(int(v) for v in ends[1]), 255, max(2, int(0.05 * ed)),
             cv2.LINE_AA)
    a = lens.astype(np.float32)[..., None] / 255.0 * 0.85
    out = image * (1.0 - a) + np.array([20, 22, 25], np.float32) * a
    f = rim.astype(np.float32)[..., None] / 255.0
    out = out * (1.0 - f) + 10.0 * f
    return np.round(out).astype(np.uint8), (lens > 0) | (rim > 0)


SILVER, GOLD, GUNMETAL = (200, 200, 205), (205, 170, 95), (120, 120, 125)
"""RGB colours of thin metal frames (``wear_glasses``): about as light as skin, or lighter, but
not skin-coloured."""


def wear_glasses(image: np.ndarray, face: Face, colour: tuple[int, int, int] = (25, 22, 20),
                 thickness: float = 0.035) -> tuple[np.ndarray, np.ndarray]:
    """``image`` (RGB uint8) with a pair of clear glasses over ``face``'s eyes: two rims 0.9 x 0.66
    eye distances centred 0.08 eye distances below each eye, ``thickness`` eye distances thick, in
    ``colour``, a bridge between them over the nose and arms to the face's outline. Returns
    (image, bool (H, W) mask of the frame)."""
    import cv2

    lm = np.asarray(face.landmarks, np.float64)
    left, right = lm[36:42].mean(0), lm[42:48].mean(0)
    ed = float(np.linalg.norm(right - left))
    x_axis = (right - left) / ed
    down = np.array([-x_axis[1], x_axis[0]])
    angle = float(np.degrees(np.arctan2(x_axis[1], x_axis[0])))
    width = max(2, int(round(thickness * ed)))
    frame = np.zeros(image.shape[:2], np.uint8)
    for eye in (left, right):
        centre = eye + 0.08 * ed * down
        cv2.ellipse(frame, tuple(int(v) for v in centre), (int(0.45 * ed), int(0.33 * ed)), angle, 0, 360, 255,
                    width, cv2.LINE_AA)
    mid = 0.5 * (left + right) - 0.05 * ed * down
    span = 0.5 * ed - 0.45 * ed + 0.02 * ed
    ends = [mid - span * x_axis, mid + span * x_axis]
    cv2.line(frame, tuple(int(v) for v in ends[0]), tuple(int(v) for v in ends[1]), 255, width, cv2.LINE_AA)
    for eye, jaw, sign in ((left, lm[0], -1.0), (right, lm[16], 1.0)):
        start = eye + 0.08 * ed * down + sign * 0.45 * ed * x_axis - 0.1 * ed * down
        end = np.array([jaw[0], start[1]]) + sign * 0.05 * ed * x_axis
        cv2.line(frame, tuple(int(v) for v in start), tuple(int(v) for v in end), 255, width, cv2.LINE_AA)
    a = frame.astype(np.float32)[..., None] / 255.0
    out = image * (1.0 - a) + np.array(colour, np.float32) * a
    return np.round(out).astype(np.uint8), frame > 127
