"""Keep the plate's grain on a retouched face, and give a face drawn from elsewhere the plate's grain.

A retouch that softens skin (crease filling, detail attenuation) also softens the sensor noise or
film grain on the face, so on a noisy plate the face comes out cleaner than the frame around it:
the classic tell of beauty work, which compositors fix by regraining. ``keep_grain`` restores the
frame's own finest detail up to the plate's noise level: in a fine band (finer than ``GRAIN_SIGMA``
frame pixels), the low-amplitude part (within ``GRAIN_CLIP`` noise deviations) of the retouched
region is replaced by the original's. Larger structure (a crease's edges, a pore) keeps what the
retouch did to it; a clean plate (noise a fraction of a level) is left almost exactly as retouched.

A face drawn from elsewhere (a swap's source photo, a learned editor's generated face) has no
grain of the plate to keep: its own is a clean photo's or none, and resampling it into the frame
softens it further. ``regrain`` adds what it lacks: white noise whose covariance is the plate's
(each channel's deviation, and how R, G and B go together: camera noise is partly shared by the
channels, film grain and a monochrome plate's wholly) less the face's own, seeded by the frame's
pixels so a render is the same in any process. The plate's own grain cannot be used there: at
the finest scale it still holds the replaced person's pores, lashes and brows. On a 7-level noisy
plate a swapped face measured 0.5 levels of noise, the frame around it 7.4; regrained, 7.4.

``noise_sigma`` measures the plate's noise: the median absolute response of a kernel blind to flat
areas and linear ramps (Immerkaer 1996), through a median, so edges and texture weigh little. On
the test media: 6.9 levels on a clip with added Gaussian noise of 7, 0.1-0.3 on clean clips,
about 1 on scanned or JPEG photos.
"""

from __future__ import annotations

import zlib

import cv2
import numpy as np

GRAIN_SIGMA = 2.0
"""Gaussian sigma (frame pixels) below which detail counts as grain."""
GRAIN_CLIP = 2.5
"""Fine-band amplitude, in noise deviations, up to which the original's detail is restored."""
MIN_NOISE = 0.75
"""Noise (levels) below which a plate counts as clean and its grain is left alone: what could be
put back is under 2 levels, unseen (clean, denoised or CG plates: the example clip's face region
measures 0.5, its compression and the skin's own texture; visible grain measures 2 and more)."""
NOISE_KERNEL = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
"""Immerkaer's kernel: zero on flat areas and linear ramps, 6 sigma of response to white noise."""
NOISE_SCALE = 1.0 / (0.6745 * 6.0)
"""Median absolute kernel response -> noise sigma (0.6745: a normal's median absolute deviation)."""


def noise_sigma(image: np.ndarray, where: np.ndarray | None = None) -> float:
    """Standard deviation (levels) of the white noise in an RGB float32 / uint8 (H, W, 3) image (its
    green channel: one channel's noise, grey or colour) or a grey (H, W) one: 0 for an image under
    3 pixels a side. With bool (H, W) ``where``, over the pixels it sets only, and NaN (not
    measured) where that leaves fewer than 64 of the pixels sampled."""
    grey = np.asarray(image)
    grey = np.ascontiguousarray(grey[..., 1] if grey.ndim == 3 else grey, dtype=np.float32)
    if min(grey.shape) < 3:
        return 0.0
    response = _responses(grey, where)
    if where is not None and response.size < 64:
        return float("nan")
    return float(np.median(np.abs(response))) * NOISE_SCALE


def _responses(image: np.ndarray, where: np.ndarray | None) -> np.ndarray:
    """``NOISE_KERNEL``'s responses on float32 (H, W[, C]) ``image`` at every 4th pixel (as good
    for a median), where bool (H, W) ``where`` is set when given: float32 (N[, C])."""
    response = cv2.filter2D(image, -1, NOISE_KERNEL, borderType=cv2.BORDER_REFLECT)[1:-1:2, 1:-1:2]
    if where is not None:
        return response[np.asarray(where, bool)[1:-1:2, 1:-1:2]]
    return response.reshape(-1, *image.shape[2:])


def plate_sigma(sigma: float) -> float:
    """A measured noise ``sigma``, 0 below ``MIN_NOISE`` (a clean plate: no grain work)."""
    return sigma if sigma >= MIN_NOISE else 0.0


def plate_noise(image: np.ndarray) -> float:
    """``plate_sigma`` of a frame region's ``noise_sigma``."""
    return plate_sigma(noise_sigma(image))


def split_grain(image: np.ndarray, sigma: float) -> np.ndarray | None:
    """The grain of an RGB float32 (h, w, 3) image: its detail finer than ``GRAIN_SIGMA`` pixels,
    clipped to +-``GRAIN_CLIP * sigma``; None when ``sigma`` is 0. A shape warp moves it by
    whole pixels (interpolating it would smooth it) and the rest of the image interpolated."""
    limit = np.float32(GRAIN_CLIP * sigma)
    if limit <= 0:
        return None
    return np.clip(image - cv2.GaussianBlur(image, (0, 0), GRAIN_SIGMA), -limit, limit)


