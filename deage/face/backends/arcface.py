"""ArcFace identity descriptors (insightface w600k_r50 / glintr100 and other ArcFace ONNX exports).

Model contract (checked on load): input [N, 3, S, S] float32 with S = 112 (or another multiple of
16), RGB, ``(x - 127.5) / 127.5``; output [N, D] (D = 512 for insightface's models). The face is
aligned with ``deage.face.align``'s "arcface" template at S pixels. Descriptors are returned
L2-normalised; ``distance`` is ``1 - cosine similarity`` (0 same picture, ~1 unrelated faces).

``threshold`` 0.6 (cosine similarity 0.4) is a conservative same-person cut in the range commonly
used with insightface's recognisers (similarity 0.3 to 0.4); it was not measured here (no ArcFace
weights in this environment): calibrate it on your footage before relying on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from deage.errors import WeightsError
from deage.face.align import align_face
from deage.face.backends.common import OnnxBackend, check_image, normalises_inside, to_blob
from deage.types import Face, Image
from deage.weights import TensorSpec


class ArcFaceRecognizer(OnnxBackend):
    """Recognizer: ``describe(image, face)`` -> float32 (D,) unit vector; ``distance`` = 1 - cos."""

    name = "arcface"
    INPUTS = (TensorSpec("*", ("N", 3, "S", "S"), "float32", "RGB, (x - 127.5) / 127.5, arcface-aligned"),)
    OUTPUTS = (TensorSpec("*", ("N", "D"), "float32", "identity embedding"),)
    MANIFEST_OPTIONS = ("threshold", "input_normalisation")

    def __init__(self, path: str | Path, device: str = "auto", *, threshold: float = 0.6,
                 input_normalisation: str = "auto") -> None:
        """
        Args:
            path: a verified ArcFace ONNX file (use ``deage.face.backends.make_backend``).
            device: "auto", "cpu", "cuda"... (see ``deage.onnx_session``).
            threshold: distance (1 - cos) under which two faces are the same person.
            input_normalisation: "auto" (inspect the graph as insightface does: MXNet exports that
                scale inside take raw 0..255), "raw", or "centered" ((x - 127.5) / 127.5).
        """
        self._open(path, device)
        shape = self.session.get_inputs()[0].shape
        size = shape[2] if isinstance(shape[2], int) else 112
        if shape[2] != shape[3] or size % 16:
            raise WeightsError(f"input is {shape}, ArcFace expects a square crop whose side is a multiple of 16",
                               self.path)
        self.input_size = int(size)
        self.threshold = float(threshold)
        if input_normalisation == "auto":
            input_normalisation = "raw" if normalises_inside(self.path) else "centered"
        if input_normalisation not in ("raw", "centered"):
            raise WeightsError(f"input_normalisation must be auto, raw or centered, got {input_normalisation!r}",
                               self.path)
        self.input_normalisation = input_normalisation

    def describe(self, image: Image, face: Face) -> np.ndarray:
        """L2-normalised float32 (D,) descriptor of ``face`` in an RGB uint8 (H, W, 3) frame."""
        return self.describe_many(image, [face])[0]

    def describe_many(self, image: Image, faces: Sequence[Face]) -> np.ndarray:
        """float32 (len(faces), D) descriptors, one batch through the model."""
        check_image(image, "ArcFace recognizer")
        if not faces:
            return np.zeros((0, 0), dtype=np.float32)
        crops = [align_face(image, f, "arcface", self.input_size).image for f in faces]
        return self.describe_aligned(np.stack(crops))

    def describe_aligned(self, crops: np.ndarray) -> np.ndarray:
        """Descriptors of already-aligned RGB uint8 crops (N, S, S, 3) -> float32 (N, D), unit length."""
        crops = np.asarray(crops)
        if crops.ndim == 3:
            crops = crops[None]
        if crops.shape[1:] != (self.input_size, self.input_size, 3):
            raise ValueError(f"aligned crops must be (N, {self.input_size}, {self.input_size}, 3), got {crops.shape}")
        mean, std = (0.0, 1.0) if self.input_normalisation == "raw" else (127.5, 127.5)
        out = self.session.run(None, {self.input_name: to_blob(crops, mean, std)})[0]
        out = out.reshape(len(crops), -1).astype(np.float32)
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)

    def distance(self, a: np.ndarray, b: np.ndarray) -> float:
        """1 - cosine similarity of two descriptors (0..2; under ``threshold`` = same person)."""
        a = np.asarray(a, dtype=np.float64).ravel()
        b = np.asarray(b, dtype=np.float64).ravel()
        denom = np.linalg.norm(a) * np.linalg.norm(b)
        return float(1.0 - a @ b / denom) if denom > 0 else 1.0
