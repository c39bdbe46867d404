"""Face restorers (GFPGAN, CodeFormer) as user-supplied ONNX files, run on the FFHQ-aligned crop.

Model contract (the manifest's ``gfpgan_1_4`` and ``codeformer`` entries; checked on load):

- input [1, 3, 512, 512] float32: the face in the FFHQ template at 512 pixels, RGB in [-1, 1]
  (``x / 127.5 - 1``);
- CodeFormer only: a second input, rank 1 (``weight``, float32 or float64 as the graph states),
  the fidelity weight w in [0, 1] (0 = most restoration, 1 = closest to the input);
- output [1, 3, 512, 512] float32, RGB in [-1, 1].

A crop of another size is resized to 512 for the model and back.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from deage.errors import DeageError, WeightsError
from deage.onnx_session import check_io, create_session, session_device
from deage.types import Image
from deage.weights import Manifest, TensorSpec

RESTORE_SIZE = 512
_DTYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(float16)": np.float16}


class FaceRestorer:
    """``restore(crop, fidelity)`` -> the restored crop (RGB uint8, same size).

    Args:
        path: a verified ONNX file (use ``load_restorer``).
        device: "auto", "cpu", "cuda"... (see ``deage.onnx_session``).
    """

    name = "restorer"

    def __init__(self, path: str | Path, device: str = "auto") -> None:
        self.path = Path(path)
        self.session = create_session(self.path, device)
        inputs = self.session.get_inputs()
        images = [i for i in inputs if len(i.shape) == 4]
        controls = [i for i in inputs if len(i.shape) == 1]
        if len(images) != 1 or len(images) + len(controls) != len(inputs) or len(controls) > 1:
            raise WeightsError(f"inputs {[(i.name, i.shape) for i in inputs]} are not a face restorer's: an image "
                               "[1, 3, 512, 512] (and, for CodeFormer, a fidelity weight [1])", self.path)
        image = images[0]
        specs = [TensorSpec(i.name, (1, 3, RESTORE_SIZE, RESTORE_SIZE)) if i is image else
                 TensorSpec(i.name, (1,), _dtype_name(i.type)) for i in inputs]
        check_io(self.session, self.path, self.name, specs,
                 (TensorSpec("*", (1, 3, RESTORE_SIZE, RESTORE_SIZE), "float32", "RGB in [-1, 1]"),))
        self.image_input = image.name
        self.weight_input = controls[0].name if controls else None
        self.weight_dtype = _DTYPES.get(controls[0].type, np.float32) if controls else None

    @property
    def device(self) -> str:
        return session_device(self.session)

    def restore(self, crop: Image, fidelity: float = 0.7) -> Image:
        """Restore an FFHQ-aligned face crop (RGB uint8 (S, S, 3)); returns RGB uint8 (S, S, 3).

        ``fidelity`` feeds CodeFormer's weight input; models without one ignore it.
        """
        if not isinstance(crop, np.ndarray) or crop.dtype != np.uint8 or crop.ndim != 3 or crop.shape[2] != 3 \
                or crop.shape[0] != crop.shape[1]:
            raise DeageError(f"the restorer needs a square RGB uint8 crop, got {getattr(crop, 'shape', None)}")
        size = crop.shape[0]
        interp = cv2.INTER_AREA if size > RESTORE_SIZE else cv2.INTER_CUBIC
        work = crop if size == RESTORE_SIZE else cv2.resize(crop, (RESTORE_SIZE, RESTORE_SIZE), interpolation=interp)
        blob = np.ascontiguousarray(work.transpose(2, 0, 1)[None], np.float32) / np.float32(127.5) - np.float32(1.0)
        feeds = {self.image_input: blob}
        if self.weight_input is not None:
            feeds[self.weight_input] = np.array([float(fidelity)], dtype=self.weight_dtype)
        out = self.session.run(None, feeds)[0][0].transpose(1, 2, 0)
        image = np.clip((out + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8)
        if size != RESTORE_SIZE:
            image = cv2.resize(image, (size, size), interpolation=cv2.INTER_CUBIC)
        return image


def _dtype_name(onnx_type: str) -> str:
    return {"tensor(float)": "float32", "tensor(double)": "float64", "tensor(float16)": "float16"}.get(onnx_type,
                                                                                                     onnx_type)


def load_restorer(model: str, weights_dir: str | Path | None = None, *, manifest: Manifest | None = None,
                  device: str = "auto") -> FaceRestorer:
    """The restorer of manifest model ``model`` (a GFPGAN or CodeFormer ONNX), its file verified first.

    Raises:
        WeightsError: not a restorer in the manifest, missing or mismatched file, or another signature.
    """
    manifest = manifest if manifest is not None else Manifest.load()
    entry = manifest.entry(model)
    if entry.kind != "restorer":
        raise WeightsError(f"manifest model {model!r} is a {entry.kind}, not a face restorer", manifest.path)
    return FaceRestorer(manifest.resolve(model, weights_dir), device=device)
