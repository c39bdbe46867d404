"""A face's glasses frames, found without a model, and put back over an edited face.

A pair of glasses is told by its bridge: a thin structure darker than the skin around it (a grey
closing's relative depth, as ``deage.edit.makeup.creases`` measures creases) running across the
nose between the eyes, which no face has of its own (the brows stop either side of it, a frown's
lines run up and down). What joins that bridge near the eyes (the rims, a browline, the arms'
start towards the temples) is the frame.

A thin metal frame, silver or gold, is hardly darker than the skin, sometimes lighter; but it is
not skin-coloured: where the grey search is not sure, a frame is looked for again by its colour
(``TINT``: a thin structure whose chroma stands out from the skin's either way, in two opponent
channels), the grey depth joining it. Skin's chroma varies little across the nasal root on any
skin tone, so no bare face measured has such a bridge. Rimless glasses and clear plastic
frames (neither darker nor tinted) are still not found.

A face known to wear glasses (two of its track's five best-seen frames show them:
``measure_tracks``) is searched again with lower thresholds (``WORN``) where the ordinary search
is not sure of them: the bridge of a small, blurred or noisy face reads fainter (a bridge two
pixels wide or less is averaged with the skin around it), and a track then keeps its frames where
a frame-by-frame search would lose them now and then. A track whose best frames show none is not
searched at all.

A frame is put over an edited face as the plate's darkening: the edited pixels are multiplied,
per channel, by the plate's ratio to its own closing there (1 on skin, the frame's darkness and
tint on it), so its anti-aliased edges and its colour come with it and nothing of the plate's
skin does. A frame found by its colour (a silver or gold frame is not a shade) is the plate's
own pixels where they stand out from the plate's closing and opening. The makeup de-ager keeps
its warp and its colour change off the frames found (``deage.edit.makeup.editor``), so it
neither bends nor recolours them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import cv2
import numpy as np

from deage.face.align import align_face
from deage.face.best_views import TRACK_SAMPLES, best_frames
from deage.face.masks import FaceFrame, disk, padded_box, smoothstep
from deage.types import Image, Mask, Points

RASTER = 256
"""Pixels across the crop that frames are searched at."""
RADIUS = 0.05
"""Closing radius (eye distances): structures up to a tenth of the eye distance wide (rims and
bridges are 0.02-0.08)."""
DEPTH = (0.12, 0.22)
"""Relative depth below the closing: a frame's pixels reach the first, its bridge the second (the
rims of glasses measure 0.25-0.6, a young face's creases under 0.1, an old face's 0.05-0.25)."""
BRIDGE = (0.15, (-0.1, 0.4))
"""Where the bridge is looked for: this far either side of the midline between the inner eye
corners, and between these heights above them (eye distances)."""
SPAN = (0.5, 0.8)
"""Fraction of the bridge window's width that a structure crosses over which glasses go from
absent to present (brows and creases cross none of it on the 12 bare faces measured, a pair of
glasses all of it)."""
REACH = (0.8, 0.55)
"""Half-width and half-height (eye distances) of the ellipse round each eye that a frame is
followed within."""
FRAME_DEPTH = 0.5
"""Relative depth from which a structure is frame wherever it lies: dark frames measure 0.6-0.9,
an older face's deepest lines under the eyes about 0.3-0.45 (Grace Hopper)."""
LENS = (0.45, 0.07)
"""Half-width of a lens (eye distances) and thickness of its lower rim: below each eye, across
that width, only the lowest structure (and this far above it) is frame."""
WORN = ((0.1, 0.11), (0.3, 0.55))
"""``DEPTH`` and ``SPAN`` for a face known to wear glasses: Grace Hopper's thin bridge on 16
degraded copies of her portrait (scaled to 30-100 %, turned, blurred, noisy, JPEG 20-80) was
found on 53 % of them with ``DEPTH`` and ``SPAN``, on 93 % with these."""
TRACK_WORN = 0.3
"""Share of a track's sampled frames with glasses from which the track wears them: two of five
(the search misses glasses on soft frames far more often than it finds them on a bare face)."""
TINT = (0.04, 0.07)
"""Chroma standing out from its closing and opening (``_tint``, 0..1 units of the opponent
channels R - G and (R + G) / 2 - B): a tinted frame's pixels reach the first, its bridge the
second (thin silver, gunmetal and gold frames drawn on five faces in colour cross over half the
bridge's window above 0.07 on all 15, above 0.1 on 13; on the 17 bare test faces nothing crosses
more than 0.08 of it above 0.05). In the search by colour, the grey depth joins in at the same
scale (``DEPTH`` times ``TINT[1] / DEPTH[1]``)."""
TINT_WORN = (0.03, 0.05)
"""``TINT`` for a face known to wear glasses (``WORN``'s match): a thin frame's chroma is the first
thing a soft, small or heavily compressed frame loses (4:2:0 video halves it)."""
TINT_SURE = 0.15
"""Chroma from which a tinted structure is frame wherever it lies (``FRAME_DEPTH``'s match)."""
TEXTURE = (0.04, 0.1)
"""Relative depth over which a pixel goes from skin texture (not carried over) to frame."""


