"""OpenCV's image operations re-written on torch tensors (any device), with OpenCV's conventions.

Images here are float32 tensors (C, H, W) (or (H, W) for masks); pixel centres are at integer
coordinates; matrices are (2, 3) float64 numpy arrays like OpenCV's. Each function names the
OpenCV call it stands for and how closely it follows it:

- ``warp_affine`` (``cv2.warpAffine(..., WARP_INVERSE_MAP)``) and ``remap`` (``cv2.remap``):
  ``torch.nn.functional.grid_sample`` with ``align_corners=True``; OpenCV rounds sample positions
  to 1/32 pixel, these do not, so values differ by up to ~1/64 of the local gradient per pixel.
  Borders: ``"constant"`` (0), ``"replicate"``, ``"reflect101"`` (all three OpenCV's meaning).
  Bicubic uses A = -0.75 like OpenCV.
- ``gaussian_blur`` (``cv2.GaussianBlur`` on float32, sigma given): OpenCV's kernel
  (``cv2.getGaussianKernel``, size ``round(8 sigma + 1) | 1``) and BORDER_REFLECT_101: equal to
  float rounding.
- ``pyr_down`` / ``pyr_up`` (``cv2.pyrDown`` / ``cv2.pyrUp``): the same 5-tap kernel and border
  rules (including pyrUp's own rule at the right and bottom edges): equal to float rounding.
- ``resize_linear`` (``cv2.resize`` with INTER_LINEAR): ``interpolate(..., "bilinear",
  align_corners=False)``, OpenCV's pixel-centre convention; equal for upscaling, to float rounding.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F

_PADDING = {"constant": "zeros", "replicate": "border", "reflect101": "reflection"}


def _grid(matrix: np.ndarray, width: int, height: int, src_w: int, src_h: int, device: torch.device) -> torch.Tensor:
    """Normalised sampling grid (1, h, w, 2) for output pixel (x, y) -> source ``matrix @ (x, y, 1)``."""
    m = torch.as_tensor(np.asarray(matrix, np.float64), dtype=torch.float64, device=device)
    ys = torch.arange(height, dtype=torch.float64, device=device)
    xs = torch.arange(width, dtype=torch.float64, device=device)
    sx = m[0, 0] * xs[None, :] + m[0, 1] * ys[:, None] + m[0, 2]
    sy = m[1, 0] * xs[None, :] + m[1, 1] * ys[:, None] + m[1, 2]
    return _normalise(sx, sy, src_w, src_h)


def _normalise(sx: torch.Tensor, sy: torch.Tensor, src_w: int, src_h: int) -> torch.Tensor:
    gx = sx * (2.0 / max(src_w - 1, 1)) - 1.0
    gy = sy * (2.0 / max(src_h - 1, 1)) - 1.0
    return torch.stack([gx, gy], dim=-1).to(torch.float32)[None]


def _batch(image: torch.Tensor) -> tuple[torch.Tensor, bool]:
    if image.dim() == 2:
        return image[None, None], True
    return image[None], False


def _unbatch(out: torch.Tensor, was_mask: bool) -> torch.Tensor:
    return out[0, 0] if was_mask else out[0]


def warp_affine(image: torch.Tensor, inverse: np.ndarray, size: tuple[int, int], *, mode: str = "bilinear",
                border: str = "constant") -> torch.Tensor:
    """``cv2.warpAffine(image, inverse, size, flags=mode | WARP_INVERSE_MAP, borderMode=border)``.

    Args:
        image: float32 (C, H, W) or (H, W).
        inverse: (2, 3) map from output pixels to ``image`` pixels.
        size: output (width, height).
        mode: ``"bilinear"`` or ``"bicubic"``.
        border: ``"constant"`` (0), ``"replicate"`` or ``"reflect101"``.
    """
    x, was_mask = _batch(image)
    h, w = x.shape[-2:]
    grid = _grid(inverse, size[0], size[1], w, h, x.device)
    out = F.grid_sample(x, grid, mode=mode, padding_mode=_PADDING[border], align_corners=True)
    return _unbatch(out, was_mask)


def remap(image: torch.Tensor, map_x: torch.Tensor, map_y: torch.Tensor, *, mode: str = "bicubic",
          border: str = "replicate") -> torch.Tensor:
    """``cv2.remap(image, map_x, map_y, mode, borderMode=border)``; maps are float (h, w) source pixels."""
    x, was_mask = _batch(image)
    h, w = x.shape[-2:]
    grid = _normalise(map_x.to(torch.float64), map_y.to(torch.float64), w, h)
    out = F.grid_sample(x, grid, mode=mode, padding_mode=_PADDING[border], align_corners=True)
    return _unbatch(out, was_mask)


def _gaussian_kernel(sigma: float, device: torch.device) -> torch.Tensor:
    ksize = int(round(sigma * 8 + 1)) | 1  # OpenCV's size for float32 images
    kernel = cv2.getGaussianKernel(ksize, sigma, cv2.CV_64F).ravel()
    return torch.as_tensor(kernel, dtype=torch.float32, device=device)


def _separable(x: torch.Tensor, kernel: torch.Tensor, pad: tuple[int, int, int, int], pad_mode: str) -> torch.Tensor:
    """Separable filter of (N, C, H, W) with ``kernel`` along x then y, padding (left, right, top, bottom)."""
    c = x.shape[1]
    k = kernel.numel()
    x = F.pad(x, pad, mode=pad_mode)
    x = F.conv2d(x, kernel.view(1, 1, 1, k).expand(c, 1, 1, k), groups=c)
    return F.conv2d(x, kernel.view(1, 1, k, 1).expand(c, 1, k, 1), groups=c)


def gaussian_blur(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """``cv2.GaussianBlur(image, (0, 0), sigma)`` (BORDER_REFLECT_101) of float32 (C, H, W) or (H, W)."""
    x, was_mask = _batch(image)
    kernel = _gaussian_kernel(float(sigma), x.device)
    r = kernel.numel() // 2
    h, w = x.shape[-2:]
    if r >= min(h, w):  # reflection needs r < size: blur in float64 numpy instead (tiny images only)
        arr = x[0].permute(1, 2, 0).cpu().numpy()
        out = cv2.GaussianBlur(arr, (0, 0), float(sigma))
        out = torch.as_tensor(out.reshape(h, w, -1), device=x.device).permute(2, 0, 1)[None]
        return _unbatch(out, was_mask)
    return _unbatch(_separable(x, kernel, (r, r, r, r), "reflect"), was_mask)


_PYR = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0


def pyr_down(image: torch.Tensor) -> torch.Tensor:
    """``cv2.pyrDown``: 5-tap Gaussian (BORDER_REFLECT_101), every other pixel; (H, W) -> (ceil(H/2), ceil(W/2))."""
    x, was_mask = _batch(image)
    if min(x.shape[-2:]) < 3:
        raise ValueError(f"pyr_down needs at least 3x3 pixels, got {tuple(x.shape[-2:])}")
    blurred = _separable(x, _PYR.to(x.device), (2, 2, 2, 2), "reflect")
    return _unbatch(blurred[..., ::2, ::2], was_mask)


def pyr_up(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``cv2.pyrUp(image, dstsize=size)`` with size (width, height) in {2w-1, 2w} x {2h-1, 2h}.

    Zeros inserted between pixels, then the 5-tap kernel times 4; the source is extended by
    reflection at the left/top and by replication at the right/bottom, which is OpenCV's rule.
    """
    x, was_mask = _batch(image)
    n, c, h, w = x.shape
    x = torch.cat([x[..., 1:2, :], x, x[..., -1:, :]], dim=-2) if h > 1 else torch.cat([x, x, x], dim=-2)
    x = torch.cat([x[..., 1:2], x, x[..., -1:]], dim=-1) if w > 1 else torch.cat([x, x, x], dim=-1)
    up = torch.zeros((n, c, 2 * (h + 2), 2 * (w + 2)), dtype=x.dtype, device=x.device)
    up[..., ::2, ::2] = x
    kernel = (_PYR * 2.0).to(x.device)  # x2 per axis = x4 overall
    k = kernel.numel()
    up = F.conv2d(up, kernel.view(1, 1, 1, k).expand(c, 1, 1, k), groups=c)
    up = F.conv2d(up, kernel.view(1, 1, k, 1).expand(c, 1, k, 1), groups=c)
    # Source pixel i sits at up[2 i + 2], so the valid convolution's output m is output pixel m.
    return _unbatch(up[..., : size[1], : size[0]], was_mask)


def resize_linear(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``cv2.resize(image, size, interpolation=INTER_LINEAR)``, size (width, height)."""
    x, was_mask = _batch(image)
    out = F.interpolate(x, size=(size[1], size[0]), mode="bilinear", align_corners=False)
    return _unbatch(out, was_mask)


def to_float_chw(image: torch.Tensor) -> torch.Tensor:
    """uint8 (H, W, 3) -> float32 (3, H, W) on 0..255."""
    return image.permute(2, 0, 1).to(torch.float32)


def to_uint8_hwc(image: torch.Tensor) -> torch.Tensor:
    """float32 (3, H, W) on 0..255 -> uint8 (H, W, 3), rounded half up and clipped (OpenCV's saturate_cast
    rounds half to even; the two differ only on exact .5 values)."""
    return (image + 0.5).clamp_(0, 255).to(torch.uint8).permute(1, 2, 0)


__all__ = ["gaussian_blur", "pyr_down", "pyr_up", "remap", "resize_linear", "to_float_chw", "to_uint8_hwc",
           "warp_affine"]
