"""Landmark-driven piecewise-affine (Delaunay mesh) warp between two aligned face crops.

The mesh has a fixed set of control points per face, all derived from its 68 iBUG landmarks:

- the 68 landmarks;
- 10 forehead points above the brows (the landmarks stop at the brows);
- 27 "ring" points around the face (jaw and forehead points pushed out from the nose), so the
  warp eases out beyond the face instead of ending at its contour;
- 16 points on the crop's border, which map border to border.

``shape_offsets`` moves a target's landmarks towards a source's face proportions (not its
expression; ``reshaped``: that far, as the swap does); ``turn``, ``mirror_landmarks`` and
``midline_side`` serve the editor's soft symmetry for a source photo turned further than the
target.

The triangles are one fixed Delaunay triangulation (``scipy.spatial.Delaunay``) of the control
points of a mean face (``MEAN_FACE_512``: eyes open, lips parted), used for every face and frame
(``mesh_triangles``): a triangulation that followed each frame's landmarks would change from frame
to frame and make the warp jump, and one built on a source photo with a broad smile or closed
eyes would have badly shaped triangles there.

The warp is backward: every pixel of the destination crop finds its triangle (rasterised with
OpenCV), and that triangle's affine map gives the source pixel to sample (``cv2.remap``). The map
is continuous across triangle edges, so it is computed on a grid of at most 256 pixels and resized.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np
from scipy.spatial import Delaunay

from deage.errors import DeageError, NoFaceError
from deage.face.masks import FaceFrame
from deage.types import Image, Points

N_LANDMARKS = 68
CLOSING = (np.arange(60, 68), np.arange(36, 42), np.arange(42, 48))
"""The inner lips and each eye's lids: triangles with two corners in one of them are flattened or
turned by a closed mouth or a blink (``unfolded`` leaves them)."""
N_FOREHEAD = 10
N_RING = 27
N_BORDER = 16
N_POINTS = N_LANDMARKS + N_FOREHEAD + N_RING + N_BORDER
FOREHEAD = slice(N_LANDMARKS, N_LANDMARKS + N_FOREHEAD)
"""Index range of the forehead points in ``mesh_points``' output."""

MESH_FOREHEAD = 0.6
"""Height of the mesh's forehead points above the brows, in eye distances."""

RING_SCALE = 1.35
"""Ring points sit this many times further from the nose than the jaw and forehead points."""

MEAN_FACE_512 = np.array([
    [116.4, 245.7], [120.0, 282.3], [124.5, 317.3], [131.4, 351.5], [143.1, 385.5], [166.8, 415.2],
    [193.2, 441.1], [221.0, 463.7], [255.5, 472.1], [290.0, 463.7], [317.8, 441.1], [344.2, 415.2],
    [367.9, 385.5], [379.6, 351.5], [386.5, 317.3], [391.0, 282.3], [394.6, 245.7],
    [145.8, 212.5], [162.4, 199.6], [185.8, 195.7], [210.3, 198.2], [231.6, 208.2],
    [279.4, 208.2], [300.7, 198.2], [325.2, 195.7], [348.6, 199.6], [365.2, 212.5],
    [255.5, 240.2], [255.5, 261.5], [255.5, 285.2], [255.5, 310.2],
    [227.2, 325.8], [240.6, 332.0], [255.5, 337.1], [270.4, 332.0], [283.8, 325.8],
    [171.1, 242.4], [187.2, 237.1], [203.5, 236.9], [219.1, 245.6], [202.4, 248.7], [186.0, 249.6],
    [291.9, 245.6], [307.5, 236.9], [323.8, 237.1], [339.9, 242.4], [325.0, 249.6], [308.6, 248.7],
    [199.6, 369.3], [219.1, 360.7], [241.8, 356.7], [255.5, 359.2], [269.2, 356.7], [291.9, 360.7],
    [311.4, 369.3], [294.3, 391.3], [270.9, 401.7], [255.5, 403.2], [240.1, 401.7], [216.7, 391.3],
    [207.1, 370.3], [242.1, 368.3], [255.5, 369.0], [268.9, 368.3], [303.9, 370.3], [270.2, 382.0],
    [255.5, 384.6], [240.8, 382.0],
], dtype=np.float64)
"""A mean face: the median 68 landmarks (dlib) of 16 real faces in FFHQ-aligned 512 crops
(scikit-image's astronaut, insightface's t1.jpg and the project's test stills), made left-right
symmetric. Eyes open, lips slightly parted: the layout the mesh is triangulated on."""

_MAP_GRID = 256


