"""Helpers the learned editors share: resizing crops, change masks, parameter checks, loading."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from deage.arrays import channel_max
from deage.errors import DeageError, LookError
from deage.types import AlignedFace, Mask


def resize(image: np.ndarray, size: int) -> np.ndarray:
    """Square (S, S, C) or (S, S) array -> (size, size, ...): area when shrinking, cubic when growing."""
    if image.shape[0] == size and image.shape[1] == size:
        return image
    interp = cv2.INTER_AREA if image.shape[0] > size else cv2.INTER_CUBIC
    return cv2.resize(image, (size, size), interpolation=interp)


def check_aligned(aligned: AlignedFace, who: str) -> np.ndarray:
    """The crop of ``aligned`` if it is RGB uint8 (S, S, 3) with S >= 64, else DeageError."""
    img = aligned.image
    if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3 \
            or img.shape[0] != img.shape[1] or img.shape[0] < 64:
        got = f"{img.dtype} {img.shape}" if isinstance(img, np.ndarray) else type(img).__name__
        raise DeageError(f"{who} needs a square RGB uint8 aligned crop of at least 64 px, got {got}")
    return img


def change_mask(delta: np.ndarray, full_at: float = 4.0 / 255.0) -> Mask:
    """Soft mask (float32 (S, S) in [0, 1]) of where an RGB delta (float (S, S, 3), 0..1 units) is visible.

    The largest channel change is blurred (sigma 1% of the side) and mapped to 1 at ``full_at``
    (4 code values) with a smoothstep, so untouched background stays exactly 0.
    """
    size = delta.shape[0]
    mag = channel_max(np.abs(delta)).astype(np.float32)
    mag = cv2.GaussianBlur(mag, (0, 0), max(size * 0.01, 0.5))
    t = np.clip(mag / full_at, 0.0, 1.0)
    return (t * t * (3.0 - 2.0 * t)).astype(np.float32)


def number(data: dict[str, Any], key: str, default: float | None, low: float, high: float, who: str) -> float | None:
    """``data[key]`` as a float in [low, high] (``default`` when absent); LookError otherwise."""
    if key not in data or data[key] is None:
        return default
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
        raise LookError(f"{who} parameter {key} must be a number, got {value!r}")
    if not low <= float(value) <= high:
        raise LookError(f"{who} parameter {key} must be between {low:g} and {high:g}, got {value}")
    return float(value)


def reject_unknown(data: dict[str, Any], known: tuple[str, ...], who: str) -> None:
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise LookError(f"{who} has no parameter(s) {', '.join(unknown)}; known: {', '.join(known)}")


def build_editor(model: str, kind: type, weights_dir: str | Path | None, manifest: Any, device: str,
                options: dict[str, Any]) -> Any:
    """Build the editor of manifest model ``model`` through ``make_backend`` and check its class."""
    from deage.errors import WeightsError
    from deage.face.backends import make_backend

    editor = make_backend(model, weights_dir, manifest=manifest, device=device, **options)
    if not isinstance(editor, kind):
        raise WeightsError(f"manifest model {model!r} is not a {kind.name} editor (backend {type(editor).__name__})")
    return editor