@dataclass(frozen=True)
class Glasses:
    """A face's glasses.

    Attributes:
        present: 0..1, how surely the face wears glasses with a dark bridge.
        frames: float32 (size, size) in [0, 1] on the crop's raster: the frames found, times
            ``present`` (zeros when none).
        size: the raster's size.
        by_colour: found by the search by colour (``TINT``): the frames may be lighter than
            the skin (silver, gold), not only darker.
    """

    present: float
    frames: Mask
    size: int
    by_colour: bool = False

    @classmethod
    def absent(cls, size: int) -> "Glasses":
        """No glasses, on a ``size`` raster."""
        return cls(0.0, np.zeros((size, size), np.float32), size)


def find_glasses(image: Image, landmarks: Points, size: int = RASTER, small: np.ndarray | None = None,
                 worn: bool = False) -> Glasses:
    """The glasses frames of the face in ``image`` (RGB uint8 (S, S, 3), an aligned crop) whose
    68 ``landmarks`` are in its pixels, on a ``size`` raster of it (``small``: that raster
    already made, float32 RGB [0, 1] (size, size, 3), the crop resized with ``INTER_AREA``).

    Searches by darkness (``DEPTH``), then, where that is not sure of them, by colour (``TINT``:
    thin metal frames); ``worn``: the face is known to wear glasses: where neither is sure, both
    are made again with lower thresholds (``WORN``, ``TINT_WORN``; not first: on a sharp face
    those let an old face's creases beside the nose join the frames). The surest is taken."""
    raster = _Raster.of(image, landmarks, size, small)
    dark = raster.depth >= FRAME_DEPTH
    found = _find(raster, raster.depth, DEPTH, SPAN, dark)
    if found.present >= 1.0:
        return found
    searches = [(True, TINT, SPAN)]
    if worn:
        searches += [(False, *WORN), (True, TINT_WORN, WORN[1])]
    for by_colour, depths, spans in searches:
        if not by_colour:
            other = _find(raster, raster.depth, depths, spans, dark)
        elif raster.bridge_lines > depths[1]:
            other = _find(raster, raster.lines, depths, spans, raster.tinted, True)
        else:
            continue  # nothing in the bridge's window stands out as a bridge would (most bare faces)
        if other.present > found.present:
            found = other
        if found.present >= 1.0:
            break
    return found


