"""Alignment to canonical crops and the inverse paste back into the frame.

A crop is defined by a similarity transform (rotation, uniform scale, translation) that
maps the face's 5 key points onto a template: the published ones, and one made from them:

- ``"arcface"``: the 112x112 template used by ArcFace / inswapper (scales to 128).
- ``"ffhq"``: the 512x512 FFHQ-style template used by GFPGAN / CodeFormer (scales to 1024).
- ``"head"``: the FFHQ template zoomed out to 0.8 about the crop's top centre and raised 8 px (at
  512), so the crop holds the whole face and the neck down to 1.2-1.6 eye distances below the
  chin (the FFHQ crop ends 0.2-0.5 eye distances below it); the makeup editor's crop, which
  retouches the neck with the face.
"""

from __future__ import annotations

import cv2
import numpy as np

from deage.errors import NoFaceError
from deage.types import Affine, AlignedFace, Face, Image, Mask, Points

_ARCFACE_112 = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float64,
)
_FFHQ_512 = np.array(
    [[192.98138, 239.94708], [318.90277, 240.1936], [256.63416, 314.01935], [201.26117, 371.41043],
     [313.08905, 371.15118]],
    dtype=np.float64,
)
HEAD_ZOOM = 0.8  # the "head" template is the FFHQ one at this scale
_HEAD_512 = (_FFHQ_512 - [256.0, 0.0]) * HEAD_ZOOM + [256.0, -8.0]
_TEMPLATES = {"arcface": (_ARCFACE_112, 112), "ffhq": (_FFHQ_512, 512), "head": (_HEAD_512, 512)}


def template_points(template: str, size: int) -> np.ndarray:
    """The template's 5 key points (float64 (5, 2)) for a crop of ``size`` x ``size`` pixels."""
    if template not in _TEMPLATES:
        raise ValueError(f"unknown alignment template {template!r}; choose from {sorted(_TEMPLATES)}")
    points, native = _TEMPLATES[template]
    if template == "arcface" and size % 128 == 0:
        # insightface's convention for 128-multiples: scale the 112 template and shift x by 8/112.
        ratio = size / 128.0
        return (points + np.array([8.0, 0.0])) * ratio
    return points * (size / native)


def estimate_alignment(keypoints5: Points, template: str = "ffhq", size: int = 512,
                       pixel_aspect: float = 1.0) -> Affine:
    """Similarity transform (float64 (2, 3), frame -> crop) that best maps ``keypoints5`` onto the template.

    A least-squares (Umeyama) fit over all 5 points: smooth under landmark noise, never drops a point.
    With non-square frame pixels (``pixel_aspect`` = pixel width / height, see ``Face``), the fit
    is made in square-pixel space and the matrix first stretches x by ``pixel_aspect``: an affine
    that unsqueezes the face into the crop.

    Raises:
        NoFaceError: the key points are not 5 finite, distinct points.
    """
    src = np.asarray(keypoints5, dtype=np.float64)
    if src.shape != (5, 2) or not np.isfinite(src).all():
        raise NoFaceError(f"alignment needs 5 finite key points (5, 2), got shape {src.shape}")
    if np.linalg.norm(src - src.mean(0), axis=1).max() < 1e-3:
        raise NoFaceError("the 5 key points coincide; cannot align this face")
    if not np.isfinite(pixel_aspect) or pixel_aspect <= 0:
        raise ValueError(f"pixel_aspect must be a positive number, got {pixel_aspect}")
    if pixel_aspect == 1.0:
        return _umeyama(src, template_points(template, size)).astype(np.float64)
    matrix = _umeyama(src * np.array([pixel_aspect, 1.0]), template_points(template, size)).astype(np.float64)
    matrix[:, 0] *= pixel_aspect
    return matrix


