"""Small helpers the model backends share: input checks, blobs, NMS, 68 -> 5 points, box crops."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from deage.errors import DeageError, WeightsError
from deage.onnx_session import check_io, create_session, session_device
from deage.types import Face, Image, Points
from deage.weights import TensorSpec


class OnnxBackend:
    """What every ONNX model backend shares: its session on a verified file (CUDA where it loads,
    else the CPU), the file's inputs and outputs checked against the class's ``INPUTS`` and
    ``OUTPUTS`` (``None``: outputs not checked), and the first input's name.

    Subclasses call ``_open(path, device)`` first thing in ``__init__``.
    """

    name: str = "onnx"
    INPUTS: tuple[TensorSpec, ...] = ()
    OUTPUTS: tuple[TensorSpec, ...] | None = None

    def _open(self, path: str | Path, device: str) -> None:
        """Load ``path`` on ``device`` ("auto", "cpu", "cuda"...; ``deage.onnx_session``).

        Raises:
            WeightsError: the file does not load, or its inputs / outputs are not what this
                backend feeds and reads (naming the file, the tensor and both shapes).
        """
        self.path = Path(path)
        self.session = create_session(self.path, device)
        check_io(self.session, self.path, self.name, self.INPUTS, self.OUTPUTS)
        self.input_name = self.session.get_inputs()[0].name

    @property
    def device(self) -> str:
        """Where the session runs: "cuda", "tensorrt" or "cpu"."""
        return session_device(self.session)


def check_image(image: np.ndarray, who: str) -> Image:
    """Return ``image`` if it is RGB uint8 (H, W, 3) with both sides >= 8 px, else raise DeageError."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        got = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
        raise DeageError(f"{who} needs an RGB uint8 (H, W, 3) image, got {got}")
    if min(image.shape[:2]) < 8:
        raise DeageError(f"{who} needs an image of at least 8x8 pixels, got {image.shape[1]}x{image.shape[0]}")
    return image


def to_blob(images: Sequence[np.ndarray] | np.ndarray, mean: float | Sequence[float], std: float | Sequence[float]) -> np.ndarray:
    """(H, W, 3) image(s), any dtype, channel order kept -> float32 NCHW ``(x - mean) / std``."""
    batch = np.asarray(images, dtype=np.float32)
    if batch.ndim == 3:
        batch = batch[None]
    mean_a = np.asarray(mean, dtype=np.float32).reshape(1, 1, 1, -1)
    std_a = np.asarray(std, dtype=np.float32).reshape(1, 1, 1, -1)
    return np.ascontiguousarray(((batch - mean_a) / std_a).transpose(0, 3, 1, 2))


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Indices (int64, best first) kept by non-maximum suppression of float (N, 4) x0,y0,x1,y1 boxes."""
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.int64)
    xywh = np.column_stack([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]]).astype(np.float32)
    ranked = (scores - scores.min()).astype(np.float32)  # NMSBoxes wants scores >= its threshold (0)
    keep = cv2.dnn.NMSBoxes(xywh.tolist(), ranked.tolist(), 0.0, float(iou_threshold))
    keep = np.asarray(keep, dtype=np.int64).reshape(-1)
    return keep[np.argsort(-scores[keep], kind="stable")]


def roll_degrees(points: Points) -> float:
    """A face's roll from its 68 iBUG landmarks: angle (degrees) of the line from the image-left
    eye's centre to the other's, ``atan2(dy, dx)`` in image coordinates (y down); 0 when upright."""
    pts = np.asarray(points, dtype=np.float64)
    dx, dy = pts[42:48].mean(0) - pts[36:42].mean(0)
    return float(np.degrees(np.arctan2(dy, dx)))


def upright_matrix(centre: np.ndarray, angle: float, scale: float, target: np.ndarray) -> np.ndarray:
    """float64 (2, 3) affine that turns a face rolled by ``angle`` degrees (``roll_degrees``)
    upright about ``centre`` (frame x, y), scales it by ``scale`` and puts ``centre`` at ``target``."""
    t = np.radians(float(angle))
    linear = scale * np.array([[np.cos(t), np.sin(t)], [-np.sin(t), np.cos(t)]], dtype=np.float64)
    offset = np.asarray(target, np.float64) - linear @ np.asarray(centre, np.float64)
    return np.concatenate([linear, offset[:, None]], axis=1)


def keypoints5_from_68(landmarks: Points) -> Points:
    """insightface-order 5 key points (float32 (5, 2)) from iBUG 68 landmarks.

    Eye centres are the means of the eye contours (36-41 image-left, 42-47 image-right), the nose
    tip is point 30, the mouth corners are 48 and 54.
    """
    lm = np.asarray(landmarks, dtype=np.float32).reshape(68, 2)
    return np.stack([lm[36:42].mean(0), lm[42:48].mean(0), lm[30], lm[48], lm[54]]).astype(np.float32)


def square_crop(
    image: Image, center: tuple[float, float], side: float, size: int, angle: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Crop a square of ``side`` frame pixels centred on ``center`` into ``size`` x ``size``.

    ``angle`` (radians) is the direction of the face's eye line in the frame (image-left eye to
    image-right eye); the crop is rotated so that line is horizontal. Pixels outside the frame are
    black. Returns the crop (same dtype/channels as ``image``) and the float64 (2, 3) frame -> crop matrix.
    """
    scale = size / max(float(side), 1e-6)
    cos, sin = np.cos(angle) * scale, np.sin(angle) * scale
    cx, cy = center
    matrix = np.array(
        [[cos, sin, size / 2 - cos * cx - sin * cy], [-sin, cos, size / 2 + sin * cx - cos * cy]], dtype=np.float64
    )
    crop = cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    return crop, matrix