def keep_grain(top: np.ndarray, base: np.ndarray, sigma: float, amount: float = 1.0) -> np.ndarray:
    """``top`` (the retouched region, float32 (h, w, 3), 0..255) with the grain of ``base`` (the
    same region of the original frame, noise ``sigma`` levels) put back in place of its own
    (``split_grain``), ``amount`` (0..1) of it."""
    if sigma <= 0 or amount <= 0:
        return top
    return top + (split_grain(base, sigma) - split_grain(top, sigma)) * np.float32(amount)


# ------------------------------------------------ grain for faces drawn from elsewhere (regrain)

MATCH_FLOOR = 0.5
"""Noise (levels) below which the grain a face lacks is not added: under half a level, unseen."""
EDGE_CUT = 3.0
"""Kernel responses above this many noise deviations (in any channel) are edges and texture, left
out of the channels' correlation."""


def grain_covariance(image: np.ndarray, where: np.ndarray | None = None) -> np.ndarray:
    """Covariance (float64 (3, 3), levels squared) of the white noise in an RGB float32 / uint8
    (h, w, 3) image, over the pixels where bool (h, w) ``where`` is set (all when None).

    Each channel's deviation is ``noise_sigma``'s median estimate; how the channels' noise goes
    together (camera noise is partly shared by R, G and B, film grain and a monochrome grade
    wholly) is their correlation over the flat pixels (every response within ``EDGE_CUT``
    deviations). All zero for fewer than 64 such pixels."""
    img = np.asarray(image, np.float32)
    if min(img.shape[:2]) < 3:
        return np.zeros((3, 3))
    response = _responses(img, where)
    if len(response) < 64:
        return np.zeros((3, 3))
    spread = np.median(np.abs(response), axis=0) / 0.6745  # per channel, in kernel units
    flat = response[np.all(np.abs(response) <= EDGE_CUT * np.maximum(spread, 1e-6), axis=1)]
    if len(flat) < 64:
        return np.zeros((3, 3))
    with np.errstate(invalid="ignore", divide="ignore"):  # a channel without noise: no correlation
        corr = np.nan_to_num(np.corrcoef(flat.T.astype(np.float64)), nan=0.0)
    np.fill_diagonal(corr, 1.0)
    sigma = spread.astype(np.float64) * NOISE_SCALE * 0.6745  # = noise_sigma of each channel
    return corr * np.outer(sigma, sigma)


def missing_grain(face: np.ndarray, plate: np.ndarray, where: np.ndarray, amount: float = 1.0) -> np.ndarray | None:
    """The grain a face drawn from elsewhere (a swapped or generated face) lacks on this plate:
    the plate's noise covariance less the face's own (``grain_covariance``), as a (3, 3) matrix
    ``L`` such that white noise ``z @ L.T`` has that covariance, times ``amount``; None on a clean
    plate (``plate_sigma``) or when the face already has the plate's grain within
    ``MATCH_FLOOR``.

    Args:
        face: RGB float32 (h, w, 3), 0..255, the face drawn over the frame region ``plate``.
        plate: RGB float32 / uint8 (h, w, 3), 0..255, that region of the frame.
        where: bool (h, w), the face's own pixels (where it covers the plate).
        amount: 0..1 of the missing grain.
    """
    if amount <= 0 or plate_noise(plate) <= 0:  # the green channel's first: a clean plate costs one channel
        return None
    need = grain_covariance(plate) - grain_covariance(face, where)
    values, vectors = np.linalg.eigh((need + need.T) / 2.0)
    values = np.clip(values, 0.0, None)
    if float(np.sqrt(values.max())) < MATCH_FLOOR:
        return None
    return (vectors * np.sqrt(values)) * float(amount)


def regrain(face: np.ndarray, plate: np.ndarray, where: np.ndarray, amount: float = 1.0) -> np.ndarray:
    """``face`` (RGB float32 (h, w, 3), 0..255, drawn over the frame region ``plate``) with the
    grain it lacks added (``grain_noise``): a swapped or generated face is as noisy as the frame
    around it instead of cleaner than it. Returns ``face`` itself when nothing is added."""
    noise = grain_noise(face, plate, where, amount)
    return face if noise is None else face + noise


def grain_noise(face: np.ndarray, plate: np.ndarray, where: np.ndarray, amount: float = 1.0) -> np.ndarray | None:
    """The grain ``regrain`` adds (float32 (h, w, 3), levels), or None: white noise of the
    ``missing_grain`` covariance (the plate's per-channel deviations and correlation, less the
    face's own), drawn from a generator seeded by the plate's pixels (``grain_seed``), so the
    same frame gets the same grain in any process, thread or range, and another frame other
    grain, as film does."""
    shape = missing_grain(face, plate, where, amount)
    if shape is None:
        return None
    z = np.random.default_rng(grain_seed(plate)).standard_normal(face.shape, dtype=np.float32)
    return z @ shape.T.astype(np.float32)


def grain_seed(plate: np.ndarray) -> int:
    """A seed from a frame region's pixels (every 7th row and column, rounded to levels)."""
    sample = np.ascontiguousarray(np.asarray(plate)[::7, ::7])
    if sample.dtype != np.uint8:
        sample = np.clip(np.rint(sample), 0, 255).astype(np.uint8)
    return zlib.crc32(sample.tobytes())
