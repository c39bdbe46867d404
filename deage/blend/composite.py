"""Paste an edited face back into its frame: mask shaping, colour match, blend mode.

``composite`` is the one entry point the render calls per frame and face. It works only on the
frame region the (shaped) mask covers, never on the whole frame, and leaves every pixel where the
mask is 0 bit-identical to the input frame.

When the editor returned its edit as a ``Retouch`` (changes to the original crop, as the makeup
editor does), the changes are warped into the frame and applied to the frame's own pixels: the
face's untouched detail and grain are never resampled, so nothing softens, even at 1:1 scale;
the grain the retouch itself smoothed is put back up to the plate's noise level
(``deage.blend.grain``, the Look's ``blend.grain``), and a shape warp moves the grain by whole pixels.
Otherwise the edited crop itself is warped back through the inverse alignment, and on a noisy
plate it is given the grain it lacks (``deage.blend.grain.regrain``): a swapped or generated face,
drawn from a clean photo or a model, would otherwise sit as a clean patch in a grainy frame.
"""

from __future__ import annotations

from typing import Literal, overload

import cv2
import numpy as np

from deage.blend.colour import histogram_transfer, lab_transfer
from deage.blend.feather import alpha_blend, shape_mask
from deage.blend.grain import keep_grain, plate_noise, regrain, split_grain
from deage.blend.params import REFERENCE_CROP, BlendParams
from deage.blend.poisson import poisson_blend
from deage.blend.pyramid import multiband_blend, pyramid_levels
from deage.edit.base import EditResult, Retouch
from deage.errors import DeageError
from deage.face.align import affine_scale
from deage.types import AlignedFace, Image, Mask

Box = tuple[int, int, int, int]


@overload
def composite(frame: Image, aligned: AlignedFace, result: EditResult, blend: BlendParams | None = ...,
              *, return_mask: Literal[False] = ...) -> Image: ...


@overload
def composite(frame: Image, aligned: AlignedFace, result: EditResult, blend: BlendParams | None = ...,
              *, return_mask: Literal[True]) -> tuple[Image, Mask]: ...


