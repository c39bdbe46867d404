"""insightface 2d106det landmarks (ONNX), returned in the iBUG 68-point layout.

Model contract (checked on load): input [N, 3, 192, 192] float32, RGB; output [N, 212]: 106
(x, y) pairs in [-1, 1] relative to the crop. The crop is a square of 1.5 x the detector box's
longer side centred on the box (as insightface does), here also rotated upright by the eye line.
Input scaling follows insightface's rule: a graph that starts with its own Sub and Mul nodes (or a
``bn_data`` node: an MXNet export that normalises inside) takes raw 0..255, any other takes
``(x - 127.5) / 128``; the manifest option ``input_normalisation`` ("raw" | "centered") overrides it.

The 106 points come in insightface's "ordered by point name" layout, not along the contours.
``LANDMARK106_TO_68`` gives, for each iBUG point, the two 106-indices whose mean is that point
(the same index twice where one point matches). It was derived from the published 2d106 mark-up:
contour (33 points, every other point to the 17 jaw points, chin exact), brows (upper edge),
nose bridge and base, eye contours (8 points -> 6) and the 20 mouth points one to one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from deage.errors import WeightsError
from deage.face.align import invert_affine, transform_points
from deage.face.backends.common import (
    OnnxBackend, check_image, eye_angle, normalises_inside, square_crop, to_blob, with_landmarks,
)
from deage.types import Face, Image, Points
from deage.weights import TensorSpec

# The 33 contour points in order along the jaw, image-left top -> chin (position 16) -> image-right top.
_CONTOUR = (1, 9, 10, 11, 12, 13, 14, 15, 16, 2, 3, 4, 5, 6, 7, 8, 0,
            24, 23, 22, 21, 20, 19, 18, 32, 31, 30, 29, 28, 27, 26, 25, 17)
_JAW = tuple((_CONTOUR[p], _CONTOUR[p]) for p in (1, 3, 5, 7, 9, 11, 13, 15, 16, 17, 19, 21, 23, 25, 27, 29, 31))
_BROWS = tuple((i, i) for i in (43, 48, 49, 51, 50, 102, 103, 104, 105, 101))
_NOSE = ((72, 73), (73, 74), (74, 86), (86, 80),            # bridge 27-30 (30: tip)
         (78, 79), (79, 80), (80, 80), (80, 85), (85, 84))  # base 31-35 (33: under the tip)
_EYES = ((35, 35), (41, 40), (40, 42), (39, 39), (37, 33), (33, 36),   # image-left eye 36-41
         (89, 89), (95, 94), (94, 96), (93, 93), (91, 87), (87, 90))   # image-right eye 42-47
_MOUTH = tuple((i, i) for i in (52, 64, 63, 71, 67, 68, 61, 58, 59, 53,    # outer lip 48-59
                                56, 55, 65, 66, 62, 70, 69, 57, 60, 54))   # inner lip 60-67
LANDMARK106_TO_68 = np.array(_JAW + _BROWS + _NOSE + _EYES + _MOUTH, dtype=np.int64)  # (68, 2)


def landmarks106_to_68(points106: Points) -> Points:
    """iBUG 68 points (float32 (68, 2)) from insightface 2d106 points (float (106, 2)), any coordinates."""
    pts = np.asarray(points106, dtype=np.float32).reshape(106, 2)
    return pts[LANDMARK106_TO_68].mean(axis=1).astype(np.float32)


class Landmark106(OnnxBackend):
    """Landmarker: insightface 2d106det; ``fit`` returns 68 iBUG points, ``fit106`` the raw 106."""

    name = "landmark106"
    INPUTS = (TensorSpec("*", ("N", 3, 192, 192), "float32", "RGB, see input_normalisation"),)
    OUTPUTS = (TensorSpec("*", ("N", 212), "float32", "106 x,y pairs in [-1, 1] of the crop"),)
    MANIFEST_OPTIONS = ("input_normalisation",)

    def __init__(self, path: str | Path, device: str = "auto", *, input_normalisation: str = "auto",
                 box_scale: float = 1.5, upright: bool = True) -> None:
        """
        Args:
            path: a verified 2d106det ONNX file (use ``deage.face.backends.make_backend``).
            device: "auto", "cpu", "cuda"... (see ``deage.onnx_session``).
            input_normalisation: "auto" (inspect the graph, as insightface does), "raw" (0..255)
                or "centered" ((x - 127.5) / 128).
            box_scale: crop side as a multiple of the box's longer side.
            upright: rotate the crop so the eye line of ``face.keypoints5`` is horizontal.
        """
        self._open(path, device)
        if input_normalisation == "auto":
            input_normalisation = "raw" if normalises_inside(self.path) else "centered"
        if input_normalisation not in ("raw", "centered"):
            raise WeightsError(f"input_normalisation must be auto, raw or centered, got {input_normalisation!r}",
                               self.path)
        self.input_normalisation = input_normalisation
        self.box_scale = float(box_scale)
        self.upright = bool(upright)

    def fit106(self, image: Image, face: Face) -> Points:
        """The 106 points (float32 (106, 2), frame pixels, insightface order) of ``face``."""
        check_image(image, "2d106 landmarker")
        x0, y0, x1, y1 = (float(v) for v in face.box)
        angle = eye_angle(face.keypoints5) if self.upright else 0.0
        crop, matrix = square_crop(image, ((x0 + x1) / 2, (y0 + y1) / 2), max(x1 - x0, y1 - y0) * self.box_scale,
                                   192, angle)
        mean, std = (0.0, 1.0) if self.input_normalisation == "raw" else (127.5, 128.0)
        out = self.session.run(None, {self.input_name: to_blob(crop, mean, std)})[0].reshape(106, 2)
        return transform_points((out + 1.0) * 96.0, invert_affine(matrix))

    def fit(self, image: Image, face: Face) -> Face:
        """A copy of ``face`` with 68 iBUG landmarks (frame pixels) and key points refined from them."""
        return with_landmarks(face, landmarks106_to_68(self.fit106(image, face)))
