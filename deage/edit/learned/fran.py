"""FRAN-style re-aging network (Zoss et al. 2022, "Production-Ready Face Re-Aging for VFX"), ONNX.

Model contract (the manifest's ``fran`` entry; checked on load):

- input [1, 5, S, S] float32 (S = 1024 unless the model fixes another size or is dynamic):
  channels 0-2 the FFHQ-aligned face crop, RGB in [0, 1] (``rgb_range = "signed"``: [-1, 1]);
  channel 3 the actor's current age / 100 and channel 4 the target age / 100, as constant planes.
- output [1, 3, S, S] float32: with ``output_mode = "delta"`` (FRAN's own design) an RGB offset
  in the same units as the input, added to the crop; with ``"image"`` the re-aged crop itself.

The delta is computed at the model's size and resized to the pipeline's crop before it is added,
so the plate keeps its own detail (the reason FRAN predicts a delta). The returned mask is where
the change is visible (``change_mask``), times ``strength``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deage.edit.base import EditResult
from deage.edit.learned.common import build_editor, change_mask, check_aligned, number, reject_unknown, resize
from deage.errors import LookError, WeightsError
from deage.onnx_session import check_io, create_session, session_device
from deage.types import AlignedFace, Mask
from deage.weights import Manifest, TensorSpec


@dataclass(frozen=True)
class FranParams:
    """Parameters of the FRAN editor.

    Attributes:
        input_age: the actor's apparent age in the plate, years (10..100).
        target_age: the age to show, years (10..100); below ``input_age`` de-ages.
        strength: scales the predicted change (0 = none, 1 = as predicted, up to 1.5).
    """

    input_age: float = 60.0
    target_age: float = 40.0
    strength: float = 1.0

    KEYS = ("input_age", "target_age", "strength")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FranParams:
        if not isinstance(data, dict):
            raise LookError(f"fran parameters must be an object, got {type(data).__name__}")
        reject_unknown(data, cls.KEYS, "fran")
        return cls(
            input_age=number(data, "input_age", 60.0, 10.0, 100.0, "fran"),
            target_age=number(data, "target_age", 40.0, 10.0, 100.0, "fran"),
            strength=number(data, "strength", 1.0, 0.0, 1.5, "fran"),
        )

    def to_dict(self) -> dict[str, Any]:
        return {"input_age": self.input_age, "target_age": self.target_age, "strength": self.strength}


class FranEditor:
    """Editor: FRAN re-aging of an aligned crop; ``edit(aligned, FranParams) -> EditResult``."""

    name = "fran"
    MANIFEST_OPTIONS = ("output_mode", "rgb_range", "size")

    def __init__(self, path: str | Path, device: str = "auto", *, output_mode: str = "delta",
                 rgb_range: str = "unit", size: int = 1024) -> None:
        """
        Args:
            path: a verified ONNX file (use ``load_editor`` or ``deage.face.backends.make_backend``).
            device: "auto", "cpu", "cuda"... (see ``deage.onnx_session``).
            output_mode: "delta" (output added to the input) or "image" (output is the new crop).
            rgb_range: "unit" (RGB in [0, 1]) or "signed" ([-1, 1]), for input and output.
            size: the working size when the model's spatial size is dynamic.
        """
        self.path = Path(path)
        if output_mode not in ("delta", "image"):
            raise WeightsError(f"output_mode must be delta or image, got {output_mode!r}", self.path)
        if rgb_range not in ("unit", "signed"):
            raise WeightsError(f"rgb_range must be unit or signed, got {rgb_range!r}", self.path)
        self.session = create_session(self.path, device)
        check_io(self.session, self.path, self.name,
                 (TensorSpec("*", (1, 5, "S", "S"), "float32", "RGB + input age/100 + target age/100"),),
                 (TensorSpec("*", (1, 3, "S", "S"), "float32", f"RGB {output_mode}"),))
        in_shape = self.session.get_inputs()[0].shape
        out_shape = self.session.get_outputs()[0].shape
        fixed = [d for d in in_shape[2:] if isinstance(d, int)]
        self.size = int(fixed[0]) if fixed else int(size)
        if len(set(fixed)) > 1:
            raise WeightsError(f"input is {in_shape}, FRAN expects a square crop", self.path)
        out_fixed = [d for d in out_shape[2:] if isinstance(d, int)]
        if out_fixed and out_fixed[0] != self.size:
            raise WeightsError(f"output is {out_shape}, expected the input's size {self.size}", self.path)
        self.input_name = self.session.get_inputs()[0].name
        self.output_mode = output_mode
        self.rgb_range = rgb_range

    @property
    def device(self) -> str:
        return session_device(self.session)

    def edit(self, aligned: AlignedFace, params: FranParams, parsing: dict[str, Mask] | None = None) -> EditResult:
        """Re-age ``aligned`` (RGB uint8 (S, S, 3), FFHQ template) from ``input_age`` to ``target_age``.

        ``parsing`` is accepted for the Editor protocol and not used (the network finds the skin itself).
        """
        crop = check_aligned(aligned, "the FRAN editor")
        s = crop.shape[0]
        if params.strength == 0 or params.input_age == params.target_age:
            return EditResult(image=crop.copy(), mask=np.zeros((s, s), np.float32))
        work = resize(crop, self.size).astype(np.float32) / 255.0
        rgb = work * 2.0 - 1.0 if self.rgb_range == "signed" else work
        planes = np.empty((1, 5, self.size, self.size), dtype=np.float32)
        planes[0, :3] = rgb.transpose(2, 0, 1)
        planes[0, 3] = params.input_age / 100.0
        planes[0, 4] = params.target_age / 100.0
        out = self.session.run(None, {self.input_name: planes})[0][0].transpose(1, 2, 0)
        if self.rgb_range == "signed":  # back to [0, 1] units: a delta halves, an image shifts too
            out = out / 2.0 if self.output_mode == "delta" else (out + 1.0) / 2.0
        delta = out if self.output_mode == "delta" else out - work
        delta = resize(delta.astype(np.float32), s) * np.float32(params.strength)
        edited = np.clip(crop.astype(np.float32) / 255.0 + delta, 0.0, 1.0)
        return EditResult(image=np.rint(edited * 255.0).astype(np.uint8), mask=change_mask(delta))


def load_editor(model: str = "fran", weights_dir: str | Path | None = None, *, manifest: Manifest | None = None,
                device: str = "auto", **options: Any) -> FranEditor:
    """The FRAN editor of manifest model ``model``, its file verified (the factory for ``deage.edit.registry``).

    Raises:
        WeightsError: the file is missing (the message says what to get and where to put it),
            mismatched, or has another signature.
    """
    return build_editor(model, FranEditor, weights_dir, manifest, device, options)
