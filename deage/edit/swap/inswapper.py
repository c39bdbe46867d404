"""The inswapper_128 model backend (insightface's face swapper, user-supplied ONNX file).

Model contract (the manifest's ``inswapper_128`` entry; checked on load):

- input ``target`` [1, 3, 128, 128] float32: the target face aligned to the ArcFace template at
  128 pixels (``deage.face.align``'s "arcface" template), RGB, ``x / 255`` (values 0..1);
- input ``source`` [1, D] float32 (D = 512): the source identity's latent: its ArcFace embedding
  normalised to unit length, multiplied by the model's embedding map ``emap`` (D x D, the last
  initializer of the ONNX graph) and normalised again;
- output [1, 3, 128, 128] float32: the swapped face, RGB in [0, 1], in the same crop.

This is insightface's own pre- and post-processing (``insightface.model_zoo.inswapper``),
re-implemented here on deage's RGB convention.

Higher detail (``detail`` 2 or 4): the target is aligned at 256 or 512 pixels and split into
4 or 16 interleaved sub-images (every k-th pixel, starting at each of the k x k offsets); each is
a complete 128-pixel face, shifted by a fraction of a pixel. The model swaps each one and the
results are interleaved back into the 256 or 512 crop, which then holds k times the model's
resolution (this is the "pixel boost" of FaceFusion).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from deage.errors import DeageError, WeightsError
from deage.onnx_session import check_io, create_session, session_device
from deage.types import Image
from deage.weights import Manifest, TensorSpec

MODEL_SIZE = 128


def read_emap(path: str | Path) -> np.ndarray:
    """The embedding map (float32 (D, D)): the last initializer of the ONNX graph, as insightface reads it.

    Raises:
        WeightsError: not an ONNX file, or its last initializer is not a square matrix.
    """
    import onnx
    from onnx import numpy_helper

    p = Path(path)
    try:
        model = onnx.load(str(p))
    except Exception:  # protobuf decode errors have no common base class
        raise WeightsError("not an ONNX model", p) from None
    inits = model.graph.initializer
    if not inits:
        raise WeightsError("has no initializers; an inswapper graph ends with its 'emap' matrix", p)
    emap = numpy_helper.to_array(inits[-1]).astype(np.float32)
    if emap.ndim != 2 or emap.shape[0] != emap.shape[1]:
        raise WeightsError(f"its last initializer {inits[-1].name!r} is {tuple(emap.shape)}, not the square "
                           "'emap' matrix of an inswapper model", p)
    return emap


def implode(crop: np.ndarray, k: int) -> np.ndarray:
    """(k*128, k*128, C) -> (k*k, 128, 128, C) interleaved sub-images; sub-image ``i * k + j`` holds
    the pixels at rows ``i::k`` and columns ``j::k``."""
    n = crop.shape[0] // k
    c = crop.shape[2]
    return crop.reshape(n, k, n, k, c).transpose(1, 3, 0, 2, 4).reshape(k * k, n, n, c)


def explode(tiles: np.ndarray, k: int) -> np.ndarray:
    """Inverse of ``implode``: (k*k, n, n, C) -> (k*n, k*n, C)."""
    _, n, _, c = tiles.shape
    return tiles.reshape(k, k, n, n, c).transpose(2, 0, 3, 1, 4).reshape(k * n, k * n, c)


class InSwapper:
    """inswapper_128: ``swap(crop, latent)`` on an ArcFace-aligned crop; ``latent(embedding)``.

    Args:
        path: a verified ONNX file (use ``load_swapper``).
        device: "auto", "cpu", "cuda"... (see ``deage.onnx_session``).
    """

    name = "inswapper"
    OUTPUTS = (TensorSpec("*", (1, 3, MODEL_SIZE, MODEL_SIZE), "float32", "swapped face, RGB in [0, 1]"),)

    def __init__(self, path: str | Path, device: str = "auto") -> None:
        self.path = Path(path)
        self.session = create_session(self.path, device)
        inputs = self.session.get_inputs()
        if len(inputs) != 2:
            raise WeightsError(f"has {len(inputs)} inputs {[i.name for i in inputs]}, inswapper has 2: "
                               "'target' [1, 3, 128, 128] and 'source' [1, 512]", self.path)
        by_rank = {len(i.shape): i for i in inputs}
        image = next((i for i in inputs if i.name == "target"), by_rank.get(4))
        latent = next((i for i in inputs if i.name == "source"), by_rank.get(2))
        if image is None or latent is None or image is latent:
            raise WeightsError(f"inputs {[(i.name, i.shape) for i in inputs]} are not inswapper's 'target' "
                               "[1, 3, 128, 128] and 'source' [1, 512]", self.path)
        dim = latent.shape[1] if isinstance(latent.shape[1], int) else 512
        check_io(self.session, self.path, self.name,
                 [TensorSpec(image.name, (1, 3, MODEL_SIZE, MODEL_SIZE)), TensorSpec(latent.name, (1, dim))]
                 if inputs[0] is image else
                 [TensorSpec(latent.name, (1, dim)), TensorSpec(image.name, (1, 3, MODEL_SIZE, MODEL_SIZE))],
                 self.OUTPUTS)
        self.image_input, self.latent_input = image.name, latent.name
        self.emap = read_emap(self.path)
        if self.emap.shape[0] != dim:
            raise WeightsError(f"its emap is {self.emap.shape}, but its 'source' input takes {dim} values", self.path)
        self.dim = int(dim)

    @property
    def device(self) -> str:
        return session_device(self.session)

    def latent(self, embedding: np.ndarray) -> np.ndarray:
        """The model's ``source`` input (float32 (1, D), unit length) for an ArcFace embedding (D,).

        Raises:
            DeageError: the embedding has another length than the model takes, or is all zeros.
        """
        e = np.asarray(embedding, np.float64).reshape(-1)
        if e.shape[0] != self.dim:
            raise DeageError(f"the source embedding has {e.shape[0]} values, {self.path.name} takes {self.dim}: "
                             f"use an ArcFace recognizer with {self.dim}-d output")
        norm = np.linalg.norm(e)
        if not np.isfinite(norm) or norm == 0:
            raise DeageError("the source embedding is zero or not finite")
        latent = (e / norm) @ self.emap.astype(np.float64)
        latent /= max(np.linalg.norm(latent), 1e-12)
        return latent.astype(np.float32).reshape(1, -1)

    def swap(self, crop: Image, latent: np.ndarray) -> Image:
        """Swap the face of an ArcFace-aligned crop.

        Args:
            crop: RGB uint8 (n, n, 3), n = 128, 256 or 512 (the "arcface" template at n pixels).
            latent: float32 (1, D) from ``latent``.

        Returns:
            RGB uint8 (n, n, 3), the swapped face in the same crop.
        """
        n = crop.shape[0]
        if crop.dtype != np.uint8 or crop.shape != (n, n, 3) or n % MODEL_SIZE or (n // MODEL_SIZE) not in (1, 2, 4):
            raise DeageError(f"inswapper needs an RGB uint8 crop of 128, 256 or 512 px, got {crop.shape} {crop.dtype}")
        k = n // MODEL_SIZE
        tiles = implode(crop, k) if k > 1 else crop[None]
        out = np.empty(tiles.shape, np.uint8)
        lat = np.ascontiguousarray(latent, np.float32).reshape(1, self.dim)
        for i, tile in enumerate(tiles):
            blob = np.ascontiguousarray(tile.transpose(2, 0, 1)[None], np.float32) / np.float32(255.0)
            pred = self.session.run(None, {self.image_input: blob, self.latent_input: lat})[0][0]
            out[i] = np.clip(pred.transpose(1, 2, 0) * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return explode(out, k) if k > 1 else out[0]


def load_swapper(model: str = "inswapper_128", weights_dir: str | Path | None = None, *,
                 manifest: Manifest | None = None, device: str = "auto") -> InSwapper:
    """The swapper of manifest model ``model``, its file verified first.

    Raises:
        WeightsError: the model is not a swapper in the manifest, its file is missing (the message
            says what to get and where to put it) or mismatched, or its graph is not inswapper's.
    """
    manifest = manifest if manifest is not None else Manifest.load()
    entry = manifest.entry(model)
    if entry.kind != "swapper":
        raise WeightsError(f"manifest model {model!r} is a {entry.kind}, not a swapper", manifest.path)
    return InSwapper(manifest.resolve(model, weights_dir), device=device)


def load_recognizer(model: str = "arcface_w600k_r50", weights_dir: str | Path | None = None, *,
                    manifest: Manifest | None = None, device: str = "auto") -> Any:
    """The ArcFace recognizer that embeds source faces for the swapper (through ``make_backend``).

    Raises:
        WeightsError: missing or mismatched file, or a model that is not a recognizer.
    """
    from deage.face.backends import make_backend

    recognizer = make_backend(model, weights_dir, manifest=manifest, device=device)
    if not hasattr(recognizer, "describe"):
        raise WeightsError(f"manifest model {model!r} is not a face recognizer")
    return recognizer
