"""The GPU path of ``FrameRenderer.render``: align and composite on torch tensors, edit on the editor's device.

The frame goes to the device once per frame; each face's crop is warped there
(``cv2.warpAffine`` equivalent, BORDER_REFLECT_101, bilinear), brought back for the editor (a
512 or 1024 crop), and the editor's result is composited on the device (``composite_torch``).
The finished frame comes back once. Faces are processed in order, each aligned from the frame
as edited so far, as the CPU path does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from deage.blend.other_faces import others_in, spare_other_faces
from deage.blend.params import BlendParams
from deage.edit.base import crop_size_for
from deage.face.align import estimate_alignment, invert_affine, transform_points
from deage.gpu import ops
from deage.gpu.composite import composite_torch
from deage.types import AlignedFace, Face, Image


def align_face_torch(frame: torch.Tensor, face: Face, template: str = "ffhq", size: int = 512) -> AlignedFace:
    """``deage.face.align.align_face`` with the warp on ``frame``'s device; the crop comes back as numpy.

    Args:
        frame: uint8 (H, W, 3) RGB tensor.
    """
    matrix = estimate_alignment(face.keypoints5, template, size, face.pixel_aspect)
    crop = ops.warp_affine(ops.to_float_chw(frame), invert_affine(matrix), (size, size), border="reflect101")
    image = ops.to_uint8_hwc(crop).cpu().numpy()
    return AlignedFace(
        image=image,
        matrix=matrix,
        keypoints5=transform_points(face.keypoints5, matrix),
        landmarks=transform_points(face.landmarks, matrix) if face.landmarks is not None else None,
        template=template,
        frame_size=(int(frame.shape[1]), int(frame.shape[0])),
    )


@torch.inference_mode()
def render_faces_torch(
    frame: Image,
    faces: list[tuple[int, Face]],
    edit: Callable[[AlignedFace, Any, int], Any],
    params: Any,
    blend: BlendParams | dict[int, BlendParams],
    device: torch.device,
    *,
    masks: bool = True,
    template: str = "ffhq",
    everyone: dict[int, Face] | None = None,
) -> tuple[Image, list[np.ndarray]]:
    """Edit ``faces`` (track id, Face with landmarks) of ``frame`` (RGB uint8 (H, W, 3)) on ``device``.

    ``blend`` is one ``BlendParams`` for every face, or one per track id; ``template``: the
    editor's alignment template (``deage.edit.base.editor_template``); ``everyone``: every face of
    the frame by track id (default ``faces``), whose features no other face's edit may touch
    (``deage.blend.other_faces``).

    Returns the new frame (numpy) and one float32 (H, W) blend mask per face (none when
    ``masks`` is False), as ``FrameRenderer.render`` does.
    """
    height, width = frame.shape[:2]
    work = torch.from_numpy(np.ascontiguousarray(frame)).to(device, copy=True)  # never write into the input
    mattes: list[np.ndarray] = []
    everyone = dict(faces) if everyone is None else everyone
    for track_id, face in faces:
        aligned = align_face_torch(work, face, template, crop_size_for(face, template))
        result = spare_other_faces(edit(aligned, params, track_id), aligned, face, others_in(everyone, track_id))
        face_blend = blend[track_id] if isinstance(blend, dict) else blend
        work, alpha, (x0, y0, x1, y1) = composite_torch(work, aligned, result, face_blend)
        if masks:
            matte = np.zeros((height, width), np.float32)
            if alpha is not None:
                matte[y0:y1, x0:x1] = alpha.cpu().numpy()
            mattes.append(matte)
    return work.cpu().numpy(), mattes


__all__ = ["align_face_torch", "render_faces_torch"]
