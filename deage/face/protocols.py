"""The small protocols every face engine implements; backends/ holds one file per engine.

All images are RGB uint8 (H, W, 3); all coordinates are full-frame pixel x, y (see deage.types).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from deage.types import AlignedFace, Face, Image, Mask


@runtime_checkable
class Detector(Protocol):
    """Finds faces: box, score and 5 key points (landmarks may stay None)."""

    name: str

    def detect(self, image: Image) -> list[Face]: ...


@runtime_checkable
class Landmarker(Protocol):
    """Fits 68 iBUG landmarks to a detected face; returns a new Face with ``landmarks`` set
    and ``keypoints5`` refined from them."""

    name: str

    def fit(self, image: Image, face: Face) -> Face: ...


@runtime_checkable
class Recognizer(Protocol):
    """Identity descriptor of a face, and the distance between two descriptors.

    ``threshold`` is the distance under which two descriptors are the same person.
    """

    name: str
    threshold: float

    def describe(self, image: Image, face: Face) -> np.ndarray: ...

    def distance(self, a: np.ndarray, b: np.ndarray) -> float: ...


@runtime_checkable
class FaceVerifier(Protocol):
    """A second opinion on one detection: is there a face on ``box`` (float (4,) x0, y0, x1, y1)
    in ``gray`` (uint8 (H, W), a frame or a region of one)? Slower and surer than a detector."""

    name: str

    def confirms(self, gray: np.ndarray, box: np.ndarray) -> bool: ...


@runtime_checkable
class Parser(Protocol):
    """Face parsing on an aligned crop: class name ("skin", "hair", "l_eye", ...) -> float32 (S, S) mask."""

    name: str

    def parse(self, aligned: AlignedFace) -> dict[str, Mask]: ...


@runtime_checkable
class Occluder(Protocol):
    """Where an aligned face is seen: float32 (S, S) in [0, 1] for an (S, S) crop, 1 on the face's
    own pixels, 0 where something is in front of it (a hand, a microphone, a strand of hair)."""

    name: str

    def visible(self, aligned: AlignedFace) -> Mask: ...
