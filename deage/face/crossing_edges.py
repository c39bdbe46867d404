"""Straight edges of things held in front of the chin: a microphone, a phone, a cup, a pen.

Such a thing comes up from below and runs across the face's outline: part of it lies over the
chin or the mouth, part below. The embedded skin model leaves it out of the skin operations, but
the makeup de-ager's shape warp (jaw lift, lip fullness) moves whatever lies in its reach, and
bent the thing's straight edges by a few pixels, differently on every frame as the jaw moved.
Without an occluder model (``deage.face.learned_masks``) this finds those edges from the picture
alone, and the editor stills the warp around them as it does around an occluder's mask
(``deage.face.learned_masks.still_flow``).

An edge counts when it is straight and long (OpenCV's LSD line segments; collinear pieces are
joined whatever their contrast's sign, as an object's edge turns from darker than the skin to
lighter than a collar where it crosses the jaw), crosses the jaw line round the chin steeply,
reaches well inside the outline with the face's skin beside it there, has something that is not
skin on one side, has contrast, is not a feature's own edge and lies where the warp moves things.
Each test is a ramp, so a near call counts a little. A bare face's own lines (its jaw line and
the landmarks' misses of it, the hair's edge, a collar, creases, lines behind the head) fail one
or more of these, so on a bare face nothing is found and its render is unchanged; strands of
someone else's hair across a chin do count, which only keeps them still.

Only the chin is searched: across the cheeks' sides and the temples, lines behind the head and
glasses' arms meet the outline where the landmarks miss the silhouette, and would come and go
between frames. A thing held beside the jaw without crossing it is still moved by the warp's
reach beyond the outline (0.45 eye distances).
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from deage.face.masks import smoothstep
from deage.types import Mask

CROSSING = (0.04, 0.08)
"""Eye distances a straight edge must run both inside and outside the face's outline: from the
first it starts to count, from the second fully."""
JAW = (4.5, 6.0, 10.0, 11.5)
"""Where on the jaw line (in landmarks, 0-16 from the face's right ear to its left) an edge must
cross it: round the chin (fully between landmarks 6 and 10). Things held to the
face come up from below; across the cheeks' sides and the temples, lines behind the head (a wall's
edge, a shelf) and glasses' arms meet the outline where the landmarks miss the silhouette, and
frame to frame they would come and go."""
DEPTH = (0.12, 0.25)
"""Eye distances an edge must reach inside the outline: a line behind the head that ends at its
silhouette seems to cross the landmarks' outline by as much as the outline misses the silhouette."""
INNER_SKIN = (0.3, 0.6)
"""Skin probability of the more skin-like side of the edge's inner part, on average: a thing in
front of the face has the face's skin beside it; a line behind the head has none."""
CONTRAST = (0.03, 0.06)
"""Mean luminance step (0..1) across the edge, sampled ``SIDE_OFFSET`` eye distances each side."""
SIDE_OFFSET = 0.05
SIDE_SKIN = (0.4, 0.6)
"""Skin probability of the edge's less skin-like side, on average along it: an edge between skin
and skin (a crease, a finger on a cheek) does not count above these."""
FEATURE = (0.2, 0.4)
"""Mean of the features' mask (eyes, brows, lips, nostrils) along an edge: a feature's own edge
does not count above these."""
MOVING = (0.2, 0.6)
"""Largest warp displacement along an edge (crop pixels): where the warp does not move anything
(under its dead zone, ``deage.edit.makeup.shape.DEAD_ZONE``) the edge does not count."""
ANGLE = (0.5, 0.7)
"""sin of the angle at which an edge crosses the outline (30 and about 44 degrees): the face's own
silhouette, which the landmarks' outline follows a little inside or outside, crosses it at a
glancing angle; a thing held in front of the face crosses it more steeply."""
LENGTH = (0.4, 0.65)
"""Eye distances: how long a joined edge must be to count, and to count fully. A bend shows on a
long straight edge; short ones are mostly strands of hair, which a warp may move unseen."""
BARE_SKIN = 0.5
"""Skin probability everywhere along the chin, just inside its outline, above which nothing is
searched for (``_bare_chin``)."""
SEARCH = 0.7
"""Eye distances around the chin's stretch of the jaw line searched for edges: more than an edge
needs to count (``DEPTH`` inside, ``LENGTH`` long)."""
JOIN_ANGLE = 0.1
"""sin of the largest angle between two pieces joined into one edge (about 6 degrees)."""
JOIN_OFFSET = 2.0
"""Raster pixels: how far a piece may lie from the other's line to be joined."""
JOIN_GAP = 0.4
"""Eye distances: the largest gap between joined pieces (at least 3 raster pixels)."""


