"""``deage.blend.composite`` on torch tensors: the same steps, the heavy per-pixel work on the GPU.

What runs where: the mask is shaped on the editor's small grid with OpenCV (as the CPU path does,
it is a few hundred pixels across), and the footprint box is computed on the CPU; the per-pixel
work over the frame region runs on ``frame``'s device: warping the mask, the retouch's colour
change, detail gain and shape warp into the frame, the detail filter, the multi-band (Laplacian
pyramid) or feather blend, and the final rounding. Colour matching ("lab", "histogram") and the
Poisson mode run on the CPU functions of ``deage.blend`` (their results are moved back).

Tolerance against the CPU path (tested on torch's CPU device, real faces): max abs difference
<= 2 levels of 255 and mean < 0.5 on the output frame; masks within 1e-3. On a noisy plate a
handful of pixels differ more (6 of 0.9 M at noise 6): where a shape warp moves the grain by whole
pixels, float rounding can pick the neighbour across a half pixel.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from deage.blend.composite import _check, _edge_taper, _flow_pad, _footprint, _grid_matrix, _warp_box
from deage.blend.feather import shape_mask
from deage.blend.grain import GRAIN_CLIP, GRAIN_SIGMA, NOISE_KERNEL, NOISE_SCALE, grain_noise, plate_sigma
from deage.blend.params import REFERENCE_CROP, BlendParams
from deage.blend.pyramid import pyramid_levels
from deage.edit.base import EditResult, Retouch
from deage.face.align import affine_scale
from deage.gpu import ops
from deage.types import AlignedFace


def composite_torch(
    frame: torch.Tensor, aligned: AlignedFace, result: EditResult, blend: BlendParams | None = None
) -> tuple[torch.Tensor, torch.Tensor | None, tuple[int, int, int, int]]:
    """Composite one edited face into ``frame`` (uint8 (H, W, 3) tensor), in place.

    Returns:
        ``(frame, alpha, box)``: the same tensor, the float32 (y1 - y0, x1 - x0) alpha of the
        frame region ``box = (x0, y0, x1, y1)`` it changed (None and an empty box when nothing
        changed). Outside the box, and wherever alpha is 0, the frame is untouched.
    """
    blend = blend or BlendParams()
    height, width = int(frame.shape[0]), int(frame.shape[1])
    _check(np.empty((1, 1, 3), np.uint8), aligned, result)
    device = frame.device
    size = aligned.size
    matrix = np.asarray(aligned.matrix, np.float64)
    scale = affine_scale(matrix)
    retouch = result.retouch
    nothing = (frame, None, (0, 0, 0, 0))

    grid = retouch.delta.shape[0] if retouch is not None else max(64, size // 2)
    k = grid / float(REFERENCE_CROP)
    mask = cv2.resize(np.asarray(result.mask, np.float32), (grid, grid), interpolation=cv2.INTER_AREA)
    mask = shape_mask(mask, blend.erode * k, blend.dilate * k, blend.feather * k)
    mask *= _edge_taper(grid) * np.float32(blend.amount)
    if not mask.any():
        return nothing
    pad = 2
    if retouch is not None and retouch.flow is not None:
        pad += _flow_pad(retouch.flow, matrix)
    x0, y0, x1, y1 = _footprint(mask, _grid_matrix(matrix, size, grid), (height, width), pad)
    if x1 <= x0 or y1 <= y0:
        return nothing
    to_crop = matrix.copy()
    to_crop[:, 2] += matrix[:, :2] @ np.array([x0, y0], np.float64)
    region = (x1 - x0, y1 - y0)
    to_grid = _grid_matrix(to_crop, size, grid)

    base = ops.to_float_chw(frame[y0:y1, x0:x1])
    mask_t = torch.as_tensor(mask, device=device)
    if retouch is not None:
        alpha, top = _apply_retouch(base, retouch, mask_t, to_grid, to_crop, size, scale, blend.grain)
    else:
        alpha = ops.warp_affine(mask_t, to_grid, region, border="constant")
        crop = ops.to_float_chw(torch.as_tensor(result.image, device=device))
        top = ops.warp_affine(crop, to_crop, region, border="replicate")
    alpha = torch.where(alpha < 1.0 / 512.0, torch.zeros_like(alpha), alpha)
    touched = alpha > 0
    if not bool(touched.any()):
        return nothing

    if blend.colour_match != "none":
        top = _colour_match(top, base, alpha, blend.colour_match)
    if retouch is None:  # as the CPU path: a face drawn from elsewhere gets the plate's grain
        noise = grain_noise(_numpy(top), _numpy(base), (alpha >= 0.5).cpu().numpy(), blend.grain)
        if noise is not None:
            top = top + _tensor(noise, device)
    if blend.mode == "poisson":
        mixed = _poisson(base, top, alpha, touched)
    elif blend.mode == "multiband":
        transition = max(blend.feather, 4.0) * size / REFERENCE_CROP / max(scale, 1e-6)
        mixed = _multiband(base, top, alpha, pyramid_levels(y1 - y0, x1 - x0, transition))
        mixed = base + (mixed - base) * torch.clamp(alpha * 16.0, 0.0, 1.0)
    else:
        mixed = base + (top - base) * alpha
    out = ops.to_uint8_hwc(mixed)
    target = frame[y0:y1, x0:x1]
    target.copy_(torch.where(touched[..., None], out, target))
    return frame, alpha, (x0, y0, x1, y1)


def _apply_retouch(base: torch.Tensor, retouch: Retouch, mask: torch.Tensor, to_grid: np.ndarray,
                   to_crop: np.ndarray, size: int, scale: float, grain: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """``deage.blend.composite._apply_retouch`` on tensors: base float32 (3, h, w) on 0..255."""
    device = base.device
    h, w = base.shape[-2:]
    grid = retouch.delta.shape[0]
    alpha = ops.warp_affine(mask, to_grid, (w, h), border="constant")
    delta = torch.as_tensor(np.ascontiguousarray(retouch.delta.transpose(2, 0, 1)), device=device) * 255.0
    top = base + ops.warp_affine(delta, to_grid, (w, h), border="constant")
    if retouch.detail_gain is not None:
        gain_grid = cv2.resize(retouch.detail_gain, (grid, grid), interpolation=cv2.INTER_LINEAR)
        gain = ops.warp_affine(torch.as_tensor(gain_grid, device=device), to_grid, (w, h), border="constant")
        sigma = max(retouch.detail_sigma / max(scale, 1e-6), 0.3)
        top = top + (base - ops.gaussian_blur(base, sigma)) * gain[None]
    limit = GRAIN_CLIP * plate_sigma(_noise_sigma(base))  # deage.blend.grain, on tensors
    if limit > 0 and grain > 0:
        top = top + (_grain(base, limit) - _grain(top, limit)) * grain
    if retouch.flow is None:
        return alpha, top
    warp_box = _warp_box(retouch.flow, to_grid, to_crop, grid, (w, h))
    if warp_box is None:
        return alpha, top
    map_x, map_y, sub, (bx0, by0, bx1, by1) = warp_box
    box = (bx1 - bx0, by1 - by0)
    maps = torch.as_tensor(np.stack([map_x, map_y]), device=device)
    mx, my = ops.warp_affine(maps, sub, box, border="replicate")
    top = top.clone()
    fine = _grain(top, limit) if limit > 0 else None  # moved whole, not interpolated
    smooth = top - fine if fine is not None else top
    moved = ops.remap(smooth, mx, my, mode="bicubic", border="replicate")
    if fine is not None:
        moved = moved + ops.remap(fine, mx, my, mode="nearest", border="replicate")
    top[:, by0:by1, bx0:bx1] = moved
    return alpha, top


def _noise_sigma(image: torch.Tensor) -> float:
    """``deage.blend.grain.noise_sigma`` of a float32 (3, h, w) tensor."""
    if min(image.shape[-2:]) < 3:
        return 0.0
    grey = image[1][None, None]  # the green channel, as deage.blend.grain.noise_sigma
    kernel = torch.as_tensor(NOISE_KERNEL, device=image.device)[None, None]
    response = torch.nn.functional.conv2d(grey, kernel)
    return float(response[..., ::2, ::2].abs().median()) * NOISE_SCALE


def _grain(image: torch.Tensor, limit: float) -> torch.Tensor:
    """``deage.blend.grain.split_grain`` of a float32 (3, h, w) tensor, clipped to +-``limit``."""
    return (image - ops.gaussian_blur(image, GRAIN_SIGMA)).clamp(-limit, limit)


def _multiband(base: torch.Tensor, top: torch.Tensor, alpha: torch.Tensor, levels: int) -> torch.Tensor:
    """``deage.blend.pyramid.multiband_blend`` on tensors (3, h, w) and alpha (h, w)."""
    diff = top - base
    sizes = [tuple(diff.shape[-2:])]
    gauss_d, gauss_a = [diff], [alpha]
    for _ in range(levels):
        if min(gauss_d[-1].shape[-2:]) < 4:
            break
        gauss_d.append(ops.pyr_down(gauss_d[-1]))
        gauss_a.append(ops.pyr_down(gauss_a[-1]))
        sizes.append(tuple(gauss_d[-1].shape[-2:]))
    out = gauss_d[-1] * gauss_a[-1][None]
    for k in range(len(gauss_d) - 2, -1, -1):
        h, w = sizes[k]
        band = gauss_d[k] - ops.pyr_up(gauss_d[k + 1], (w, h))
        out = ops.pyr_up(out, (w, h)) + band * gauss_a[k][None]
    return base + out


def _numpy(image: torch.Tensor) -> np.ndarray:
    return image.permute(1, 2, 0).cpu().numpy()


def _tensor(image: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.as_tensor(np.ascontiguousarray(image, np.float32), device=device).permute(2, 0, 1)


def _colour_match(top: torch.Tensor, base: torch.Tensor, alpha: torch.Tensor, how: str) -> torch.Tensor:
    """``deage.blend.colour`` transfer (on the CPU) of ``top``'s colour to ``base``'s under ``alpha``."""
    from deage.blend.colour import histogram_transfer, lab_transfer

    transfer = lab_transfer if how == "lab" else histogram_transfer
    return _tensor(transfer(_numpy(top), _numpy(base), alpha.cpu().numpy()), top.device)


def _poisson(base: torch.Tensor, top: torch.Tensor, alpha: torch.Tensor, touched: torch.Tensor) -> torch.Tensor:
    """``deage.blend.poisson`` (on the CPU), then the alpha blend, as the CPU path does."""
    from deage.blend.poisson import poisson_blend

    b = _numpy(base)
    seamless = _tensor(poisson_blend(b, _numpy(top), touched.cpu().numpy()), base.device)
    return base + (seamless - base) * alpha


__all__ = ["composite_torch"]