@dataclass(frozen=True)
class _Raster:
    """What a search measures on a face's raster whatever its thresholds (every search of a face
    shares it): the landmarks and the face's frame in its pixels, the closing radius
    (``RADIUS``), the relative depth below a grey closing, the raster itself (for ``tint``), the
    pixel grid, each pixel's position across the face from the bridge's middle (eye distances),
    where a frame is followed (the eyes' reach, not the eyes) and the bridge's window."""

    lm: np.ndarray
    frame: FaceFrame
    radius: int
    depth: np.ndarray
    small: np.ndarray
    xs: np.ndarray
    ys: np.ndarray
    across: np.ndarray
    within: np.ndarray
    bridge: np.ndarray

    @classmethod
    def of(cls, image: Image, landmarks: Points, size: int, small: np.ndarray | None) -> "_Raster":
        """The raster of ``find_glasses``'s arguments."""
        k = size / float(image.shape[0])
        if small is None:
            small = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32) / np.float32(255.0)
        lm = np.asarray(landmarks, np.float64) * k
        frame = FaceFrame.from_landmarks(lm)
        d = frame.eye_distance
        radius = max(1, int(round(RADIUS * d)))
        depth = _depth(small @ np.float32([0.299, 0.587, 0.114]), radius)
        ys, xs = np.mgrid[:size, :size].astype(np.float32)
        mid = 0.5 * (lm[39] + lm[42])
        across = _along(xs, ys, mid, frame.x_axis) / np.float32(d)
        up = _along(xs, ys, mid, frame.up) / np.float32(d)
        reach = np.zeros((size, size), np.uint8)
        eyes = np.zeros((size, size), np.uint8)
        angle = float(np.degrees(np.arctan2(frame.x_axis[1], frame.x_axis[0])))
        for idx in (slice(36, 42), slice(42, 48)):
            centre = lm[idx].mean(0) - frame.up * 0.05 * d
            cv2.ellipse(reach, (int(round(centre[0])), int(round(centre[1]))),
                        (int(round(REACH[0] * d)), int(round(REACH[1] * d))), angle, 0, 360, 1, -1)
            cv2.fillPoly(eyes, [np.round(lm[idx]).astype(np.int32)], 1)
        # The eyes with their lash lines are the face's own.
        eyes = cv2.dilate(eyes, disk(max(1, int(round(0.06 * d)))))
        half, (low, high) = BRIDGE
        bridge = (np.abs(across) < half) & (up > low) & (up < high)
        return cls(lm, frame, radius, depth, small, xs, ys, across, (reach > 0) & (eyes == 0), bridge)

    @cached_property
    def tint(self) -> np.ndarray:
        """float32 (size, size): how far each pixel's chroma stands out from the thin structures'
        surroundings (``_tint``), measured only when a search by colour is made, and only where
        a frame is followed (0 elsewhere)."""
        out = np.zeros(self.depth.shape, np.float32)
        box = padded_box(self.within, 0, 2 * self.radius)
        if box is not None:
            out[box] = _tint(self.small[box], self.radius)
        return out

    @cached_property
    def lines(self) -> np.ndarray:
        """float32 (size, size): what the search by colour measures (``_lines``)."""
        return _lines(self.depth, self.tint)

    @cached_property
    def tinted(self) -> np.ndarray:
        """bool (size, size): the pixels the search by colour takes as frame wherever they lie
        (``FRAME_DEPTH``, ``TINT_SURE``)."""
        return (self.depth >= FRAME_DEPTH) | (self.tint >= TINT_SURE)

    @cached_property
    def bridge_lines(self) -> float:
        """The search by colour's largest line strength in the bridge's window (the chroma
        there, or the grey depth at the chroma's scale): no bridge is found by colour with a
        ``TINT`` threshold at or above it. The chroma is measured on the window alone (the same
        values as ``tint``'s there), so a bare face costs a fraction of a millisecond."""
        window = self.bridge & self.within
        box = padded_box(window, 0, 2 * self.radius)
        if box is None:
            return 0.0
        return float(_lines(self.depth[box], _tint(self.small[box], self.radius))[window[box]].max())


def _find(raster: _Raster, depth: np.ndarray, depths: tuple[float, float], span_range: tuple[float, float],
          sure: np.ndarray, by_colour: bool = False) -> Glasses:
    """``find_glasses`` on ``raster``: thin structures measured by ``depth`` (float32 (size,
    size): the grey depth, or the search by colour's lines), with these ``DEPTH`` and ``SPAN``;
    ``sure``: bool, the pixels that are frame wherever they lie (``FRAME_DEPTH``); ``by_colour``:
    recorded on the result."""
    frame_depth, bridge_depth = depths
    lm, frame, across, within, bridge = raster.lm, raster.frame, raster.across, raster.within, raster.bridge
    size, d, half = depth.shape[0], frame.eye_distance, BRIDGE[0]
    # The pixels in the bridge's window deep enough to be a bridge: no structure among them can
    # cross more of it than all of them do (a bare face's end here).
    core = bridge & (depth > bridge_depth) & within
    if not core.any() or float(np.ptp(across[core])) / (2.0 * half) <= span_range[0]:
        return Glasses.absent(size)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(((depth > frame_depth) & within).astype(np.uint8),
                                                                connectivity=8)
    # How far across the window each structure's own bridge pixels reach.
    at, across_core = labels[core], across[core]
    spans = {int(i): float(np.ptp(across_core[at == i])) / (2.0 * half) for i in np.unique(at)}
    framed = [i for i, span in spans.items() if span > span_range[0]]
    present = float(smoothstep(np.float32(max(spans.values())), *span_range))
    if present <= 0:
        return Glasses.absent(size)
    # A rim the bridge does not join (an eye's lash line in between): one that goes round an eye
    # (which a structure whose box's diagonal is shorter than a lens's width cannot).
    for i in range(1, count):
        x0, y0, w, h = (int(v) for v in stats[i, :4])
        if i in spans or np.hypot(w - 1, h - 1) <= LENS[0] * d:
            continue
        rows, cols = np.nonzero(labels[y0:y0 + h, x0:x0 + w] == i)
        points = (cols + x0, rows + y0)
        if any(_rings(points, lm[idx].mean(0), frame) for idx in (slice(36, 42), slice(42, 48))):
            framed.append(i)
    frames = np.isin(labels, framed) if framed else np.zeros((size, size), bool)
    for idx in (slice(36, 42), slice(42, 48)):
        frames &= ~(_inside_lower_rim(frames, lm[idx].mean(0), frame, raster.xs, raster.ys) & ~sure)
    # A pixel's margin: ``wear`` leaves the skin beside a frame as it is anyway.
    soft = cv2.dilate(frames.astype(np.float32), disk(2))
    soft = cv2.GaussianBlur(soft, (0, 0), 0.7)
    return Glasses(present, (soft * np.float32(present)).astype(np.float32), size, by_colour)


