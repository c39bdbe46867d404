"""Pick a face engine by name, and small box helpers shared by tracking and selection.

``make_detector("dlib")`` (and ``make_landmarker`` / ``make_recognizer``) build the embedded
dlib backend, which needs no downloads. Any other name is handed to the model-backend router
``deage.face.backends.make_backend`` (user-supplied ONNX weights, see ``deage.weights``).

Example::

    detector = make_detector("dlib", upsample=1)      # finds faces down to ~40 px
    faces = detector.detect(rgb_frame)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deage.errors import DeageError
from deage.face.protocols import Detector, Landmarker, Recognizer

EMBEDDED = "dlib"
"""The engine that works without model files."""


def _from_model_backends(kind: str, name: str, options: dict[str, Any]) -> Any:
    try:
        from deage.face.backends import make_backend  # the model backends' router (user weights)
    except ImportError:
        raise DeageError(f"unknown {kind} {name!r}; the embedded engine is {EMBEDDED!r}") from None
    engine = make_backend(name, **options)
    wanted = {"detector": Detector, "landmarker": Landmarker, "recognizer": Recognizer}[kind]
    if not isinstance(engine, wanted):
        raise DeageError(f"{name!r} is not a face {kind}")
    return engine


def make_detector(name: str = EMBEDDED, **options: Any) -> Detector:
    """A face ``Detector`` by name. ``"dlib"``: ``DlibDetector(**options)``; other names: model backends."""
    if name == EMBEDDED:
        from deage.face.backends.dlib_backend import DlibDetector

        return DlibDetector(**options)
    return _from_model_backends("detector", name, options)


def make_landmarker(name: str = EMBEDDED, **options: Any) -> Landmarker:
    """A 68-point ``Landmarker`` by name. ``"dlib"``: ``DlibLandmarker(**options)``."""
    if name == EMBEDDED:
        from deage.face.backends.dlib_backend import DlibLandmarker

        return DlibLandmarker(**options)
    return _from_model_backends("landmarker", name, options)


def make_recognizer(name: str = EMBEDDED, **options: Any) -> Recognizer:
    """A face ``Recognizer`` (identity descriptor) by name. ``"dlib"``: ``DlibRecognizer(**options)``."""
    if name == EMBEDDED:
        from deage.face.backends.dlib_backend import DlibRecognizer

        return DlibRecognizer(**options)
    return _from_model_backends("recognizer", name, options)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of every box in ``a`` with every box in ``b``.

    Args:
        a: float (N, 4) ``x0, y0, x1, y1``; b: float (M, 4).

    Returns:
        float64 (N, M) in [0, 1] (0 for empty boxes).
    """
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area_a = np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def points_box(points: np.ndarray) -> np.ndarray:
    """Bounding box float32 (4,) ``x0, y0, x1, y1`` of float (N, 2) points."""
    pts = np.asarray(points, dtype=np.float32).reshape(-1, 2)
    return np.concatenate([pts.min(0), pts.max(0)]).astype(np.float32)


def visible_fraction(box: np.ndarray, height: int, width: int) -> float:
    """Fraction (0..1) of a box's area that lies inside a ``width`` x ``height`` frame."""
    x0, y0, x1, y1 = (float(v) for v in np.asarray(box).reshape(4))
    area = max(x1 - x0, 0.0) * max(y1 - y0, 0.0)
    if area <= 0:
        return 0.0
    inside = max(min(x1, width) - max(x0, 0.0), 0.0) * max(min(y1, height) - max(y0, 0.0), 0.0)
    return inside / area
