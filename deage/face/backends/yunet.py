"""YuNet face detector through OpenCV's ``cv2.FaceDetectorYN`` (ONNX, fast on a CPU).

Model contract (checked on load): input [N, 3, H, W] float32 (OpenCV feeds BGR 0..255);
12 outputs ``cls_/obj_/bbox_/kps_`` at strides 8, 16, 32 (the ``face_detection_yunet`` 2023 files).
OpenCV's rows are ``x, y, w, h``, then right-eye, left-eye, nose, right/left mouth corner, score;
"right eye" is the subject's right, i.e. image left, which is insightface's first key point.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from deage.colour import rgb_to_bgr
from deage.errors import WeightsError
from deage.face.backends.common import check_image, make_face
from deage.types import Face, Image

_PREFIXES = ("cls", "obj", "bbox", "kps")


class YunetDetector:
    """Detector: YuNet on the frame scaled so its longer side is at most ``max_side``."""

    name = "yunet"
    MANIFEST_OPTIONS = ("max_side",)

    def __init__(
        self,
        path: str | Path,
        device: str = "auto",
        *,
        max_side: int = 640,
        score_threshold: float = 0.6,
        nms_threshold: float = 0.3,
        top_k: int = 5000,
    ) -> None:
        """
        Args:
            path: a verified YuNet ONNX file (use ``deage.face.backends.make_backend``).
            device: ignored beyond "cpu"/"auto": OpenCV's DNN runs this model on the CPU here.
            max_side: frames larger than this are scaled down before detection (0: never).
            score_threshold / nms_threshold / top_k: passed to ``cv2.FaceDetectorYN``.
        """
        self.path = Path(path)
        self.device = "cpu"
        _check_yunet_graph(self.path)
        self.max_side = int(max_side)
        level = cv2.utils.logging.getLogLevel()
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)  # OpenCV 5 warns about DNN targets
        try:
            self._net = cv2.FaceDetectorYN.create(
                str(self.path), "", (320, 320), float(score_threshold), float(nms_threshold), int(top_k)
            )
        except cv2.error as exc:
            raise WeightsError(f"OpenCV cannot load this YuNet model ({str(exc).strip().splitlines()[-1]})",
                               self.path) from None
        finally:
            cv2.utils.logging.setLogLevel(level)

    def detect(self, image: Image) -> list[Face]:
        """Faces in an RGB uint8 (H, W, 3) image, best score first, in image pixel coordinates."""
        check_image(image, "YuNet detector")
        h, w = image.shape[:2]
        scale = min(1.0, self.max_side / max(h, w)) if self.max_side else 1.0
        bgr = rgb_to_bgr(image)
        if scale < 1.0:
            bgr = cv2.resize(bgr, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
        self._net.setInputSize((bgr.shape[1], bgr.shape[0]))
        _, rows = self._net.detect(bgr)
        if rows is None:
            return []
        rows = rows[np.argsort(-rows[:, 14], kind="stable")]
        sx, sy = w / bgr.shape[1], h / bgr.shape[0]
        faces = []
        for row in rows:
            x, y, bw, bh = row[:4]
            box = np.array([x * sx, y * sy, (x + bw) * sx, (y + bh) * sy], dtype=np.float32)
            box[[0, 2]] = np.clip(box[[0, 2]], 0, w)
            box[[1, 3]] = np.clip(box[[1, 3]], 0, h)
            kps = row[4:14].reshape(5, 2) * (sx, sy)
            faces.append(make_face(box, row[14], kps))
        return faces


def _check_yunet_graph(path: Path) -> None:
    """WeightsError unless ``path`` is an ONNX graph with YuNet's input and 12 named outputs."""
    import onnx

    try:
        graph = onnx.load(str(path), load_external_data=False).graph
    except Exception as exc:  # protobuf decode errors have no common base class
        raise WeightsError(f"not an ONNX model ({type(exc).__name__})", path) from None
    inputs = [i for i in graph.input if i.name not in {t.name for t in graph.initializer}]
    dims = [d.dim_value or d.dim_param for d in inputs[0].type.tensor_type.shape.dim] if len(inputs) == 1 else []
    if len(dims) != 4 or dims[1] != 3:
        raise WeightsError(f"input is {dims or [i.name for i in inputs]}, YuNet expects one [N, 3, H, W] input", path)
    names = {o.name for o in graph.output}
    wanted = {f"{p}_{s}" for p in _PREFIXES for s in (8, 16, 32)}
    if not wanted <= names:
        raise WeightsError(
            f"outputs {sorted(names)[:6]}... are not YuNet's (expected {', '.join(sorted(wanted))})", path
        )