def composite(
    frame: Image,
    aligned: AlignedFace,
    result: EditResult,
    blend: BlendParams | None = None,
    *,
    return_mask: bool = False,
) -> Image | tuple[Image, Mask]:
    """Composite one edited face into a copy of ``frame``.

    Args:
        frame: RGB uint8 (H, W, 3); not modified.
        aligned: the aligned face the edit was made from (its ``matrix`` maps frame -> crop).
        result: the editor's output for ``aligned`` (crop and mask of the same size S).
        blend: mask shaping, blend mode, colour match and amount (default ``BlendParams()``).
        return_mask: also return the final alpha in frame coordinates.

    Returns:
        The new RGB uint8 (H, W, 3) frame; with ``return_mask``, also its float32 (H, W) alpha in
        [0, 1]. Wherever that alpha is 0 the frame is bit-identical to the input.

    Raises:
        DeageError: frame, crop or mask have the wrong shape or type.
    """
    blend = blend or BlendParams()
    _check(frame, aligned, result)
    out = frame.copy()
    height, width = frame.shape[:2]
    size = aligned.size
    matrix = np.asarray(aligned.matrix, np.float64)
    scale = affine_scale(matrix)  # crop px per frame px
    retouch = result.retouch

    # Shape the mask on a grid at most half the crop size (it is smooth); for a retouch, on the
    # grid of its delta, so one 4-channel warp carries mask, flow and detail gain together.
    grid = retouch.delta.shape[0] if retouch is not None else max(64, size // 2)
    k = grid / float(REFERENCE_CROP)  # grid pixels per blend-parameter pixel
    mask = cv2.resize(np.asarray(result.mask, np.float32), (grid, grid), interpolation=cv2.INTER_AREA)
    mask = shape_mask(mask, blend.erode * k, blend.dilate * k, blend.feather * k)
    mask *= _edge_taper(grid) * np.float32(blend.amount)

    def unchanged() -> Image | tuple[Image, Mask]:
        return (out, np.zeros((height, width), np.float32)) if return_mask else out

    if not mask.any():
        return unchanged()
    pad = 2
    if retouch is not None and retouch.flow is not None:
        pad += _flow_pad(retouch.flow, matrix)
    x0, y0, x1, y1 = _footprint(mask, _grid_matrix(matrix, size, grid), (height, width), pad)
    if x1 <= x0 or y1 <= y0:
        return unchanged()
    to_crop = matrix.copy()
    to_crop[:, 2] += matrix[:, :2] @ np.array([x0, y0], np.float64)  # region pixel -> crop pixel
    region_size = (x1 - x0, y1 - y0)
    to_grid = _grid_matrix(to_crop, size, grid)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP

    base = frame[y0:y1, x0:x1].astype(np.float32)
    if retouch is not None:
        alpha, top = _apply_retouch(base, retouch, mask, to_grid, to_crop, size, scale, blend.grain)
    else:
        alpha = cv2.warpAffine(mask, to_grid, region_size, flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        top = cv2.warpAffine(result.image, to_crop, region_size, flags=flags,
                             borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
    alpha[alpha < 1.0 / 512.0] = 0.0
    touched = alpha > 0
    if not touched.any():
        return unchanged()

    if blend.colour_match == "lab":
        top = lab_transfer(top, base, alpha)
    elif blend.colour_match == "histogram":
        top = histogram_transfer(top, base, alpha)
    if retouch is None:  # a face drawn from elsewhere (a swap, a learned editor) gets the plate's grain
        top = regrain(top, base, alpha >= 0.5, blend.grain)

    if blend.mode == "multiband":
        transition = max(blend.feather, 4.0) * size / REFERENCE_CROP / max(scale, 1e-6)  # frame pixels
        mixed = multiband_blend(base, top, alpha, pyramid_levels(y1 - y0, x1 - x0, transition))
        # Low bands spread past the mask's edge: fade them out over its outermost part.
        mixed = alpha_blend(base, mixed, np.clip(alpha * 16.0, 0.0, 1.0))
    elif blend.mode == "poisson":
        seamless = poisson_blend(base, top, touched)
        mixed = alpha_blend(base, seamless, alpha)
    else:
        mixed = alpha_blend(base, top, alpha)

    mixed += np.float32(0.5)
    np.clip(mixed, 0, 255, out=mixed)
    np.copyto(out[y0:y1, x0:x1], mixed.astype(np.uint8), where=touched[..., None])
    if return_mask:
        matte = np.zeros((height, width), np.float32)
        matte[y0:y1, x0:x1] = alpha
        return out, matte
    return out


def _edge_taper(grid: int) -> Mask:
    """1 inside, easing to 0 at the grid's border: a mask that reaches the crop's edge (the crop
    may hold reflected pixels beyond the frame) must not end in a hard step in the frame."""
    width = max(2.0, grid / 64.0)
    ramp = np.clip((np.arange(grid, dtype=np.float32) + 0.5) / width, 0.0, 1.0)
    ramp = np.minimum(ramp, ramp[::-1])
    ramp = ramp * ramp * (3.0 - 2.0 * ramp)
    return np.outer(ramp, ramp).astype(np.float32)


def _check(frame: Image, aligned: AlignedFace, result: EditResult) -> None:
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise DeageError(f"composite needs an RGB uint8 (H, W, 3) frame, got {getattr(frame, 'shape', None)} "
                         f"{getattr(frame, 'dtype', None)}")
    size = aligned.size
    mask = np.asarray(result.mask)
    if mask.shape != (size, size):
        raise DeageError(f"the edit's mask is {mask.shape}, expected ({size}, {size}) like the aligned crop")
    if result.retouch is None:
        image = result.image
        if image.shape != (size, size, 3) or image.dtype != np.uint8:
            raise DeageError(f"the edited crop is {image.shape} {image.dtype}, expected ({size}, {size}, 3) uint8")
    if np.asarray(aligned.matrix).shape != (2, 3) or not np.isfinite(aligned.matrix).all():
        raise DeageError("the aligned face's matrix must be a finite (2, 3) affine")


def _footprint(mask: Mask, to_grid: np.ndarray, frame_shape: tuple[int, int], pad: int) -> Box:
    """Frame box (x0, y0, x1, y1), exclusive ends, covering the grid cells where ``mask`` > 0.

    ``to_grid`` maps frame pixels to mask-grid pixels.
    """
    ys, xs = np.nonzero(mask.max(axis=1) > 0)[0], np.nonzero(mask.max(axis=0) > 0)[0]
    gx0, gx1, gy0, gy1 = xs[0] - 1, xs[-1] + 1, ys[0] - 1, ys[-1] + 1
    inv = cv2.invertAffineTransform(to_grid)
    corners = np.array([[gx0, gy0], [gx1, gy0], [gx0, gy1], [gx1, gy1]], np.float64)
    pts = corners @ inv[:, :2].T + inv[:, 2]
    h, w = frame_shape
    x0 = int(np.clip(np.floor(pts[:, 0].min()) - pad, 0, w))
    y0 = int(np.clip(np.floor(pts[:, 1].min()) - pad, 0, h))
    x1 = int(np.clip(np.ceil(pts[:, 0].max()) + pad + 1, 0, w))
    y1 = int(np.clip(np.ceil(pts[:, 1].max()) + pad + 1, 0, h))
    return x0, y0, x1, y1


def _flow_pad(flow: np.ndarray, matrix: np.ndarray) -> int:
    """Frame pixels a shape warp of ``flow`` (crop pixels) can move a pixel by, plus one: over the
    frame -> crop matrix's smallest scale (an anamorphic face's crop is scaled more across than down)."""
    smallest = float(np.linalg.svd(np.asarray(matrix, np.float64)[:, :2], compute_uv=False)[-1])
    return int(np.ceil(float(np.abs(flow).max()) / max(smallest, 1e-6))) + 1


def _grid_matrix(to_crop: np.ndarray, size: int, grid: int) -> np.ndarray:
    """Region pixel -> pixel of a (grid, grid) map laid over an S crop (cv2.resize centre convention)."""
    f = grid / float(size)
    m = to_crop * f
    m[:, 2] += 0.5 * f - 0.5
    return m


def _apply_retouch(
    base: np.ndarray, retouch: Retouch, mask: Mask, to_grid: np.ndarray, to_crop: np.ndarray, size: int, scale: float,
    grain: float = 1.0,
) -> tuple[Mask, np.ndarray]:
    """Alpha and the retouched frame region (float32 0..255) for the frame region ``base``, with
    ``grain`` of the plate's grain kept (``deage.blend.grain``).

    ``mask`` is on the delta's grid; ``to_grid`` maps region pixels to that grid. The shape warp
    is applied as remap coordinates computed on the grid (affine in the grid plus the flow, so
    warping them bilinearly is exact for the affine part), only over the box where it moves
    anything.
    """
    h, w = base.shape[:2]
    grid = retouch.delta.shape[0]
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP

    def warp(values: np.ndarray) -> np.ndarray:
        return cv2.warpAffine(values, to_grid, (w, h), flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0)

    alpha = warp(mask)
    top = base + warp(retouch.delta * np.float32(255.0))
    if retouch.detail_gain is not None:
        gain = warp(cv2.resize(retouch.detail_gain, (grid, grid), interpolation=cv2.INTER_LINEAR))
        sigma = max(retouch.detail_sigma / max(scale, 1e-6), 0.3)
        top += (base - cv2.GaussianBlur(base, (0, 0), sigma)) * gain[..., None]
    noise = plate_noise(base)
    top = keep_grain(top, base, noise, grain)
    if retouch.flow is None:
        return alpha, top
    warp_box = _warp_box(retouch.flow, to_grid, to_crop, grid, (w, h))
    if warp_box is None:
        return alpha, top
    map_x, map_y, sub, (bx0, by0, bx1, by1) = warp_box
    box = (bx1 - bx0, by1 - by0)
    mx = cv2.warpAffine(map_x, sub, box, flags=flags, borderMode=cv2.BORDER_REPLICATE)
    my = cv2.warpAffine(map_y, sub, box, flags=flags, borderMode=cv2.BORDER_REPLICATE)
    fine = split_grain(top, noise)  # moved whole, not interpolated: resampling would smooth it
    smooth = top - fine if fine is not None else top
    moved = cv2.remap(smooth, mx, my, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    if fine is not None:
        moved += cv2.remap(fine, mx, my, cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE)
    top[by0:by1, bx0:bx1] = moved
    return alpha, top


def _warp_box(flow: np.ndarray, to_grid: np.ndarray, to_crop: np.ndarray, grid: int,
              size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, int, int, int]] | None:
    """Where a shape warp moves pixels of a (w, h) = ``size`` frame region, and from where.

    ``flow`` is the retouch's float32 (g, g, 2) crop-pixel flow, ``to_grid`` maps region pixels to
    the (grid, grid) map, ``to_crop`` frame pixels to crop pixels. Returns the float32 (grid, grid)
    remap coordinates (region pixels: the grid's affine position plus the flow turned into frame
    pixels), the (2, 3) matrix mapping the box's pixels onto the grid, and the region box
    (x0, y0, x1, y1) where the warp moves anything; None where it moves nothing. Shared by the
    CPU and GPU composites, which resample the maps onto the box and remap with them.
    """
    w, h = size
    flow = cv2.resize(flow, (grid, grid), interpolation=cv2.INTER_LINEAR)
    moving = (flow[..., 0] != 0) | (flow[..., 1] != 0)
    if not moving.any():
        return None
    # Region coordinates of every grid cell, plus the flow turned into frame pixels.
    from_grid = cv2.invertAffineTransform(to_grid).astype(np.float32)
    cells = np.arange(grid, dtype=np.float32)
    lin = np.linalg.inv(to_crop[:, :2]).astype(np.float32)
    fx, fy = flow[..., 0], flow[..., 1]
    map_x = from_grid[0, 0] * cells[None, :] + from_grid[0, 1] * cells[:, None] + from_grid[0, 2] \
        + fx * lin[0, 0] + fy * lin[0, 1]
    map_y = from_grid[1, 0] * cells[None, :] + from_grid[1, 1] * cells[:, None] + from_grid[1, 2] \
        + fx * lin[1, 0] + fy * lin[1, 1]
    # Only the region box where the warp moves pixels is resampled; elsewhere it is the identity.
    ys, xs = np.nonzero(moving.any(axis=1))[0], np.nonzero(moving.any(axis=0))[0]
    corners = np.array([[xs[0] - 1, ys[0] - 1], [xs[-1] + 1, ys[0] - 1], [xs[0] - 1, ys[-1] + 1],
                        [xs[-1] + 1, ys[-1] + 1]], np.float64) @ from_grid[:, :2].T + from_grid[:, 2]
    bx0, by0 = (max(0, int(np.floor(v)) - 1) for v in corners.min(axis=0))
    bx1, by1 = (min(n, int(np.ceil(v)) + 2) for v, n in zip(corners.max(axis=0), (w, h)))
    if bx1 <= bx0 or by1 <= by0:
        return None
    sub = to_grid.copy()
    sub[:, 2] += to_grid[:, :2] @ np.array([bx0, by0], np.float64)
    return map_x, map_y, sub, (bx0, by0, bx1, by1)

