"""BiSeNet face parsing, 19 CelebAMask-HQ classes: facexlib's network (local ``parsing_bisenet.pth``)
or an ONNX export of the same architecture (``BiSeNetOnnxParser``: FaceFusion's files).

The network is built from facexlib's module (``facexlib.parsing.bisenet.BiSeNet(num_class=19)``)
and the verified state dict loaded into it; ``facexlib.parsing.init_parsing_model`` is never called
(it downloads). Input: the aligned crop (FFHQ-style template) resized to 512, RGB,
ImageNet mean/std; output: per-pixel class scores, reduced to the arg-max class.

Class names follow CelebAMask-HQ's labels (``l_``/``r_`` are the dataset's own sides):
background, skin, l_brow, r_brow, l_eye, r_eye, eye_g (glasses), l_ear, r_ear, ear_r (earring),
nose, mouth, u_lip, l_lip, neck, neck_l (necklace), cloth, hair, hat.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from deage.face.backends.common import OnnxBackend, check_image, load_torch_state, to_blob
from deage.onnx_session import torch_device
from deage.types import AlignedFace, Image, Mask
from deage.weights import TensorSpec

CLASSES = ("background", "skin", "l_brow", "r_brow", "l_eye", "r_eye", "eye_g", "l_ear", "r_ear", "ear_r",
           "nose", "mouth", "u_lip", "l_lip", "neck", "neck_l", "cloth", "hair", "hat")
_MEAN = np.array([0.485, 0.456, 0.406]) * 255.0
_STD = np.array([0.229, 0.224, 0.225]) * 255.0


class BiSeNetParser:
    """Parser: hard (0/1) float32 masks for the 18 non-background CelebAMask-HQ classes."""

    name = "bisenet"
    MANIFEST_OPTIONS = ()

    def __init__(self, path: str | Path, device: str = "auto") -> None:
        import torch
        from facexlib.parsing.bisenet import BiSeNet

        self.path = Path(path)
        self.torch_device = torch_device(device)
        self.net = load_torch_state(BiSeNet(num_class=len(CLASSES)), self.path, "BiSeNet 19-class").to(
            self.torch_device
        )
        self._torch = torch

    @property
    def device(self) -> str:
        return self.torch_device.type

    def parse(self, aligned: AlignedFace) -> dict[str, Mask]:
        """Masks (float32 (S, S), 0 or 1, mutually exclusive) of an aligned crop, keyed by class name."""
        return self.parse_image(aligned.image)

    def labels(self, image: Image) -> np.ndarray:
        """Class index per pixel (uint8 (H, W), indices into ``CLASSES``) of an RGB uint8 image."""
        blob = self._torch.from_numpy(_blob(image, "BiSeNet parser")).to(self.torch_device)
        with self._torch.inference_mode():
            scores = self.net(blob)[0][0].float().cpu().numpy()  # (19, 512, 512)
        return _labels(scores, image.shape[:2])

    def parse_image(self, image: Image) -> dict[str, Mask]:
        """Masks (float32 (H, W), 0 or 1) of any RGB uint8 (H, W, 3) image, keyed by class name."""
        return _masks(self.labels(image))


class BiSeNetOnnxParser(OnnxBackend):
    """Parser: the same 19-class BiSeNet as an ONNX file (FaceFusion's ``bisenet_resnet_34.onnx`` /
    ``bisenet_resnet_18.onnx``, exported from yakhyo/face-parsing): input [1, 3, 512, 512] RGB,
    ImageNet mean/std; output [1, 19, 512, 512] class scores in ``CLASSES`` order."""

    name = "bisenet_onnx"
    INPUTS = (TensorSpec("*", (1, 3, 512, 512), "float32", "RGB, ImageNet mean/std"),)
    OUTPUTS = (TensorSpec("*", (1, len(CLASSES), 512, 512), "float32", "class scores"),)
    MANIFEST_OPTIONS = ()

    def __init__(self, path: str | Path, device: str = "auto") -> None:
        self._open(path, device)

    def parse(self, aligned: AlignedFace) -> dict[str, Mask]:
        """Masks (float32 (S, S), 0 or 1, mutually exclusive) of an aligned crop, keyed by class name."""
        return self.parse_image(aligned.image)

    def labels(self, image: Image) -> np.ndarray:
        """Class index per pixel (uint8 (H, W), indices into ``CLASSES``) of an RGB uint8 image."""
        scores = self.session.run(None, {self.input_name: _blob(image, "BiSeNet parser")})[0][0]
        return _labels(np.asarray(scores, np.float32), image.shape[:2])

    def parse_image(self, image: Image) -> dict[str, Mask]:
        """Masks (float32 (H, W), 0 or 1) of any RGB uint8 (H, W, 3) image, keyed by class name."""
        return _masks(self.labels(image))


def _blob(image: Image, who: str) -> np.ndarray:
    """An RGB uint8 (H, W, 3) image as the networks' float32 [1, 3, 512, 512] input."""
    check_image(image, who)
    h, w = image.shape[:2]
    x = cv2.resize(image, (512, 512), interpolation=cv2.INTER_AREA if max(h, w) > 512 else cv2.INTER_LINEAR)
    return to_blob(x, _MEAN, _STD)


def _labels(scores: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Arg-max class (uint8 (H, W)) of (19, 512, 512) scores brought to ``shape`` (H, W); the scores
    are resized, not the labels, so class borders stay smooth."""
    h, w = shape
    if (h, w) != scores.shape[1:]:
        scores = np.stack([cv2.resize(s, (w, h), interpolation=cv2.INTER_LINEAR) for s in scores])
    return scores.argmax(0).astype(np.uint8)


def _masks(labels: np.ndarray) -> dict[str, Mask]:
    return {name: (labels == i).astype(np.float32) for i, name in enumerate(CLASSES) if i > 0}
