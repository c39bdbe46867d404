"""RetinaFace face detector (facexlib's PyTorch network, weights from a local ``.pth`` file).

The network is built from facexlib's own module (``facexlib.detection.retinaface.RetinaFace``) and
the verified state dict loaded into it; ``facexlib.detection.init_detection_model`` is never called
(it downloads). Weights: facexlib's ``detection_Resnet50_Final.pth`` (network "resnet50") or
``detection_mobilenet0.25_Final.pth`` ("mobile0.25"). The network takes BGR minus (104, 117, 123);
its 5 key points are in insightface order (image-left eye first).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import cv2
import numpy as np

from deage.colour import rgb_to_bgr
from deage.errors import WeightsError
from deage.face.backends.common import check_image, load_torch_state, make_face
from deage.onnx_session import torch_device
from deage.types import Face, Image

NETWORKS = ("resnet50", "mobile0.25")


class RetinaFaceDetector:
    """Detector: facexlib RetinaFace on the frame scaled so its longer side is at most ``max_side``."""

    name = "retinaface"
    MANIFEST_OPTIONS = ("network", "max_side")

    def __init__(
        self,
        path: str | Path,
        device: str = "auto",
        *,
        network: str = "resnet50",
        max_side: int = 1024,
        score_threshold: float = 0.8,
        nms_threshold: float = 0.4,
    ) -> None:
        """
        Args:
            path: a verified facexlib RetinaFace ``.pth`` (use ``deage.face.backends.make_backend``).
            device: "auto", "cpu", "cuda"... (see ``deage.onnx_session.torch_device``).
            network: "resnet50" or "mobile0.25", matching the weights.
            max_side: frames larger than this are scaled down before detection (0: never).
            score_threshold / nms_threshold: facexlib's confidence and NMS IoU thresholds.
        """
        import torch
        from facexlib.detection.retinaface import RetinaFace

        self.path = Path(path)
        if network not in NETWORKS:
            raise WeightsError(f"network must be one of {', '.join(NETWORKS)}, got {network!r}", self.path)
        self.torch_device = torch_device(device)
        with warnings.catch_warnings():  # torchvision's "pretrained is deprecated" (nothing is downloaded)
            warnings.simplefilter("ignore", UserWarning)
            net = RetinaFace(network_name=network, half=False, phase="test", device=self.torch_device)
        self.net = load_torch_state(net, self.path, f"RetinaFace {network}").to(self.torch_device)
        self.network = network
        self.max_side = int(max_side)
        self.score_threshold = float(score_threshold)
        self.nms_threshold = float(nms_threshold)
        self._torch = torch

    @property
    def device(self) -> str:
        return self.torch_device.type

    def detect(self, image: Image) -> list[Face]:
        """Faces in an RGB uint8 (H, W, 3) image, best score first, in image pixel coordinates."""
        check_image(image, "RetinaFace detector")
        h, w = image.shape[:2]
        scale = min(1.0, self.max_side / max(h, w)) if self.max_side else 1.0
        bgr = rgb_to_bgr(image)
        if scale < 1.0:
            bgr = cv2.resize(bgr, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
        with self._torch.inference_mode():
            rows = self.net.detect_faces(bgr, conf_threshold=self.score_threshold, nms_threshold=self.nms_threshold,
                                         use_origin_size=True)
        rows = np.asarray(rows, dtype=np.float32).reshape(-1, 15)
        rows = rows[np.argsort(-rows[:, 4], kind="stable")]
        faces = []
        for row in rows:
            box = row[:4] / scale
            box[[0, 2]] = np.clip(box[[0, 2]], 0, w)
            box[[1, 3]] = np.clip(box[[1, 3]], 0, h)
            if box[2] - box[0] < 1 or box[3] - box[1] < 1:
                continue
            faces.append(make_face(box, row[4], row[5:15].reshape(5, 2) / scale))
        return faces
