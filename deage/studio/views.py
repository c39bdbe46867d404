"""Pictures the studio shows: before/after views, overlays, the scrubber's timeline, timecode.

Plain functions on arrays (no widgets), so they are tested directly. Images are RGB uint8
(H, W, 3); mattes float32 (H, W) in [0, 1]; faces ``deage.types.Face`` in frame pixels.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping
from fractions import Fraction

import cv2
import numpy as np

from deage.arrays import largest_difference
from deage.types import Face, Image, Mask

VIEWS = ("after", "before", "side by side", "wipe", "difference")
"""View modes of the preview."""

SELECTED = (80, 220, 255)  # cyan-ish: faces being edited
OTHER = (170, 170, 170)  # grey: faces left alone
MATTE = (255, 90, 200)  # magenta: the blend matte


# ---- timecode ------------------------------------------------------------------------------------


def timecode(index: int, fps: float | Fraction) -> str:
    """SMPTE timecode ``HH:MM:SS:FF`` of 0-based frame ``index`` at ``fps``.

    NTSC rates (29.97, 59.94) use drop-frame counting, written ``HH:MM:SS;FF``; 23.976 is
    counted at 24 non-drop (as editorial does). Other rates count at their rounded rate.
    """
    rate = float(fps)
    if not math.isfinite(rate) or rate <= 0:
        raise ValueError(f"fps must be positive, got {fps!r}")
    nominal = max(int(round(rate)), 1)
    frame = int(index)
    sep = ":"
    drop_ntsc = abs(rate * 1001 / 1000 - nominal) < 1e-3 and nominal in (30, 60)
    if drop_ntsc:
        drop = nominal // 15  # 2 frame numbers dropped per minute at 30, 4 at 60
        per_10min = nominal * 600 - drop * 9
        per_min = nominal * 60 - drop
        tens, rest = divmod(frame, per_10min)
        frame += drop * 9 * tens + (drop * ((rest - drop) // per_min) if rest > drop else 0)
        sep = ";"
    ff = frame % nominal
    seconds = frame // nominal
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}{sep}{ff:02d}"


# ---- before / after ------------------------------------------------------------------------------


def difference_map(before: Image, after: Image, gain: float = 8.0) -> Image:
    """Heat map of where ``after`` differs from ``before``, over a dimmed grey ``before``.

    The per-pixel difference is the largest absolute channel difference, times ``gain``, coloured
    with the inferno map (black = unchanged, yellow = 255/gain levels or more). Pixels that did not
    change show the grey frame at 35 %, so it is clear where on the face the change is.
    """
    _check_pair(before, after)
    diff = largest_difference(before, after).astype(np.float32)
    level = np.clip(diff * np.float32(gain), 0, 255).astype(np.uint8)
    heat = cv2.cvtColor(cv2.applyColorMap(level, cv2.COLORMAP_INFERNO), cv2.COLOR_BGR2RGB).astype(np.float32)
    grey = cv2.cvtColor(before, cv2.COLOR_RGB2GRAY).astype(np.float32)[..., None] * np.float32(0.35)
    alpha = np.clip(level.astype(np.float32) * np.float32(4.0 / 255.0), 0, 1)[..., None]
    out = grey * (1 - alpha) + heat * alpha
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def wipe(before: Image, after: Image, split: float = 0.5) -> Image:
    """``before`` left of a vertical line at ``split`` (0..1 of the width), ``after`` right of it."""
    _check_pair(before, after)
    width = before.shape[1]
    x = int(round(np.clip(split, 0.0, 1.0) * width))
    out = after.copy()
    out[:, :x] = before[:, :x]
    line = max(1, width // 640)
    out[:, max(x - line, 0):min(x + line, width)] = (255, 255, 255)
    return out


def side_by_side(before: Image, after: Image, gap: int = 4) -> Image:
    """``before`` and ``after`` next to each other with a dark ``gap`` (px) between."""
    _check_pair(before, after)
    spacer = np.full((before.shape[0], gap, 3), 24, np.uint8)
    return np.hstack([before, spacer, after])


def compose(view: str, before: Image, after: Image, *, split: float = 0.5, gain: float = 8.0) -> Image:
    """The picture for view mode ``view`` (one of ``VIEWS``)."""
    if view == "after":
        return after
    if view == "before":
        return before
    if view == "side by side":
        return side_by_side(before, after)
    if view == "wipe":
        return wipe(before, after, split)
    if view == "difference":
        return difference_map(before, after, gain)
    raise ValueError(f"unknown view {view!r}; choose from {list(VIEWS)}")


def _check_pair(before: Image, after: Image) -> None:
    if before.shape != after.shape or before.ndim != 3 or before.dtype != np.uint8 or after.dtype != np.uint8:
        raise ValueError(f"before and after must be RGB uint8 images of one size, got {before.shape} "
                         f"{before.dtype} and {after.shape} {after.dtype}")


# ---- overlays -------------------------------------------------------------------------------------


def draw_overlays(
    image: Image,
    faces: Mapping[int, Face],
    selected: Iterable[int] = (),
    *,
    matte: Mask | None = None,
    landmarks: bool = False,
    boxes: bool = True,
) -> Image:
    """A copy of ``image`` with review overlays.

    Args:
        image: RGB uint8 (H, W, 3).
        faces: track id -> ``Face`` in ``image``'s pixels.
        selected: the track ids being edited (drawn in cyan; the others in grey).
        matte: float32 (H, W) blend alpha to tint (magenta, 45 % at full alpha, with its 50 % contour).
        landmarks: draw the 68 landmarks.
        boxes: draw each face's box and its track id.
    """
    out = image.copy()
    chosen = set(selected)
    height, width = out.shape[:2]
    thick = max(1, int(round(min(height, width) / 360)))
    if matte is not None and matte.any():
        alpha = (np.clip(matte, 0, 1) * np.float32(0.45))[..., None]
        tinted = out.astype(np.float32) * (1 - alpha) + np.array(MATTE, np.float32) * alpha
        out = np.clip(tinted + 0.5, 0, 255).astype(np.uint8)
        edge = (matte >= 0.5).astype(np.uint8)
        contours, _ = cv2.findContours(edge, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, MATTE, thick, cv2.LINE_AA)
    for track_id, face in sorted(faces.items()):
        colour = SELECTED if track_id in chosen else OTHER
        if boxes:
            x0, y0, x1, y1 = (int(round(v)) for v in face.box)
            cv2.rectangle(out, (x0, y0), (x1, y1), colour, thick, cv2.LINE_AA)
            label = f"#{track_id}"
            scale = max(0.5, min(height, width) / 900)
            (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
            ty = max(y0 - 4, th + 4)
            cv2.rectangle(out, (x0, ty - th - 4), (x0 + tw + 6, ty + base - 2), colour, -1)
            cv2.putText(out, label, (x0 + 3, ty - 2), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thick, cv2.LINE_AA)
        if landmarks and face.landmarks is not None:
            radius = max(1, thick)
            for x, y in np.asarray(face.landmarks, np.float32):
                cv2.circle(out, (int(round(x)), int(round(y))), radius, colour, -1, cv2.LINE_AA)
    return out


def face_region(faces: Iterable[Face], shape: tuple[int, ...], margin: float = 0.6,
                aspect: float = 4 / 3) -> tuple[int, int, int, int] | None:
    """Frame box (x0, y0, x1, y1) around ``faces`` with ``margin`` (fraction of the face size) on
    every side, widened to ``aspect`` (w/h) and kept inside the frame; None when there are no faces."""
    boxes = [np.asarray(f.box, np.float64) for f in faces]
    if not boxes:
        return None
    stacked = np.stack(boxes)
    x0, y0 = stacked[:, 0].min(), stacked[:, 1].min()
    x1, y1 = stacked[:, 2].max(), stacked[:, 3].max()
    size = max(x1 - x0, y1 - y0)
    x0, y0, x1, y1 = x0 - margin * size, y0 - margin * size, x1 + margin * size, y1 + margin * size
    w, h = x1 - x0, y1 - y0
    if w / h < aspect:
        grow = (h * aspect - w) / 2
        x0, x1 = x0 - grow, x1 + grow
    else:
        grow = (w / aspect - h) / 2
        y0, y1 = y0 - grow, y1 + grow
    height, width = shape[:2]
    w, h = min(x1 - x0, width), min(y1 - y0, height)
    x0 = float(np.clip(x0, 0, width - w))
    y0 = float(np.clip(y0, 0, height - h))
    return int(round(x0)), int(round(y0)), int(round(x0 + w)), int(round(y0 + h))


def fit_width(image: Image, max_width: int, pixel_aspect: float = 1.0) -> Image:
    """``image`` with square pixels (``pixel_aspect`` = width / height of one of its pixels: an
    anamorphic frame is shown unsqueezed, by shrinking its longer pixel side), then scaled down
    (area filter) to at most ``max_width`` pixels wide; unchanged if square and narrower."""
    height, width = image.shape[:2]
    width_px = width * min(float(pixel_aspect), 1.0)
    height_px = height / max(float(pixel_aspect), 1.0)
    shrink = min(1.0, max_width / width_px)
    size = (max(1, int(round(width_px * shrink))), max(1, int(round(height_px * shrink))))
    if size == (width, height):
        return image
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def encode_jpeg(image: Image, quality: int = 90) -> bytes:
    """JPEG bytes of an RGB uint8 image (for ``ipywidgets.Image(format="jpeg")``)."""
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError(f"could not encode a {image.shape} image as JPEG")
    return data.tobytes()


# ---- timeline --------------------------------------------------------------------------------------


def timeline_html(
    frame_count: int,
    current: int,
    keyed: Iterable[int] = (),
    no_face: Iterable[int] = (),
    marked: Iterable[int] = (),
) -> str:
    """HTML of the bar under the scrubber: the playhead, diamonds at keyed frames, grey where no
    selected face is present, and a brighter diamond at keys of the ``marked`` (focused) parameter."""
    count = max(int(frame_count), 1)

    def pos(i: int) -> float:
        return 100.0 * (i + 0.5) / count

    parts = []
    for start, stop in _runs(sorted(set(no_face))):
        left, width = 100.0 * start / count, 100.0 * (stop - start + 1) / count
        parts.append(f'<div title="no face: frames {start}-{stop}" style="position:absolute;left:{left:.3f}%;'
                     f'width:{width:.3f}%;top:5px;height:6px;background:#5a5a5a"></div>')
    marked_set = set(marked)
    for k in sorted(set(keyed)):
        colour = "#ffd04a" if k in marked_set else "#e0a020"
        parts.append(f'<div class="deage-key" title="key at frame {k}" style="position:absolute;left:{pos(k):.3f}%;'
                     f'top:2px;width:9px;height:9px;margin-left:-4.5px;transform:rotate(45deg);background:{colour};'
                     f'border:1px solid #222"></div>')
    parts.append(f'<div title="frame {current}" style="position:absolute;left:{pos(current):.3f}%;top:0;'
                 f'width:2px;margin-left:-1px;height:16px;background:#e33"></div>')
    return ('<div class="deage-timeline" style="position:relative;height:16px;background:#2b2b2b;'
            'border-radius:3px;margin:0 2px">' + "".join(parts) + "</div>")


def _runs(values: list[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for v in values:
        if runs and v == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], v)
        else:
            runs.append((v, v))
    return runs


def status_html(text: str, level: str = "info") -> str:
    """The status line: ``level`` is ``"info"``, ``"busy"``, ``"ok"`` or ``"error"``."""
    colour = {"info": "#888", "busy": "#d08000", "ok": "#2a8a2a", "error": "#c0392b"}.get(level, "#888")
    return (f'<div class="deage-status deage-status-{level}" style="font-family:monospace;font-size:12px;'
            f'color:{colour};white-space:pre-wrap">{html.escape(text)}</div>')
