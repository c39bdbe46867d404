"""Face occlusion (XSeg, DeepFaceLab's segmentation network, as FaceFusion exports it to ONNX).

Model contract (checked on load): input [N, 256, 256, 3] float32, **BGR**, values 0..1, channels
last (NHWC); output [N, 256, 256, 1], 0..1: 1 where the face itself is seen, 0 where something
covers it (hands, hair, glasses' lenses' glare, a microphone) and outside the face. It was
trained on DeepFaceLab's face crops and works on any crop that holds the whole face with some
margin (deage's FFHQ and "head" crops).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from deage.colour import rgb_to_bgr
from deage.face.backends.common import OnnxBackend, check_image
from deage.types import AlignedFace, Image, Mask
from deage.weights import TensorSpec

SIZE = 256
EDGE = 0.01
"""Softening of the visible mask, as a fraction of the crop: the network's edge is a few of its
pixels wide and stair-stepped at 256; the composite feathers the edit's mask further."""


class XsegOccluder(OnnxBackend):
    """Occluder: float32 (S, S) mask of where an aligned face is seen (1) or covered (0)."""

    name = "xseg"
    INPUTS = (TensorSpec("*", ("N", SIZE, SIZE, 3), "float32", "BGR 0..1, NHWC"),)
    OUTPUTS = (TensorSpec("*", ("N", SIZE, SIZE, 1), "float32", "face seen 0..1"),)
    MANIFEST_OPTIONS = ()

    def __init__(self, path: str | Path, device: str = "auto") -> None:
        self._open(path, device)

    def visible(self, aligned: AlignedFace) -> Mask:
        """Where the face of an aligned crop (RGB uint8 (S, S, 3)) is seen: float32 (S, S) in [0, 1]."""
        return self.visible_image(aligned.image)

    def visible_image(self, image: Image) -> Mask:
        """The mask of any RGB uint8 (H, W, 3) face crop, float32 (H, W) in [0, 1] (the crop is
        resized to 256 for the network and its answer back to (H, W))."""
        check_image(image, "XSeg occluder")
        h, w = image.shape[:2]
        interp = cv2.INTER_AREA if max(h, w) > SIZE else cv2.INTER_LINEAR
        x = rgb_to_bgr(cv2.resize(image, (SIZE, SIZE), interpolation=interp))
        blob = (x.astype(np.float32) / np.float32(255.0))[None]
        out = np.asarray(self.session.run(None, {self.input_name: blob})[0], np.float32)[0, ..., 0]
        mask = cv2.GaussianBlur(np.clip(out, 0.0, 1.0), (0, 0), max(0.5, EDGE * SIZE))  # at the network's size
        if (h, w) != (SIZE, SIZE):
            mask = cv2.resize(mask, (w, h), interpolation=cv2.INTER_LINEAR)
        return np.clip(mask, 0.0, 1.0).astype(np.float32)