def eye_angle(keypoints5: Points) -> float:
    """Angle (radians) of the line from the image-left eye to the image-right eye."""
    dx, dy = np.asarray(keypoints5[1], np.float64) - np.asarray(keypoints5[0], np.float64)
    return float(np.arctan2(dy, dx))


def with_landmarks(face: Face, landmarks: Points) -> Face:
    """A copy of ``face`` with 68 ``landmarks`` set and ``keypoints5`` refined from them."""
    lm = np.asarray(landmarks, dtype=np.float32).reshape(68, 2)
    return Face(box=face.box.copy(), score=face.score, keypoints5=keypoints5_from_68(lm), landmarks=lm,
                descriptor=None if face.descriptor is None else face.descriptor.copy())


def make_face(box: np.ndarray, score: float, keypoints5: np.ndarray) -> Face:
    return Face(box=np.asarray(box, dtype=np.float32).reshape(4), score=float(score),
                keypoints5=np.asarray(keypoints5, dtype=np.float32).reshape(5, 2))


def normalises_inside(path: str | Path) -> bool:
    """True when an ONNX graph scales its own input (so it takes raw 0..255 pixels).

    insightface's rule: among the first 8 nodes there are nodes named Sub* and Mul* (or, among the
    first 3, one named ``bn_data``, an MXNet export that normalises with a batch-norm layer).
    """
    import onnx

    try:
        nodes = onnx.load(str(path), load_external_data=False).graph.node[:8]
    except Exception:  # protobuf decode errors have no common base class
        raise WeightsError("not an ONNX model", path) from None
    has_sub = any(n.name.startswith(("Sub", "_minus")) for n in nodes)
    has_mul = any(n.name.startswith(("Mul", "_mul")) for n in nodes)
    has_bn = any(n.name == "bn_data" for n in nodes[:3])
    return (has_sub and has_mul) or has_bn


def load_torch_state(model, path: str | Path, who: str):
    """Load a verified ``.pth`` state dict into ``model`` (strict), in eval mode; returns the model.

    Accepts a bare state dict or one nested under "state_dict"/"params"/"params_ema", with or without
    DataParallel's ``module.`` prefixes. Only tensors are unpickled (``weights_only=True``).

    Raises:
        WeightsError: unreadable file, or keys/shapes that are not ``who``'s network.
    """
    import torch

    p = Path(path)
    try:
        state = torch.load(str(p), map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle, zip and unsafe-global errors differ by torch version
        raise WeightsError(f"not a torch state dict that {who} can load ({str(exc).splitlines()[0][:200]})", p) from None
    for key in ("params_ema", "params", "state_dict"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise WeightsError(f"holds a {type(state).__name__}, {who} needs a state dict", p)
    state = {k[7:] if k.startswith("module.") else k: v for k, v in state.items()}
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [k for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k].shape)]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing tensors (e.g. {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected tensors (e.g. {unexpected[0]})")
        if wrong:
            k = wrong[0]
            parts.append(f"{len(wrong)} of the wrong shape (e.g. {k}: {tuple(state[k].shape)} instead of "
                         f"{tuple(expected[k].shape)})")
        raise WeightsError(f"is not a {who} state dict: {'; '.join(parts)}", p)
    model.load_state_dict(state, strict=True)
    return model.eval()
