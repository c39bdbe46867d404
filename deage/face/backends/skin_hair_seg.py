"""Skin / clothes / hair segmentation (Kazuhito00's PAN + MobileNetV3-small ONNX model).

Model contract (checked on load): input [1, 3, 512, 512] float32, RGB, ImageNet mean/std
(``(x / 255 - (0.485, 0.456, 0.406)) / (0.229, 0.224, 0.225)``); output [1, 3, 512, 512]:
per-class probabilities 0..1 for skin, clothes, hair (independent sigmoids, so they may overlap).
The model was trained on whole pictures of people and also works on an aligned face crop.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from deage.face.backends.common import OnnxBackend, check_image, to_blob
from deage.types import AlignedFace, Image, Mask
from deage.weights import TensorSpec

CLASSES = ("skin", "clothes", "hair")
_MEAN = np.array([0.485, 0.456, 0.406]) * 255.0
_STD = np.array([0.229, 0.224, 0.225]) * 255.0


class SkinHairParser(OnnxBackend):
    """Parser: soft "skin", "clothes" and "hair" masks (float32 0..1) of a crop or a whole image."""

    name = "skin_hair_seg"
    INPUTS = (TensorSpec("*", (1, 3, 512, 512), "float32", "RGB, ImageNet mean/std"),)
    OUTPUTS = (TensorSpec("*", (1, 3, 512, 512), "float32", "skin, clothes, hair probabilities"),)
    MANIFEST_OPTIONS = ()

    def __init__(self, path: str | Path, device: str = "auto") -> None:
        self._open(path, device)

    def parse(self, aligned: AlignedFace) -> dict[str, Mask]:
        """Masks (float32 (S, S), 0..1) of an aligned crop, keyed "skin", "clothes", "hair"."""
        return self.parse_image(aligned.image)

    def parse_image(self, image: Image) -> dict[str, Mask]:
        """Masks (float32 (H, W), 0..1) of any RGB uint8 (H, W, 3) image (resized to 512 and back)."""
        check_image(image, "skin/hair parser")
        h, w = image.shape[:2]
        interp = cv2.INTER_AREA if max(h, w) > 512 else cv2.INTER_LINEAR
        x = cv2.resize(image, (512, 512), interpolation=interp)
        out = self.session.run(None, {self.input_name: to_blob(x, _MEAN, _STD)})[0][0]
        masks = {}
        for name, prob in zip(CLASSES, out):
            prob = np.clip(prob, 0.0, 1.0).astype(np.float32)
            masks[name] = prob if (h, w) == (512, 512) else cv2.resize(prob, (w, h), interpolation=cv2.INTER_LINEAR)
        return masks
