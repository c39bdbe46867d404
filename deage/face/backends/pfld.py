"""PFLD 68-point landmarks (cunjian/pytorch_face_landmark's ONNX export).

Model contract (checked on load): input [N, 3, 112, 112] float32, RGB in [0, 1]; output
[N, 136]: 68 (x, y) pairs in iBUG order, normalised to the square crop (0..1).

The crop is a square of ``box_scale`` x the longer side of the detector box, centred on the box
(the model was trained on such crops). Because detectors draw boxes differently, the default
runs a second pass on a square around the first pass's landmarks, which makes the result nearly
independent of the detector that produced the box.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from deage.face.align import invert_affine, transform_points
from deage.face.backends.common import OnnxBackend, check_image, eye_angle, square_crop, to_blob, with_landmarks
from deage.types import Face, Image, Points
from deage.weights import TensorSpec


class PfldLandmarker(OnnxBackend):
    """Landmarker: 68 iBUG points from a detected face's box."""

    name = "pfld"
    INPUTS = (TensorSpec("*", ("N", 3, 112, 112), "float32", "RGB in [0, 1]"),)
    OUTPUTS = (TensorSpec("*", ("N", 136), "float32", "68 x,y pairs normalised to the crop"),)
    MANIFEST_OPTIONS = ("box_scale", "refine")

    def __init__(self, path: str | Path, device: str = "auto", *, box_scale: float = 1.1, refine: bool = True,
                 landmark_scale: float = 1.2) -> None:
        """
        Args:
            path: a verified PFLD ONNX file (use ``deage.face.backends.make_backend``).
            device: "auto", "cpu", "cuda"... (see ``deage.onnx_session``).
            box_scale: crop side as a multiple of the detector box's longer side (first pass).
            refine: run a second pass on a crop made from the first pass's landmarks.
            landmark_scale: crop side as a multiple of the landmarks' extent (second pass).
        """
        self._open(path, device)
        self.box_scale = float(box_scale)
        self.refine = bool(refine)
        self.landmark_scale = float(landmark_scale)

    def fit(self, image: Image, face: Face) -> Face:
        """A copy of ``face`` with 68 landmarks (frame pixels) and key points refined from them.

        The crop is rotated by the eye line of ``face.keypoints5`` so tilted heads are upright.
        """
        check_image(image, "PFLD landmarker")
        x0, y0, x1, y1 = (float(v) for v in face.box)
        angle = eye_angle(face.keypoints5)
        points = self._predict(image, ((x0 + x1) / 2, (y0 + y1) / 2), max(x1 - x0, y1 - y0) * self.box_scale, angle)
        if self.refine:
            angle = eye_angle(np.stack([points[36:42].mean(0), points[42:48].mean(0)]))
            upright = _rotate(points, -angle)
            lo, hi = upright.min(0), upright.max(0)
            center = _rotate(((lo + hi) / 2)[None], angle)[0]
            points = self._predict(image, tuple(center), float(max(hi - lo)) * self.landmark_scale, angle)
        return with_landmarks(face, points)

    def _predict(self, image: Image, center: tuple[float, float], side: float, angle: float) -> Points:
        crop, matrix = square_crop(image, center, side, 112, angle)
        out = self.session.run(None, {self.input_name: to_blob(crop, 0.0, 255.0)})[0].reshape(68, 2)
        return transform_points(out * 112.0, invert_affine(matrix))


def _rotate(points: np.ndarray, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.asarray(points, np.float64) @ np.array([[c, s], [-s, c]])
