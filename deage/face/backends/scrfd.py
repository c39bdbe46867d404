"""SCRFD face detector (insightface det_10g / det_2.5g / det_500m family, ONNX).

Model contract (checked on load): one input [N, 3, H, W] float32, RGB, ``(x - 127.5) / 128``;
outputs per stride (8, 16, 32, or 8..128 for the 5-level models): scores [., 1], box distances
[., 4] and 5-key-point offsets [., 10], each in stride units from the anchor centre, with 1 or 2
anchors per location. Outputs are matched to strides by their names (``score_8``, ``bbox_16``...)
when the file names them so, else by insightface's order (all scores, all boxes, all key points).
"""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np

from deage.errors import WeightsError
from deage.face.backends.common import OnnxBackend, check_image, make_face, nms, to_blob
from deage.types import Face, Image
from deage.weights import TensorSpec

_NAMED = re.compile(r"^(score|bbox|kps)_(\d+)$")
_COMPONENT_WIDTH = {"score": 1, "bbox": 4, "kps": 10}


class ScrfdDetector(OnnxBackend):
    """Detector: SCRFD on a letterboxed ``input_size`` square; boxes, scores 0..1, 5 key points."""

    name = "scrfd"
    INPUTS = (TensorSpec("*", ("N", 3, "H", "W"), "float32", "RGB, (x - 127.5) / 128"),)
    MANIFEST_OPTIONS = ("input_size",)

    def __init__(
        self,
        path: str | Path,
        device: str = "auto",
        *,
        input_size: int = 640,
        score_threshold: float = 0.5,
        nms_threshold: float = 0.4,
        min_face: float = 0.0,
    ) -> None:
        """
        Args:
            path: a verified SCRFD ONNX file (use ``deage.face.backends.make_backend``).
            device: "auto", "cpu", "cuda"... (see ``deage.onnx_session``).
            input_size: side of the square the frame is letterboxed into (a multiple of 32); larger
                finds smaller faces, slower. A model with a fixed input size uses that instead.
            score_threshold: minimum score 0..1.
            nms_threshold: IoU above which the lower-scored of two boxes is dropped.
            min_face: drop faces whose box is smaller than this many pixels (shorter side).
        """
        self._open(path, device)
        fixed = self.session.get_inputs()[0].shape[2:]
        self.input_size = (fixed[1], fixed[0]) if all(isinstance(d, int) for d in fixed) else (input_size, input_size)
        if any(s % 32 for s in self.input_size):
            raise WeightsError(f"input size {self.input_size} must be a multiple of 32", self.path)
        self.score_threshold = float(score_threshold)
        self.nms_threshold = float(nms_threshold)
        self.min_face = float(min_face)
        self._layout = _output_layout(self.session, self.path)

    def detect(self, image: Image) -> list[Face]:
        """Faces in an RGB uint8 (H, W, 3) image, best score first, in image pixel coordinates."""
        check_image(image, "SCRFD detector")
        blob, scale = self._letterbox(image)
        outputs = dict(zip([o.name for o in self.session.get_outputs()], self.session.run(None, {self.input_name: blob})))
        boxes, kpss, scores = [], [], []
        in_h, in_w = blob.shape[2:]
        for stride, names in self._layout:
            score = outputs[names["score"]].reshape(-1)
            bbox = outputs[names["bbox"]].reshape(-1, 4) * stride
            kps = outputs[names["kps"]].reshape(-1, 10) * stride
            rows, cols = in_h // stride, in_w // stride
            anchors_per_cell = score.size // max(rows * cols, 1)
            if anchors_per_cell < 1 or anchors_per_cell * rows * cols != score.size:
                raise WeightsError(
                    f"stride {stride} output has {score.size} rows for a {cols}x{rows} grid: not an SCRFD model",
                    self.path,
                )
            centres = np.stack(np.meshgrid(np.arange(cols), np.arange(rows)), axis=-1).reshape(-1, 2) * stride
            centres = np.repeat(centres, anchors_per_cell, axis=0).astype(np.float32)
            keep = score >= self.score_threshold
            c = centres[keep]
            boxes.append(np.column_stack([c - bbox[keep, :2], c + bbox[keep, 2:]]))
            kpss.append(kps[keep].reshape(-1, 5, 2) + c[:, None, :])
            scores.append(score[keep])
        box = np.concatenate(boxes) / scale
        kps_all = np.concatenate(kpss) / scale
        score_all = np.concatenate(scores)
        order = nms(box, score_all, self.nms_threshold)
        h, w = image.shape[:2]
        faces = []
        for i in order:
            b = box[i].copy()
            b[[0, 2]] = np.clip(b[[0, 2]], 0, w)
            b[[1, 3]] = np.clip(b[[1, 3]], 0, h)
            if min(b[2] - b[0], b[3] - b[1]) < max(self.min_face, 1.0):
                continue
            faces.append(make_face(b, score_all[i], kps_all[i]))
        return faces

    def _letterbox(self, image: Image) -> tuple[np.ndarray, float]:
        in_w, in_h = self.input_size
        h, w = image.shape[:2]
        scale = min(in_w / w, in_h / h)
        new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        canvas = np.zeros((in_h, in_w, 3), dtype=np.uint8)
        canvas[:new_h, :new_w] = cv2.resize(image, (new_w, new_h), interpolation=interp)
        return to_blob(canvas, 127.5, 128.0), scale


def _output_layout(session, path: Path) -> list[tuple[int, dict[str, str]]]:
    """[(stride, {"score": name, "bbox": name, "kps": name})] from the session's outputs."""
    outs = session.get_outputs()
    names = [o.name for o in outs]
    if len(outs) not in (9, 15):
        hint = " (a model without key points: deage needs the *_kps / bnkps variants)" if len(outs) in (6, 10) else ""
        raise WeightsError(
            f"has {len(outs)} outputs, an SCRFD detector with key points has 9 (3 strides) or 15 (5 strides){hint}", path
        )
    strides = [8, 16, 32] if len(outs) == 9 else [8, 16, 32, 64, 128]
    matches = [_NAMED.match(n) for n in names]
    layout: dict[int, dict[str, str]] = {s: {} for s in strides}
    if all(matches):
        for m, n in zip(matches, names):
            stride = int(m.group(2))
            if stride not in layout:
                raise WeightsError(f"output {n} has an unexpected stride", path)
            layout[stride][m.group(1)] = n
    else:  # insightface's order: scores, boxes, key points; each group by increasing stride
        k = len(strides)
        for i, stride in enumerate(strides):
            layout[stride] = {"score": names[i], "bbox": names[i + k], "kps": names[i + 2 * k]}
    by_name = {o.name: o for o in outs}
    for stride, parts in layout.items():
        if set(parts) != {"score", "bbox", "kps"}:
            raise WeightsError(f"stride {stride} lacks one of score/bbox/kps outputs ({sorted(parts)})", path)
        for part, name in parts.items():
            last = by_name[name].shape[-1] if by_name[name].shape else None
            if isinstance(last, int) and last != _COMPONENT_WIDTH[part]:
                raise WeightsError(
                    f"output {name} ends in {last} values, SCRFD {part} outputs end in {_COMPONENT_WIDTH[part]}", path
                )
    return sorted(layout.items())
