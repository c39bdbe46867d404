"""StyleGAN-family age editor exported to ONNX (encoder + latent age direction + generator in one graph).

Model contract (the manifest's ``stylegan_age`` entry; inputs found by name, checked on load):

- ``image`` [1, 3, 256, 256] float32, RGB in [-1, 1]: the tight face, i.e. the central
  ``inner_fraction`` of the FFHQ-aligned crop (default 2/3 when there is a context input, else
  the whole crop, FFHQ framing).
- ``context`` (optional) [1, 3, 384, 384] float32, RGB in [-1, 1]: the whole FFHQ-aligned crop
  (face with hair and background). With the defaults ``image`` is exactly its central 256 x 256,
  at the same pixel scale.
- the control, one of: ``direction`` [1] or [1, 1] (a step along the model's age direction in its
  own units, negative = younger) or ``age`` [1] or [1, 1] (target age / 100).
- one output [1, 3, R, R] float32, RGB in [-1, 1], R = 256 or 1024: the edited tight face.

The edited face is resized into the inner region of the crop; the mask is that region with
feathered edges (8% of its side), limited to where the picture changed, times ``strength``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deage.edit.base import EditResult
from deage.edit.learned.common import build_editor, change_mask, check_aligned, number, reject_unknown, resize
from deage.errors import LookError, WeightsError
from deage.onnx_session import check_io, create_session, io_summary, session_device
from deage.types import AlignedFace, Mask
from deage.weights import Manifest, TensorSpec

_CONTROLS = ("direction", "age")


@dataclass(frozen=True)
class StyleganAgeParams:
    """Parameters of the StyleGAN ONNX age editor.

    Attributes:
        amount: step along the age direction for "direction" models (model units, -5..5,
            negative = younger).
        target_age: years (0..100) for "age" models; None for direction models.
        strength: opacity of the edit, 0..1.
    """

    amount: float = -1.0
    target_age: float | None = None
    strength: float = 1.0

    KEYS = ("amount", "target_age", "strength")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StyleganAgeParams:
        if not isinstance(data, dict):
            raise LookError(f"stylegan_onnx parameters must be an object, got {type(data).__name__}")
        reject_unknown(data, cls.KEYS, "stylegan_onnx")
        return cls(
            amount=number(data, "amount", -1.0, -5.0, 5.0, "stylegan_onnx"),
            target_age=number(data, "target_age", None, 0.0, 100.0, "stylegan_onnx"),
            strength=number(data, "strength", 1.0, 0.0, 1.0, "stylegan_onnx"),
        )

    def to_dict(self) -> dict[str, Any]:
        return {"amount": self.amount, "target_age": self.target_age, "strength": self.strength}


class StyleganOnnxEditor:
    """Editor: StyleGAN-family age edit of an aligned crop; ``edit(aligned, StyleganAgeParams)``."""

    name = "stylegan_onnx"
    MANIFEST_OPTIONS = ("inner_fraction", "feather")

    def __init__(self, path: str | Path, device: str = "auto", *, inner_fraction: float | None = None,
                 feather: float = 0.08) -> None:
        """
        Args:
            path: a verified ONNX file (use ``load_editor`` or ``deage.face.backends.make_backend``).
            device: "auto", "cpu", "cuda"... (see ``deage.onnx_session``).
            inner_fraction: side of the ``image`` region as a fraction of the aligned crop's side
                (default: 256/384 with a context input, 1 without).
            feather: width of the mask's soft edge, as a fraction of the region's side.
        """
        self.path = Path(path)
        self.session = create_session(self.path, device)
        inputs = {name: (shape, dtype) for name, shape, dtype in io_summary(self.session)["inputs"]}
        controls = [c for c in _CONTROLS if c in inputs]
        if "image" not in inputs or len(controls) != 1 or not set(inputs) <= {"image", "context", *_CONTROLS}:
            raise WeightsError(
                f"has inputs {sorted(inputs)}; the stylegan_onnx backend expects 'image', optionally 'context', "
                f"and one of 'direction' or 'age'", self.path,
            )
        self.control = controls[0]
        self.has_context = "context" in inputs
        ordered = [TensorSpec(n, _expected_shape(n, inputs[n][0]), "float32") for n, _, _ in
                   io_summary(self.session)["inputs"]]
        check_io(self.session, self.path, self.name, ordered, (TensorSpec("*", (1, 3, "R", "R"), "float32"),))
        out_side = self.session.get_outputs()[0].shape[2]
        if isinstance(out_side, int) and out_side not in (256, 512, 1024):
            raise WeightsError(f"output side is {out_side}, expected 256, 512 or 1024", self.path)
        self.control_shape = tuple(d if isinstance(d, int) else 1 for d in inputs[self.control][0])
        default_fraction = 256.0 / 384.0 if self.has_context else 1.0
        self.inner_fraction = float(inner_fraction if inner_fraction is not None else default_fraction)
        if not 0.2 <= self.inner_fraction <= 1.0:
            raise WeightsError(f"inner_fraction must be between 0.2 and 1, got {self.inner_fraction}", self.path)
        self.feather = float(feather)

    @property
    def device(self) -> str:
        return session_device(self.session)

    def inner_box(self, size: int) -> tuple[int, int]:
        """(start, side) in crop pixels of the ``image`` region of a ``size`` crop (centred square)."""
        side = int(round(size * self.inner_fraction))
        return (size - side) // 2, side

    def edit(self, aligned: AlignedFace, params: StyleganAgeParams,
             parsing: dict[str, Mask] | None = None) -> EditResult:
        """Age-edit ``aligned`` (RGB uint8 (S, S, 3), FFHQ template); ``parsing`` is not used."""
        crop = check_aligned(aligned, "the StyleGAN ONNX editor")
        s = crop.shape[0]
        if params.strength == 0:
            return EditResult(image=crop.copy(), mask=np.zeros((s, s), np.float32))
        if self.control == "age" and params.target_age is None:
            raise LookError(f"{self.path.name} is an age model: set the stylegan_onnx parameter target_age (years)")
        start, side = self.inner_box(s)
        inner = crop[start:start + side, start:start + side]
        feeds = {"image": _signed(resize(inner, 256))}
        if self.has_context:
            feeds["context"] = _signed(resize(crop, 384))
        value = params.amount if self.control == "direction" else float(params.target_age) / 100.0
        feeds[self.control] = np.full(self.control_shape, value, dtype=np.float32)
        out = self.session.run(None, feeds)[0][0].transpose(1, 2, 0)
        edited_inner = resize(np.clip((out + 1.0) * 127.5, 0, 255).astype(np.float32), side)
        edited = crop.astype(np.float32)
        edited[start:start + side, start:start + side] = edited_inner
        edited = np.rint(edited).astype(np.uint8)
        region = np.zeros((s, s), np.float32)
        region[start:start + side, start:start + side] = _feathered_square(side, self.feather)
        changed = change_mask((edited.astype(np.float32) - crop.astype(np.float32)) / 255.0)
        return EditResult(image=edited, mask=(region * changed * np.float32(params.strength)).astype(np.float32))


def _expected_shape(name: str, actual: list[Any]) -> tuple[int | str, ...]:
    if name == "image":
        return (1, 3, 256, 256)
    if name == "context":
        return (1, 3, 384, 384)
    return tuple(1 for _ in actual) if len(actual) <= 2 else (1, 1)  # control: [], [1] or [1, 1]


def _signed(image: np.ndarray) -> np.ndarray:
    """RGB uint8 (H, W, 3) -> float32 [1, 3, H, W] in [-1, 1]."""
    return (image.astype(np.float32).transpose(2, 0, 1)[None] / 127.5 - 1.0).astype(np.float32)


def _feathered_square(side: int, feather: float) -> Mask:
    """float32 (side, side): 1 inside, a smooth ramp to 0 over ``feather * side`` pixels at the edges."""
    width = max(int(round(side * feather)), 1)
    ramp = np.clip((np.arange(side, dtype=np.float32) + 0.5) / width, 0, 1)
    ramp = np.minimum(ramp, ramp[::-1])
    ramp = ramp * ramp * (3 - 2 * ramp)
    return np.outer(ramp, ramp).astype(np.float32)


def load_editor(model: str = "stylegan_age", weights_dir: str | Path | None = None, *,
                manifest: Manifest | None = None, device: str = "auto", **options: Any) -> StyleganOnnxEditor:
    """The StyleGAN ONNX editor of manifest model ``model``, its file verified (factory for the registry).

    Raises:
        WeightsError: the file is missing (the message says what to get and where to put it),
            mismatched, or has another signature.
    """
    return build_editor(model, StyleganOnnxEditor, weights_dir, manifest, device, options)
