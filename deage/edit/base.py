"""What every editor implements, what it returns, and how big a crop to edit a face at.

An editor takes a face warped to the canonical crop (``deage.face.align.align_face``) with its
landmarks in crop pixels, plus its own parameters dataclass, and returns the edited crop and the
mask of where it changed things. ``deage.blend.composite`` pastes the result back into the frame.
Editors are chosen by name in the Look (``deage.edit.registry``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import cv2
import numpy as np

from deage.errors import DeageError
from deage.face.align import affine_scale, estimate_alignment
from deage.types import AlignedFace, Face, Image, Mask


@dataclass
class Retouch:
    """An edit expressed as changes to the original crop, so compositing can apply it to the frame
    at the frame's own resolution (no resampling of the untouched detail, grain kept bit-exact).

    The edited crop is ``warp(crop + up(delta) + up(detail_gain) * fine(crop), flow)``, where ``up``
    is a ``cv2.resize`` to S and ``fine`` is the detail finer than ``detail_sigma`` crop pixels.

    Attributes:
        delta: float32 (R, R, 3) additive RGB change in [0, 1] units at any resolution R <= S
            (smooth; R = S / k with the ``cv2.resize`` pixel-centre convention).
        flow: float32 (G, G, 2) backward displacement in crop pixels (sample the crop at
            ``p + flow(p)``), same grid convention, or None for no warp.
        detail_gain: float32 (R, R) gain on the fine detail (0 = unchanged), or None.
        detail_sigma: scale of the fine detail, in crop pixels (Gaussian sigma).
    """

    delta: np.ndarray
    flow: np.ndarray | None = None
    detail_gain: np.ndarray | None = None
    detail_sigma: float = 1.0

    def apply(self, crop: Image) -> Image:
        """The edited crop: RGB uint8 (S, S, 3) from the original RGB uint8 (S, S, 3) crop."""
        size = crop.shape[0]
        out = crop.astype(np.float32)
        out += cv2.resize(self.delta, (size, size), interpolation=cv2.INTER_LINEAR) * np.float32(255.0)
        if self.detail_gain is not None:
            base = crop.astype(np.float32)
            fine = base - cv2.GaussianBlur(base, (0, 0), self.detail_sigma)
            gain = cv2.resize(self.detail_gain, (size, size), interpolation=cv2.INTER_LINEAR)
            out += fine * gain[..., None]
        image = np.clip(out + np.float32(0.5), 0, 255).astype(np.uint8)
        if self.flow is None:
            return image
        map_x, map_y = flow_maps(self.flow, size)
        return cv2.remap(image, map_x, map_y, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT_101)


def flow_maps(flow: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """``cv2.remap`` maps (two float32 (size, size)) for a backward flow grid (G, G, 2) in crop pixels."""
    up = cv2.resize(flow, (size, size), interpolation=cv2.INTER_LINEAR)
    grid = np.arange(size, dtype=np.float32)
    return up[..., 0] + grid[None, :], up[..., 1] + grid[:, None]


class EditResult:
    """The output of one editor on one aligned face.

    Attributes:
        image: RGB uint8 (S, S, 3), the edited crop (same size as the input crop). When built
            with ``from_retouch`` it is rendered on first access only (compositing does not need it).
        mask: float32 (S, S) in [0, 1]: where the editor changed things (1 = fully its output).
            Compositing fades the edit out where this falls to 0.
        retouch: the same edit as changes to the original crop, when the editor can express it so
            (the makeup editor does); compositing then works at the frame's resolution.
        layers: optional named float32 masks for review overlays (e.g. the makeup editor's
            regions, at the editor's working resolution); never used for compositing.
        content: optional RGB uint8 (S, S, 3): the editor's own new pixels before it mixed them
            into the crop (a replacement's whole new face), or None (the image is the content);
            the review measures seams against it, compositing never uses it.
    """

    def __init__(
        self,
        image: Image,
        mask: Mask,
        retouch: Retouch | None = None,
        layers: dict[str, Mask] | None = None,
        content: Image | None = None,
    ) -> None:
        self._image: Image | None = image
        self._source: Image | None = None
        self.mask = mask
        self.retouch = retouch
        self.layers = dict(layers or {})
        self.content = content

    @classmethod
    def from_retouch(
        cls, source: Image, retouch: Retouch, mask: Mask, layers: dict[str, Mask] | None = None
    ) -> EditResult:
        """A result whose ``image`` is ``retouch.apply(source)``, rendered when first read."""
        result = cls(None, mask, retouch, layers)  # type: ignore[arg-type]
        result._source = source
        return result

    def with_retouch(self, retouch: Retouch) -> EditResult:
        """A copy whose edit is ``retouch`` instead (same source crop, mask and layers; its image
        rendered when first read). Only for results made by ``from_retouch``."""
        if self._source is None:
            raise DeageError("with_retouch needs a result made by EditResult.from_retouch")
        return EditResult.from_retouch(self._source, retouch, self.mask, self.layers)

    @property
    def image(self) -> Image:
        if self._image is None:
            assert self.retouch is not None and self._source is not None
            self._image = self.retouch.apply(self._source)
            self._source = None
        return self._image

    @property
    def size(self) -> int:
        return int(self.mask.shape[0])

    def __repr__(self) -> str:
        return f"EditResult(size={self.size}, retouch={self.retouch is not None}, layers={sorted(self.layers)})"


@runtime_checkable
class Editor(Protocol):
    """Aligned crop + landmarks in crop coordinates + parameters -> edited crop (+ mask).

    ``edit`` must be a pure function of its arguments (same input, same pixels) and must not keep
    anything that depends on frame content between calls, so frames can be rendered in any order
    and on any machine.
    """

    name: str

    def edit(self, aligned: AlignedFace, params: Any, parsing: dict[str, Mask] | None = None) -> EditResult: ...


# Crop sizes an editor is run at. The FFHQ template maps the face's 5 key points onto a 512 crop;
# a face that covers more frame pixels than the 512 crop would lose detail and is edited at 1024.
CROP_SIZES: tuple[int, ...] = (512, 1024)


def editor_template(editor: Any) -> str:
    """The alignment template ``editor`` edits faces in (``deage.face.align``): its ``template``
    attribute, "ffhq" when it has none (the learned editors and the swap: their models' crop)."""
    return str(getattr(editor, "template", "ffhq"))


def crop_scale(face: Face, size: int = 512, template: str = "ffhq") -> float:
    """Crop pixels per frame pixel of the ``template`` alignment of ``face`` at ``size`` (>1: upsampled)."""
    matrix = estimate_alignment(face.keypoints5, template, size, face.pixel_aspect)
    return affine_scale(matrix)


def crop_size_for(face: Face, template: str = "ffhq") -> int:
    """The crop size to edit ``face`` at: 512, or 1024 when a 512 crop would shrink the face by
    more than 1.25x (with the FFHQ template, a face more than about 300 px wide in the frame).

    A small face (say 150 px in a 720p frame) is upsampled into the 512 crop, which costs nothing
    in quality; 1024 is used only where it keeps real detail.
    """
    return 1024 if crop_scale(face, 512, template) < 0.8 else 512