def crossing_edges(gray: np.ndarray, outline: np.ndarray, skin: Mask, features: Mask,
                   eye_distance: float, moving: Mask | None = None) -> list[tuple[np.ndarray, float]]:
    """The straight edges that cross the face's outline, each with how surely it is one.

    Every test is a ramp, not a threshold (``CROSSING``, ``LENGTH``, ``ANGLE``, ``JAW``, ``DEPTH``,
    ``CONTRAST``, ``SIDE_SKIN``, ``INNER_SKIN``, ``FEATURE``, ``MOVING``), so an edge near a limit
    counts a little, and a render does not switch between frames where it wavers about one.
    Nothing is searched when the skin just inside the chin is skin all along (``_bare_chin``).

    Args:
        gray: float32 (W, W) luminance in [0, 1] of the face's crop at a working raster.
        outline: float64 (K, 2) the face's outline in raster pixels (a closed polygon:
            ``deage.face.masks.face_outline`` scaled to the raster).
        skin: float32 (W, W) skin probability in [0, 1] on the same raster.
        features: float32 (W, W) eyes, brows, lips and nostrils in [0, 1] (``FaceRegions.protect``).
        eye_distance: the eye distance in raster pixels.
        moving: optional float32 (W, W), how far a warp moves each pixel, in crop pixels: an
            edge counts only where the warp moves something (``MOVING``).

    Returns:
        ``(segment, weight)`` pairs: float64 (4,) ``(x0, y0, x1, y1)`` in raster pixels and a
        weight in (0, 1]; empty when nothing crosses.
    """
    size = gray.shape[0]
    chin = np.asarray(outline, np.float64)[int(JAW[0]):int(np.ceil(JAW[3])) + 1]
    if _bare_chin(chin, np.asarray(outline, np.float64).mean(0), skin, eye_distance):
        return []
    # Only edges crossing the chin's stretch of the jaw line count: search a window around it.
    reach = SEARCH * eye_distance
    x0, y0 = np.maximum(np.floor(chin.min(0) - reach), 0).astype(int)
    x1, y1 = np.minimum(np.ceil(chin.max(0) + reach) + 1, size).astype(int)
    if x1 - x0 < 8 or y1 - y0 < 8:
        return []
    pieces = _segments(gray[y0:y1, x0:x1]) + np.array([x0, y0, x0, y0], np.float64)
    if len(pieces) == 0:
        return []
    polygon = np.asarray(outline, np.float32).reshape(-1, 1, 2)
    found = []
    for seg in _join(pieces, eye_distance, LENGTH[0] * eye_distance):
        p, q = seg[:2], seg[2:]
        length = float(np.hypot(*(q - p)))
        if length < LENGTH[0] * eye_distance:
            continue
        along = p + np.linspace(0.0, 1.0, 33)[:, None] * (q - p)
        side = np.array([cv2.pointPolygonTest(polygon, (float(x), float(y)), True) for x, y in along])
        margin = 0.5 * CROSSING[0] * eye_distance
        crossing = min(float((side > margin).mean()), float((side < -margin).mean())) * length / eye_distance
        weight = _ramp(crossing, CROSSING) * _ramp(length / eye_distance, LENGTH)
        if weight <= 0:
            continue
        t = (q - p) / length
        position, angle = _crossing(outline, along, side, t)
        weight *= _ramp(angle, ANGLE) * _ramp(position, JAW[:2]) * (1.0 - _ramp(position, JAW[2:]))
        weight *= _ramp(float(side.max()) / eye_distance, DEPTH)
        if weight <= 0:
            continue
        normal = np.array([-t[1], t[0]]) * SIDE_OFFSET * eye_distance
        samples = along[2:-2]
        step = np.abs(_sample(gray, samples + normal, size) - _sample(gray, samples - normal, size))
        weight *= _ramp(float(step.mean()), CONTRAST)
        skin_a, skin_b = _sample(skin, samples + normal, size), _sample(skin, samples - normal, size)
        sides = np.minimum(skin_a, skin_b)
        weight *= 1.0 - _ramp(float(sides.mean()), SIDE_SKIN)
        inner = side[2:-2] > margin
        weight *= _ramp(float(np.maximum(skin_a, skin_b)[inner].mean()), INNER_SKIN) if inner.any() else 0.0
        weight *= 1.0 - _ramp(float(_sample(features, samples, size).mean()), FEATURE)
        if moving is not None:
            weight *= _ramp(float(_sample(moving, along, size).max()), MOVING)
        if weight > 0:
            found.append((seg, weight))
    return found


def edge_mask(edges: list[tuple[np.ndarray, float]], size: int, thickness: int) -> Mask:
    """float32 (size, size): each edge's weight on its segment (raster pixels), drawn
    ``thickness`` wide; the largest where they meet, 0 elsewhere."""
    out = np.zeros((size, size), np.float32)
    line = np.zeros((size, size), np.float32)
    for seg, weight in edges:
        p, q = np.round(seg[:2] * 16).astype(np.int32), np.round(seg[2:] * 16).astype(np.int32)
        line[:] = 0.0
        cv2.line(line, (int(p[0]), int(p[1])), (int(q[0]), int(q[1])), float(weight), max(1, int(thickness)),
                 cv2.LINE_8, 4)
        np.maximum(out, line, out=out)
    return out


