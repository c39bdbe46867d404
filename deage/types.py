"""Data that flows between stages, and the one convention for coordinates and colour.

Conventions, everywhere in deage unless a function's docstring says otherwise:

- ``Image``: numpy ``uint8`` array of shape (H, W, 3), **RGB** channel order, values 0..255.
- ``FloatImage``: ``float32`` (H, W, 3) RGB in [0, 1].
- ``Mask``: ``float32`` (H, W) in [0, 1]; 1 means "edited / inside".
- ``Points``: ``float32`` (N, 2), pixel ``x, y`` with the origin at the centre of the
  top-left pixel, in the coordinates of the image they belong to (full frame for a
  ``Face``, crop for an ``AlignedFace``).
- ``Affine``: ``float64`` (2, 3) matrix mapping *frame* pixels to *crop* pixels.
- Landmarks follow the iBUG 68-point layout (dlib's) when there are 68 of them; the
  5 key points follow insightface's order: left eye, right eye, nose tip, left mouth
  corner, right mouth corner ("left" = image left).
- BGR exists only at the OpenCV / ONNX boundary that needs it (see ``deage.colour``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeAlias

import numpy as np
import numpy.typing as npt

Image: TypeAlias = npt.NDArray[np.uint8]
FloatImage: TypeAlias = npt.NDArray[np.float32]
Mask: TypeAlias = npt.NDArray[np.float32]
Points: TypeAlias = npt.NDArray[np.float32]
Affine: TypeAlias = npt.NDArray[np.float64]


@dataclass
class Face:
    """One detected face in one frame, in full-frame pixel coordinates.

    Attributes:
        box: float32 (4,) ``x0, y0, x1, y1``.
        score: detector confidence, higher is surer (backend specific scale, 0..1 for most).
        keypoints5: float32 (5, 2) eyes, nose, mouth corners (insightface order).
        landmarks: float32 (68, 2) iBUG layout, or None when no landmarker ran.
        descriptor: float32 (D,) identity embedding (dlib: 128-d, ArcFace: 512-d), or None.
        pixel_aspect: width / height of one pixel of the frame the coordinates are in (1 =
            square; 2 = a 2x anamorphic plate). Alignment unsqueezes the face by it, so crops
            always show the face with its true proportions.
    """

    box: npt.NDArray[np.float32]
    score: float
    keypoints5: Points
    landmarks: Points | None = None
    descriptor: npt.NDArray[np.float32] | None = None
    pixel_aspect: float = 1.0

    @property
    def width(self) -> float:
        return float(self.box[2] - self.box[0])

    @property
    def height(self) -> float:
        return float(self.box[3] - self.box[1])

    @property
    def area(self) -> float:
        return max(self.width, 0.0) * max(self.height, 0.0)

    @property
    def center(self) -> tuple[float, float]:
        return float(self.box[0] + self.box[2]) / 2, float(self.box[1] + self.box[3]) / 2


@dataclass
class Track:
    """One person followed through a clip.

    Attributes:
        track_id: stable id, unique within an analysis, starting at 1.
        faces: frame index (0-based, into the clip) -> that frame's ``Face``.
    """

    track_id: int
    faces: dict[int, Face] = field(default_factory=dict)

    @property
    def first_frame(self) -> int:
        return min(self.faces)

    @property
    def last_frame(self) -> int:
        return max(self.faces)

    @property
    def missing_frames(self) -> list[int]:
        """Frames between first and last where this track has no face."""
        return [i for i in range(self.first_frame, self.last_frame + 1) if i not in self.faces]

    @property
    def mean_score(self) -> float:
        return float(np.mean([f.score for f in self.faces.values()])) if self.faces else 0.0


@dataclass
class AlignedFace:
    """A face warped to a canonical crop.

    Attributes:
        image: ``Image`` (size, size, 3) RGB uint8.
        matrix: ``Affine`` (2, 3) frame -> crop.
        landmarks: float32 (68, 2) in crop pixels, or None.
        keypoints5: float32 (5, 2) in crop pixels.
        template: name of the canonical template ("ffhq", "arcface").
        frame_size: (width, height) of the frame the crop was cut from, or None when unknown;
            where the crop reaches past the frame's edges it holds the frame mirrored
            (``frame_coverage``).
    """

    image: Image
    matrix: Affine
    keypoints5: Points
    landmarks: Points | None
    template: str
    frame_size: tuple[int, int] | None = None

    @property
    def size(self) -> int:
        return int(self.image.shape[0])