def measure_tracks(analysis: Any, track_ids: Sequence[int], read: Callable[[int], Image],
                   samples: int = TRACK_SAMPLES) -> dict[int, float]:
    """Fill ``analysis.glasses`` for ``track_ids`` that lack it and return it: the share (0..1)
    of up to ``samples`` of a track's best-seen frames (``best_views.best_frames``) on which
    ``find_glasses`` finds glasses (``present`` over 0.5; the FFHQ crop, 512 pixels). Editors
    take a track at ``TRACK_WORN`` or more as wearing glasses and one at 0 as wearing none
    (``wears_glasses``). ``read``: frame index -> that frame, RGB uint8 (H, W, 3); the frames are
    read in ascending order, each once for all the tracks it shows."""
    shares = analysis.glasses
    wanted: dict[int, list[int]] = {}  # frame index -> the tracks to look at on it
    for track_id in (t for t in track_ids if t not in shares):
        for index in best_frames(analysis.track(track_id), samples):
            wanted.setdefault(index, []).append(track_id)
    found: dict[int, list[bool]] = {}
    for index in sorted(wanted):
        frame = read(index)
        for track_id in wanted[index]:
            aligned = align_face(frame, analysis.track(track_id).faces[index], "ffhq", 512)
            found.setdefault(track_id, []).append(find_glasses(aligned.image, aligned.landmarks).present > 0.5)
    for track_id, seen in found.items():
        shares[track_id] = float(np.mean(seen))
    return shares


def wears_glasses(share: float | None) -> bool | None:
    """A track's ``wears_glasses`` from its share of frames with glasses (``measure_tracks``):
    True from ``TRACK_WORN``, False at 0, None (look on each frame) in between or unmeasured."""
    if share is None or 0.0 < share < TRACK_WORN:
        return None
    return share >= TRACK_WORN


def wear(edited: Image, plate: Image, where: Mask, eye_distance: float, by_colour: bool = False) -> Image:
    """``edited`` with the plate's frames over it, within ``where`` (float32 (S, S) in [0, 1],
    e.g. ``Glasses.frames`` resized), skin texture left out (``TEXTURE``).

    A dark frame: each channel multiplied by the plate's ratio to its own grey closing (``RADIUS``
    of ``eye_distance``, crop pixels), as far as it is darker than that. ``by_colour`` (frames
    found by colour, ``Glasses.by_colour``: silver, gold): the plate's own pixels, as far as they
    stand out from its closing and opening (darker, lighter or tinted). A light frame is not
    a shade over the skin behind it: the plate's ratio to its opening, put on a new face's light
    skin where the frame crossed the old face's dark brows, lit it up white.

    ``edited``, ``plate``: RGB uint8 (S, S, 3), the same crop. Returns RGB uint8 (S, S, 3);
    ``edited`` itself when ``where`` is empty."""
    r = max(1, int(round(RADIUS * eye_distance)))
    box = padded_box(where, 1e-3, 2 * r)
    if box is None:
        return edited
    part = plate[box].astype(np.float32) + np.float32(4.0)
    closed = cv2.morphologyEx(part, cv2.MORPH_CLOSE, disk(r))
    darker = 1.0 - np.minimum(part.mean(axis=2) / closed.mean(axis=2), 1.0)
    base = edited[box].astype(np.float32)
    out = edited.copy()
    if not by_colour:
        weight = where[box] * smoothstep(darker, *TEXTURE)
        gain = 1.0 + weight[..., None] * (np.minimum(part / closed, 1.0) - 1.0)
        out[box] = np.clip(base * gain + 0.5, 0, 255).astype(np.uint8)
        return out
    opened = cv2.morphologyEx(part, cv2.MORPH_OPEN, disk(r))
    lighter = np.maximum(part.mean(axis=2) / opened.mean(axis=2), 1.0) - 1.0
    ratio = np.minimum(part / closed, 1.0) * np.maximum(part / opened, 1.0)
    tint = ratio.max(axis=2) / ratio.min(axis=2) - 1.0
    weight = where[box] * smoothstep(np.maximum(np.maximum(darker, lighter), tint), *TEXTURE)
    out[box] = np.clip(base + weight[..., None] * (plate[box] - base) + 0.5, 0, 255).astype(np.uint8)
    return out