def _bare_chin(chin: np.ndarray, centre: np.ndarray, skin: Mask, eye_distance: float) -> bool:
    """Whether the skin just inside the chin's stretch of the outline (``chin``: its points,
    raster pixels; ``centre``: the face's) is skin all along: then nothing crosses it with a side
    that is not skin, and the search is skipped (most faces: it costs a few milliseconds)."""
    dense = np.vstack([a + np.linspace(0.0, 1.0, 4, endpoint=False)[:, None] * (b - a) for a, b in zip(chin[:-1], chin[1:])])
    inward = centre - dense
    inward *= (DEPTH[0] * eye_distance / np.maximum(np.hypot(*inward.T), 1e-9))[:, None]
    return bool(_sample(skin, dense + inward, skin.shape[0]).min() > BARE_SKIN)


def _crossing(outline: np.ndarray, along: np.ndarray, side: np.ndarray, direction: np.ndarray) -> tuple[float, float]:
    """Where and how the points ``along`` an edge (their signed distances to the outline:
    ``side``) cross the outline: the position on it, in outline points (the jaw line's landmarks
    0-16 come first), and the sine of the angle between ``direction`` (a unit vector) and it."""
    flips = np.flatnonzero(np.sign(side[:-1]) != np.sign(side[1:]))
    at = along[flips[0]] if len(flips) else along[int(np.argmin(np.abs(side)))]
    ring = np.asarray(outline, np.float64)
    starts, ends = ring, np.roll(ring, -1, axis=0)
    sides = ends - starts
    t = np.clip(np.einsum("ij,ij->i", at - starts, sides) / np.maximum(np.einsum("ij,ij->i", sides, sides), 1e-9), 0, 1)
    nearest = int(np.argmin(np.hypot(*(starts + t[:, None] * sides - at).T)))
    tangent = sides[nearest] / max(float(np.hypot(*sides[nearest])), 1e-9)
    return nearest + float(t[nearest]), abs(float(tangent[0] * direction[1] - tangent[1] * direction[0]))


def _ramp(value: float, limits: tuple[float, float]) -> float:
    """0 below ``limits[0]``, 1 above ``limits[1]``, smooth between (``deage.face.masks.smoothstep``)."""
    return float(smoothstep(np.float64(value), *limits))


def _segments(gray: np.ndarray) -> np.ndarray:
    """LSD's line segments of ``gray`` (float in [0, 1]): float64 (N, 4)."""
    image = np.clip(np.asarray(gray, np.float32) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    found = cv2.createLineSegmentDetector().detect(image)[0]
    return np.zeros((0, 4)) if found is None else found.reshape(-1, 4).astype(np.float64)


def _join(pieces: np.ndarray, eye_distance: float, min_length: float = 0.0) -> list[np.ndarray]:
    """Collinear ``pieces`` (N, 4) that follow on from one another joined into single segments,
    whatever the direction each was found in; only those that may be ``min_length`` long (raster
    pixels) or longer."""
    p, q = pieces[:, :2], pieces[:, 2:]
    length = np.hypot(*(q - p).T)
    keep = length >= 3.0
    p, q, length = p[keep], q[keep], length[keep]
    n = len(p)
    if n == 0:
        return []
    t = (q - p) / length[:, None]
    normal = np.stack([-t[:, 1], t[:, 0]], axis=1)
    # every pair (i, j): piece j's ends seen from piece i's start, along and across its line
    rel_p, rel_q = p[None, :, :] - p[:, None, :], q[None, :, :] - p[:, None, :]
    cross = np.abs(t[:, None, 0] * t[None, :, 1] - t[:, None, 1] * t[None, :, 0])
    off = np.maximum(np.abs(np.einsum("ijk,ik->ij", rel_p, normal)), np.abs(np.einsum("ijk,ik->ij", rel_q, normal)))
    a, b = np.einsum("ijk,ik->ij", rel_p, t), np.einsum("ijk,ik->ij", rel_q, t)
    apart = np.maximum(np.minimum(a, b) - length[:, None], -np.maximum(a, b))  # > 0: the gap between them
    gap = max(3.0, JOIN_GAP * eye_distance)
    near = np.triu((cross < JOIN_ANGLE) & (off < JOIN_OFFSET) & (apart < gap), 1)
    count, label = connected_components(csr_matrix(near), directed=False)
    reach = np.bincount(label, weights=length + gap, minlength=count)  # at most this long
    out = []
    for group in np.flatnonzero(reach >= min_length):
        members = np.flatnonzero(label == group)
        if len(members) == 1:
            out.append(np.concatenate([p[members[0]], q[members[0]]]))
            continue
        ends = np.vstack([p[members], q[members]])
        centre = ends.mean(0)
        axis = t[members[int(np.argmax(length[members]))]]
        pos = (ends - centre) @ axis
        out.append(np.concatenate([centre + axis * pos.min(), centre + axis * pos.max()]))
    return out


def _sample(image: np.ndarray, points: np.ndarray, size: int) -> np.ndarray:
    """``image`` at the nearest pixel to each of ``points`` (N, 2), clamped to the raster."""
    xs = np.clip(np.round(points[:, 0]).astype(int), 0, size - 1)
    ys = np.clip(np.round(points[:, 1]).astype(int), 0, size - 1)
    return np.asarray(image)[ys, xs].astype(np.float64)