def check_landmarks(landmarks: Points | None, who: str = "the swap") -> np.ndarray:
    """float64 (68, 2) copy of finite iBUG landmarks.

    Raises:
        NoFaceError: no landmarks, or not 68 finite (x, y) points.
    """
    pts = np.asarray(landmarks, np.float64) if landmarks is not None else np.zeros((0, 2))
    if pts.shape != (N_LANDMARKS, 2) or not np.isfinite(pts).all():
        raise NoFaceError(f"{who} needs 68 finite landmarks on the face, got shape {pts.shape}")
    return pts


def forehead_points(landmarks: Points, height: float = 0.45) -> np.ndarray:
    """10 points above the brows (float64 (10, 2)), in brow order (17..26).

    Each brow point is raised along the face's "up" direction by ``height`` eye distances at the
    middle of the brows, falling to 60 % of that at their outer ends (a forehead is domed).
    """
    pts = check_landmarks(landmarks)
    frame = FaceFrame.from_landmarks(pts)
    t = np.linspace(-1.0, 1.0, N_FOREHEAD)
    lift = height * (0.6 + 0.4 * (1.0 - t**2)) * frame.eye_distance
    return pts[17:27] + np.outer(lift, frame.up)


def mesh_points(landmarks: Points, size: int, forehead: float = MESH_FOREHEAD) -> np.ndarray:
    """Every control point of one face in a ``size`` crop: float64 (``N_POINTS``, 2).

    Order: 68 landmarks, 10 forehead points, 27 ring points (jaw 0..16 then forehead), 16 border
    points (clockwise from the top-left corner). Ring points are kept inside the crop.
    """
    pts = check_landmarks(landmarks)
    top = forehead_points(pts, forehead)
    centre = pts[27:31].mean(0)
    contour = np.vstack([pts[0:17], top])
    ring = centre + RING_SCALE * (contour - centre)
    margin = 0.03 * size
    ring = np.clip(ring, margin, size - 1 - margin)
    return np.vstack([pts, top, ring, border_points(size)])


def border_points(size: int) -> np.ndarray:
    """16 points on the border of a ``size`` crop (float64 (16, 2)), clockwise from the top-left."""
    e = size - 1.0
    q = np.array([0.0, 0.25, 0.5, 0.75]) * e
    top = np.column_stack([q, np.zeros(4)])
    right = np.column_stack([np.full(4, e), q])
    bottom = np.column_stack([e - q, np.full(4, e)])
    left = np.column_stack([np.zeros(4), e - q])
    return np.vstack([top, right, bottom, left])


def mesh_topology(points: np.ndarray) -> np.ndarray:
    """Delaunay triangles (int32 (T, 3) indices into ``points``) of a face's control points."""
    pts = np.asarray(points, np.float64)
    if pts.shape != (N_POINTS, 2):
        raise DeageError(f"mesh_topology needs the {N_POINTS} points of mesh_points, got {pts.shape}")
    return np.ascontiguousarray(Delaunay(pts).simplices, dtype=np.int32)


@functools.lru_cache(maxsize=1)
def mesh_triangles() -> np.ndarray:
    """The mesh every swap uses: the Delaunay triangles of the mean face's control points
    (``MEAN_FACE_512``), int32 (T, 3). A copy, so callers may keep it."""
    return mesh_topology(mesh_points(MEAN_FACE_512, 512))


def triangle_affines(dst: np.ndarray, src: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Per-triangle affine maps from ``dst`` to ``src`` points: float64 (T, 2, 3).

    A triangle that is degenerate in ``dst`` (it covers no pixel) gets the map of its first vertex.
    """
    d = np.asarray(dst, np.float64)[triangles]  # (T, 3, 2)
    s = np.asarray(src, np.float64)[triangles]
    homog = np.concatenate([d, np.ones(d.shape[:2] + (1,))], axis=2)  # (T, 3, 3): rows x, y, 1
    det = np.linalg.det(homog)
    ok = np.abs(det) > 1e-9
    out = np.zeros((len(triangles), 2, 3))
    # A @ [x y 1]^T = s  for the three vertices  ->  A = s^T (homog^T)^-1
    out[ok] = np.einsum("tij,tjk->tik", s[ok].transpose(0, 2, 1), np.linalg.inv(homog[ok].transpose(0, 2, 1)))
    out[~ok, :, 2] = s[~ok, 0]
    return out


def signed_areas(points: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """float64 (T,): twice each triangle's signed area (its sign is its orientation)."""
    p = np.asarray(points, np.float64)
    a, b, c = p[triangles[:, 0]], p[triangles[:, 1]], p[triangles[:, 2]]
    return (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])