def _umeyama(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    var = (s**2).sum() / len(src)
    u, sig, vt = np.linalg.svd(d.T @ s / len(src))
    sign = np.diag([1.0, np.sign(np.linalg.det(u @ vt)) or 1.0])
    rot = u @ sign @ vt
    scale = (sig * np.diag(sign)).sum() / max(var, 1e-12)
    t = mu_d - scale * rot @ mu_s
    return np.hstack([scale * rot, t[:, None]])


def invert_affine(matrix: Affine) -> Affine:
    """Inverse of a (2, 3) affine matrix."""
    return cv2.invertAffineTransform(np.asarray(matrix, dtype=np.float64))


def affine_scale(matrix: Affine) -> float:
    """The mean scale of a (2, 3) affine: sqrt |det| of its linear part (for a frame -> crop
    matrix, crop pixels per frame pixel; > 1: the crop is upsampled)."""
    return float(np.sqrt(abs(np.linalg.det(np.asarray(matrix, np.float64)[:, :2]))))


def transform_points(points: Points, matrix: Affine) -> Points:
    """Apply a (2, 3) affine to float (N, 2) points; returns float32 (N, 2)."""
    pts = np.asarray(points, dtype=np.float64)
    return (pts @ matrix[:, :2].T + matrix[:, 2]).astype(np.float32)


def align_face(frame: Image, face: Face, template: str = "ffhq", size: int = 512) -> AlignedFace:
    """Warp ``face`` out of ``frame`` (RGB uint8 (H, W, 3)) into a canonical ``size`` x ``size`` crop."""
    matrix = estimate_alignment(face.keypoints5, template, size, face.pixel_aspect)
    crop = cv2.warpAffine(frame, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    landmarks = transform_points(face.landmarks, matrix) if face.landmarks is not None else None
    return AlignedFace(
        image=crop,
        matrix=matrix,
        keypoints5=transform_points(face.keypoints5, matrix),
        landmarks=landmarks,
        template=template,
        frame_size=(int(frame.shape[1]), int(frame.shape[0])),
    )


def frame_coverage(aligned: AlignedFace, size: int) -> np.ndarray | None:
    """Where a ``size`` x ``size`` raster of ``aligned``'s crop shows the frame itself: float32
    (size, size), 1 inside the frame, 0 where the crop reaches past its edges (there it holds the
    frame mirrored), antialiased; None when the crop lies wholly inside the frame or the frame's
    size is unknown."""
    if aligned.frame_size is None:
        return None
    w, h = aligned.frame_size
    corners = np.array([[-0.5, -0.5], [w - 0.5, -0.5], [w - 0.5, h - 0.5], [-0.5, h - 0.5]], np.float64)
    k = size / float(aligned.size)
    quad = (transform_points(corners, aligned.matrix).astype(np.float64) + 0.5) * k - 0.5
    polygon = quad.astype(np.float32).reshape(-1, 1, 2)
    raster = ((-0.5, -0.5), (size - 0.5, -0.5), (size - 0.5, size - 0.5), (-0.5, size - 0.5))
    if all(cv2.pointPolygonTest(polygon, point, False) > 0 for point in raster):
        return None
    canvas = np.zeros((size, size), np.uint8)
    cv2.fillConvexPoly(canvas, np.round(quad * 16).astype(np.int32), 255, lineType=cv2.LINE_AA, shift=4)
    return canvas.astype(np.float32) / np.float32(255.0)


def crop_footprint(matrix: Affine, size: int, frame_shape: tuple[int, ...], margin: int = 2) -> tuple[int, int, int, int]:
    """Integer frame region ``(x0, y0, x1, y1)`` (exclusive ends) covered by a crop, clipped to the frame."""
    inv = invert_affine(matrix)
    corners = np.array([[0, 0], [size, 0], [0, size], [size, size]], dtype=np.float64)
    pts = corners @ inv[:, :2].T + inv[:, 2]
    h, w = frame_shape[:2]
    x0 = int(np.clip(np.floor(pts[:, 0].min()) - margin, 0, w))
    y0 = int(np.clip(np.floor(pts[:, 1].min()) - margin, 0, h))
    x1 = int(np.clip(np.ceil(pts[:, 0].max()) + margin + 1, 0, w))
    y1 = int(np.clip(np.ceil(pts[:, 1].max()) + margin + 1, 0, h))
    return x0, y0, x1, y1


def warp_to_frame(
    crop: np.ndarray, matrix: Affine, frame_shape: tuple[int, ...]
) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """Inverse-warp a crop (image (S, S, C) or mask (S, S)) back into frame coordinates.

    Only the region of the frame the crop covers is computed (fast at 4K). Returns the warped
    region and its frame box ``(x0, y0, x1, y1)``; pixels outside the crop are 0.
    """
    size = crop.shape[0]
    x0, y0, x1, y1 = crop_footprint(matrix, size, frame_shape)
    shifted = invert_affine(matrix).copy()
    shifted[:, 2] -= (x0, y0)
    if x1 <= x0 or y1 <= y0:
        return np.zeros((0, 0) + crop.shape[2:], crop.dtype), (x0, y0, x1, y1)
    out = cv2.warpAffine(
        crop, shifted, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )
    return out, (x0, y0, x1, y1)


def paste_back(frame: Image, crop: Image, matrix: Affine, mask: Mask) -> Image:
    """Composite an edited crop into a copy of ``frame`` through the inverse alignment.

    Args:
        frame: RGB uint8 (H, W, 3); not modified.
        crop: RGB uint8 (S, S, 3), the edited aligned face.
        matrix: (2, 3) frame -> crop used to make the crop.
        mask: float32 (S, S) in [0, 1]; where to take the crop (feather it beforehand).

    Returns:
        A new RGB uint8 frame. Pixels where the warped mask is exactly 0 are bit-identical to ``frame``.
    """
    out = frame.copy()
    warped, (x0, y0, x1, y1) = warp_to_frame(crop, matrix, frame.shape)
    alpha, _ = warp_to_frame(mask.astype(np.float32), matrix, frame.shape)
    if warped.size == 0:
        return out
    region = out[y0:y1, x0:x1]
    a = alpha[..., None]
    blended = region.astype(np.float32) * (1.0 - a) + warped.astype(np.float32) * a
    touched = alpha > 0
    region[touched] = np.clip(np.rint(blended[touched]), 0, 255).astype(np.uint8)
    return out
