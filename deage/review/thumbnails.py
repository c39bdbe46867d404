"""Before / after thumbnails of the frames a reviewer should look at first (the worst ones)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from deage.arrays import largest_difference
from deage.types import Image

# (per-frame metric, how to say it, lowest is worst)
_WORST: tuple[tuple[str, str, bool], ...] = (
    ("identity_distance", "highest identity distance", False),
    ("seam_ratio", "highest seam ratio", False),
    ("flicker_ratio", "highest flicker ratio", False),
    ("faces_missed", "face missed", False),
    ("landmark_jitter", "most landmark jitter", False),
    ("wrinkle_change.face", "least wrinkle reduction", False),
    ("feature_detail", "least feature detail kept", True),
    ("grain_match", "least grain kept", True),
)


@dataclass
class Thumbnail:
    """One frame to look at.

    Attributes:
        frame: source frame index.
        reason: why it was picked, with the value (``"highest seam ratio 1.31"``).
        before, after: RGB uint8 (size, size, 3) crops around the faces, source and render.
        difference: RGB uint8 (size, size, 3) heat map of ``|after - before|`` (x4, inferno).
    """

    frame: int
    reason: str
    before: Image
    after: Image
    difference: Image


def pick_frames(metrics: Any, count: int = 4) -> list[tuple[int, str]]:
    """Up to ``count`` distinct (source frame, reason) pairs, worst first by each metric in turn."""
    picked: dict[int, str] = {}
    for metric, words, lowest in _WORST:
        if len(picked) >= count:
            break
        frame = metrics.worst_frame(metric, lowest=lowest)
        if frame is None or _flat(metrics, metric):
            continue
        value = metrics.value_at(metric, frame)
        if metric == "faces_missed" and value <= 0:
            continue
        if frame in picked:
            picked[frame] += f"; {words}"
            continue
        if metric.startswith("wrinkle"):
            shown = f"{value * 100:+.0f} %"
        elif metric == "faces_missed":
            shown = f"{int(value)}"
        elif metric == "landmark_jitter":
            shown = f"{value * 100:.2f} % of the eye distance"
        else:
            shown = f"{value:.3f}"
        picked[frame] = f"{words} {shown}"
    return sorted(picked.items())


def _flat(metrics: Any, metric: str) -> bool:
    """True when a metric is the same on every frame (nothing stands out, e.g. an unchanged render)."""
    values = np.asarray(metrics.values(metric), np.float64)
    values = values[np.isfinite(values)]
    return values.size == 0 or float(values.max() - values.min()) < 1e-9


def _square(box: np.ndarray, shape: tuple[int, ...], grow: float) -> tuple[int, int, int, int]:
    h, w = shape[:2]
    x0, y0, x1, y1 = (float(v) for v in box)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    half = max(x1 - x0, y1 - y0) * grow / 2
    half = min(half, max(h, w) / 2)
    return (int(max(cx - half, 0)), int(max(cy - half, 0)), int(min(cx + half, w)), int(min(cy + half, h)))


def make_thumbnail(before: Image, after: Image, box: np.ndarray | None, *, size: int = 256,
                   frame: int = 0, reason: str = "", pixel_aspect: float = 1.0) -> Thumbnail:
    """Crop both frames (RGB uint8 (H, W, 3)) around ``box`` (float (4,) x0, y0, x1, y1, grown 1.8x;
    None or NaN: the whole frame) and scale to ``size`` on the long side. Frames of non-square
    pixels (``pixel_aspect`` = pixel width / height) are cropped and shown unsqueezed."""
    aspect = float(pixel_aspect)
    if box is None or not np.all(np.isfinite(box)):
        x0, y0, x1, y1 = 0, 0, before.shape[1], before.shape[0]
    else:
        shown = np.asarray(box, np.float64) * [aspect, 1.0, aspect, 1.0]  # in square (display) pixels
        sx0, y0, sx1, y1 = _square(shown, (before.shape[0], before.shape[1] * aspect), 1.8)
        x0, x1 = int(sx0 / aspect), min(int(np.ceil(sx1 / aspect)), before.shape[1])
    a = before[y0:y1, x0:x1]
    b = after[y0:y1, x0:x1]
    scale = size / max(a.shape[1] * aspect, a.shape[0])
    dsize = (max(1, int(round(a.shape[1] * aspect * scale))), max(1, int(round(a.shape[0] * scale))))
    interp = cv2.INTER_AREA if dsize[0] * dsize[1] < a.shape[0] * a.shape[1] else cv2.INTER_CUBIC
    a, b = cv2.resize(a, dsize, interpolation=interp), cv2.resize(b, dsize, interpolation=interp)
    diff = largest_difference(a, b)
    heat = cv2.applyColorMap(np.clip(diff * 4, 0, 255).astype(np.uint8), cv2.COLORMAP_INFERNO)
    return Thumbnail(frame, reason, a, b, cv2.cvtColor(heat, cv2.COLOR_BGR2RGB))


def worst_frame_thumbnails(metrics: Any, *, count: int = 4, size: int = 256) -> list[Thumbnail]:
    """Thumbnails of the worst frames of ``metrics`` (a ``RenderMetrics``), read from its files.

    Raises:
        MediaError: the render or source can no longer be read.
    """
    from deage.video import open_clip

    picks = pick_frames(metrics, count)
    if not picks:
        return []
    start = metrics.frame_range[0]
    out: list[Thumbnail] = []
    with open_clip(metrics.source, still=metrics.source_still) as src, open_clip(metrics.render) as ren:
        for frame, reason in picks:
            row = int(np.searchsorted(metrics.frames, frame))
            box = metrics.face_boxes[row]
            out.append(make_thumbnail(src.read(frame), ren.read(frame - start), None if not _finite(box) else box,
                                      size=size, frame=frame, reason=reason,
                                      pixel_aspect=float(src.info.pixel_aspect)))
    return out


def _finite(box: np.ndarray) -> bool:
    return bool(all(math.isfinite(float(v)) for v in box))