def _rings(points: tuple[np.ndarray, np.ndarray], eye: np.ndarray, frame: FaceFrame) -> bool:
    """Whether the structure whose pixels are ``points`` (xs, ys) goes round the eye at ``eye``: it
    reaches over most of a lens's width (``LENS``) and both above and below the eye (a brow lies
    above it only, a line under the eye below only, a strand of hair across it is narrow)."""
    xs, ys = points
    d = frame.eye_distance
    across = _along(xs, ys, eye, frame.x_axis) / d
    up = _along(xs, ys, eye, frame.up) / d
    near = np.abs(across) < LENS[0] + 0.1
    if near.sum() < 3:
        return False
    return bool(np.ptp(across[near]) > LENS[0] and up[near].max() > 0.1 and up[near].min() < -0.1)


def _inside_lower_rim(frames: np.ndarray, eye: np.ndarray, frame: FaceFrame, xs: np.ndarray,
                      ys: np.ndarray) -> np.ndarray:
    """bool: what ``frames`` holds below the eye at ``eye`` but above its lowest structure there,
    column by column across the lens (``LENS``): an older face's lines under the eye, which join
    the rim, are not the frame (unless darker than any line, ``FRAME_DEPTH``: a smile's creases
    below a dark rim are the lowest there); nothing of the face lies beyond a lower rim."""
    d = frame.eye_distance
    half, rim = LENS
    across = _along(xs, ys, eye, frame.x_axis) / np.float32(d)
    down = -_along(xs, ys, eye, frame.up) / np.float32(d)
    below = frames & (np.abs(across) < half) & (down > 0.1)
    out = np.zeros_like(frames)
    if not below.any():
        return out
    columns = np.floor((across + half) / 0.04).astype(np.int32)
    lowest = np.full(int(np.ceil(2 * half / 0.04)) + 1, -np.inf, np.float32)
    np.maximum.at(lowest, columns[below], down[below])
    low = lowest[np.clip(columns, 0, lowest.size - 1)]
    out = below & (down < low - rim)
    return out


def _along(xs: np.ndarray, ys: np.ndarray, origin: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """How far pixels (``xs``, ``ys``) lie from ``origin`` along the unit vector ``axis`` (a face
    frame's ``x_axis`` or ``up``), in pixels."""
    return (xs - origin[0]) * axis[0] + (ys - origin[1]) * axis[1]


def _depth(grey: np.ndarray, radius: int) -> np.ndarray:
    """float32: how far below its closing (``radius`` pixels) each pixel of ``grey`` is, relative."""
    surface = cv2.morphologyEx(grey, cv2.MORPH_CLOSE, disk(radius))
    return (np.maximum(surface - grey, 0.0) / np.maximum(surface, np.float32(0.02))).astype(np.float32)


def _lines(depth: np.ndarray, tint: np.ndarray) -> np.ndarray:
    """float32: the search by colour's line strength: the chroma standing out (``_tint``), or the
    grey depth (``_depth``) at the chroma's scale (``DEPTH`` times ``TINT[1] / DEPTH[1]``)."""
    return np.maximum(depth * np.float32(TINT[1] / DEPTH[1]), tint)


def _tint(small: np.ndarray, radius: int) -> np.ndarray:
    """float32: how far each pixel of ``small`` (float32 RGB [0, 1]) stands out, either way, from
    the closing and the opening (``radius`` pixels) of the opponent channels R - G and
    (R + G) / 2 - B, the larger of the two (absolute, 0..1 units)."""
    kernel = disk(radius)
    r, g, b = small[..., 0], small[..., 1], small[..., 2]
    out = None
    for channel in (r - g, np.float32(0.5) * (r + g) - b):
        closed = cv2.morphologyEx(channel, cv2.MORPH_CLOSE, kernel)
        opened = cv2.morphologyEx(channel, cv2.MORPH_OPEN, kernel)
        stands = np.maximum(closed - channel, channel - opened)
        out = stands if out is None else np.maximum(out, stands)
    return out.astype(np.float32)