def unfolded(dst: np.ndarray, src: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """``dst`` control points (float64 (N, 2)) with no triangle turned inside out against ``src``.

    A target's landmarks can put a point past its neighbours where the source's do not (dlib's
    inner mouth corner outside the outer lips on a mouth open in an "o"); the warp then folds the
    source's skin over itself there. (Not the triangles between the inner lips or within an eye,
    which a closed mouth or a blink flattens or turns: that is the plate's expression.) The
    vertices of a turned triangle are moved towards where the source's configuration puts them
    (its landmarks fitted onto ``dst``'s by a similarity), a twentieth of the way at a time, until
    none is turned; a mesh with none is returned unchanged.
    """
    out = np.asarray(dst, np.float64).copy()
    closing = np.zeros(len(triangles), bool)
    for group in CLOSING:
        closing |= np.isin(triangles, group).sum(axis=1) >= 2
    orientation = np.sign(signed_areas(src, triangles))

    def turned(points: np.ndarray) -> np.ndarray:
        return ~closing & (np.sign(signed_areas(points, triangles)) * orientation < 0)

    bad = turned(out)
    if not bad.any():
        return out
    fit, _ = cv2.estimateAffinePartial2D(np.asarray(src[:N_LANDMARKS], np.float32),
                                         np.asarray(out[:N_LANDMARKS], np.float32))
    if fit is None:
        return out
    model = np.asarray(src, np.float64) @ fit[:, :2].T + fit[:, 2]
    moved = np.zeros(len(out), bool)
    start = out.copy()
    for t in np.linspace(0.05, 1.0, 20):
        moved[np.unique(triangles[bad])] = True
        out[moved] = start[moved] + t * (model[moved] - start[moved])
        bad = turned(out)
        if not bad.any():
            break
    return out


def piecewise_affine_maps(
    dst_points: np.ndarray, src_points: np.ndarray, triangles: np.ndarray, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Backward maps for ``cv2.remap``: for each pixel of a ``size`` destination crop, the source pixel.

    Args:
        dst_points: float (N, 2) control points in destination crop pixels.
        src_points: float (N, 2) the same points in source image pixels.
        triangles: int (T, 3) the mesh (``mesh_topology``).
        size: destination crop side S.

    Returns:
        ``(map_x, map_y)``, float32 (S, S) each.
    """
    grid = min(int(size), _MAP_GRID)
    f = grid / float(size)
    dst_grid = (np.asarray(dst_points, np.float64) + 0.5) * f - 0.5  # cv2.resize pixel-centre convention
    affines = triangle_affines(dst_grid, src_points, triangles)
    labels = np.full((grid, grid), -1, np.int32)
    # Larger triangles first, so where a strong expression folds the mesh the small ones stay on top.
    verts = dst_grid[triangles]
    e1, e2 = verts[:, 1] - verts[:, 0], verts[:, 2] - verts[:, 0]
    area = 0.5 * np.abs(e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0])
    for t in np.argsort(-area):
        poly = np.round(verts[t] * 16.0).astype(np.int32)
        cv2.fillConvexPoly(labels, poly, int(t), lineType=cv2.LINE_8, shift=4)
    # Pixels the rasteriser left out (sub-pixel slivers on the border): nearest labelled value.
    if (labels < 0).any():
        holes = (labels < 0).astype(np.uint8)
        _, idx = cv2.distanceTransformWithLabels(holes, cv2.DIST_L2, 3, labelType=cv2.DIST_LABEL_PIXEL)
        known = labels[holes == 0]
        ys, xs = np.nonzero(holes == 0)
        lookup = np.zeros(idx.max() + 1, np.int32)
        lookup[idx[ys, xs]] = known
        labels = np.where(holes > 0, lookup[idx], labels)
    a = affines.astype(np.float32)[labels]  # (g, g, 2, 3)
    xs = np.arange(grid, dtype=np.float32)[None, :]
    ys = np.arange(grid, dtype=np.float32)[:, None]
    map_x = a[..., 0, 0] * xs + a[..., 0, 1] * ys + a[..., 0, 2]
    map_y = a[..., 1, 0] * xs + a[..., 1, 1] * ys + a[..., 1, 2]
    if grid != size:
        map_x = cv2.resize(map_x, (size, size), interpolation=cv2.INTER_LINEAR)
        map_y = cv2.resize(map_y, (size, size), interpolation=cv2.INTER_LINEAR)
    return map_x, map_y


def warp_mesh(
    source: Image, src_points: np.ndarray, dst_points: np.ndarray, triangles: np.ndarray, size: int
) -> Image:
    """Warp ``source`` (RGB uint8 (H, W, 3)) so its control points land on ``dst_points`` in a ``size`` crop.

    Returns RGB uint8 (size, size, 3); outside the source the border pixels are reflected.
    """
    map_x, map_y = piecewise_affine_maps(dst_points, src_points, triangles, size)
    return cv2.remap(source, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)


def shape_offsets(source: Points, target: Points) -> np.ndarray:
    """How far each of the target's 68 landmarks moves to take the source's face proportions
    (float64 (68, 2), target crop pixels), leaving the target's expression alone.

    Both landmark sets are in aligned crops of the same size (similarity-normalised by the eyes,
    nose and mouth corners). Expression lives mostly in how far the lids, lips and jaw open, so:
    the nose and the eye corners take the source's positions; the lids move with their corners
    (the target's aperture stays); the jaw contour and the brows take the source's sideways
    proportions fully and half of its vertical ones; the mouth stays the target's (moving it too
    changed no dlib identity distance in tests/test_swap.py's 21 pairs: mean margin 0.1376
    against 0.1360 with the mouth's corners moved, at ``shape`` 0.5).
    """
    src = check_landmarks(source)
    tgt = check_landmarks(target)
    delta = src - tgt
    out = np.zeros_like(delta)
    out[27:36] = delta[27:36]
    out[0:27] = delta[0:27] * np.array([1.0, 0.5])
    for first in (36, 42):
        corners = delta[[first, first + 3]]
        out[first:first + 6] = corners.mean(0)
        out[first], out[first + 3] = corners
    # The mouth stays as the target has it (out[48:68] = 0): where it sits and how wide it is are
    # expression (a smile) as much as proportion, and the plate's lips may be kept (mouth "auto").
    return out


def reshaped(source: Points, target: Points, shape: float) -> np.ndarray:
    """The target's 68 landmarks moved ``shape`` (0..1) of the way to the source's face proportions
    (``shape_offsets``), less where the two faces are turned differently (``shape_weight``):
    float64 (68, 2), in the pixels of the crop both sets are in (see ``shape_offsets``). Where the
    swap puts the face's landmarks; ``shape`` 0 gives the target's own."""
    tgt = check_landmarks(target)
    if shape <= 0:
        return tgt.copy()
    src = check_landmarks(source)
    return tgt + float(shape) * shape_weight(src, tgt) * shape_offsets(src, tgt)


def turn(landmarks: Points) -> float:
    """How far a face is turned sideways, from its landmarks: the nose tip's offset from the middle
    of the jaw contour, in half jaw widths (0 frontal, about +-0.5 for a three-quarter view)."""
    pts = check_landmarks(landmarks)
    frame = FaceFrame.from_landmarks(pts)
    mid = 0.5 * (pts[0] + pts[16])
    half = 0.5 * float(np.dot(pts[16] - pts[0], frame.x_axis))
    return float(np.dot(pts[30] - mid, frame.x_axis) / max(half, 1e-6))


def shape_weight(source: Points, target: Points, span: float = 1.0) -> float:
    """1 when two faces are turned alike, falling to 0 when their ``turn`` differs by ``span``:
    landmark offsets between differently turned faces are pose, not proportions."""
    return float(np.clip(1.0 - abs(turn(source) - turn(target)) / span, 0.0, 1.0))


MIRROR_68 = np.array(
    list(range(16, -1, -1)) + list(range(26, 16, -1)) + [27, 28, 29, 30, 35, 34, 33, 32, 31]
    + [45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40]
    + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55, 64, 63, 62, 61, 60, 67, 66, 65]
)
"""Index map of the iBUG 68 landmarks under a left-right flip (point i of the flipped face is
point ``MIRROR_68[i]`` of the original, mirrored)."""


def mirror_landmarks(landmarks: Points, size: int) -> np.ndarray:
    """The 68 landmarks of the face in a horizontally flipped ``size`` crop (float64 (68, 2))."""
    pts = check_landmarks(landmarks)[MIRROR_68].copy()
    pts[:, 0] = size - 1.0 - pts[:, 0]
    return pts


def midline_side(landmarks: Points, size: int, width: float) -> np.ndarray:
    """float32 (size, size): 0 on the image-left of the face's midline (nose bridge to chin), 1 on
    its image-right, ramping over ``width`` pixels; landmarks in the pixels of a ``size`` raster."""
    pts = check_landmarks(landmarks)
    top, chin = pts[27], pts[8]
    along = (chin - top) / max(float(np.linalg.norm(chin - top)), 1e-6)
    normal = np.array([-along[1], along[0]])
    if normal[0] < 0:
        normal = -normal
    xs = np.arange(size, dtype=np.float32)[None, :] - np.float32(top[0])
    ys = np.arange(size, dtype=np.float32)[:, None] - np.float32(top[1])
    dist = xs * np.float32(normal[0]) + ys * np.float32(normal[1])
    return np.clip(dist / np.float32(max(width, 1e-3)) + np.float32(0.5), 0.0, 1.0).astype(np.float32)
